class CalcError(Exception):
    """Raised for any invalid expression."""
