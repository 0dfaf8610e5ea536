"""exprcalc - a small arithmetic expression evaluator (see SPEC.md)."""
from .errors import CalcError
from .parser import evaluate

__all__ = ["CalcError", "evaluate"]
