#!/bin/bash
set -e
cd /app/exprcalc

# tokenizer: accept numbers that start with a dot (".5")
python3 - <<'PY'
path = "exprcalc/tokenizer.py"
src = open(path).read()
old = "        elif ch.isdigit():\n"
new = ("        elif ch.isdigit() or (\n"
       "            ch == \".\" and i + 1 < len(text) and text[i + 1].isdigit()\n"
       "        ):\n")
assert old in src
open(path, "w").write(src.replace(old, new, 1))
PY

cat > exprcalc/parser.py <<'PY'
"""Recursive-descent parser and evaluator (grammar: see SPEC.md)."""
from .errors import CalcError
from .tokenizer import tokenize

FUNCTIONS = {
    "abs": (1, 1, lambda args: abs(args[0])),
    "min": (1, None, min),
    "max": (1, None, max),
}


class Parser:
    def __init__(self, text):
        self.tokens = tokenize(text)
        self.pos = 0

    def peek(self):
        return self.tokens[self.pos]

    def advance(self):
        tok = self.tokens[self.pos]
        self.pos += 1
        return tok

    def at_op(self, ops):
        tok = self.peek()
        return tok.kind == "op" and tok.value in ops

    def expect_op(self, op):
        tok = self.advance()
        if tok.kind != "op" or tok.value != op:
            raise CalcError(f"expected {op!r} at position {tok.pos}")

    def parse(self):
        if self.peek().kind == "end":
            raise CalcError("empty expression")
        value = self.expression()
        tok = self.peek()
        if tok.kind != "end":
            raise CalcError(f"unexpected input at position {tok.pos}")
        return value

    # expression := term (("+" | "-") term)*
    def expression(self):
        value = self.term()
        while self.at_op("+-"):
            op = self.advance().value
            right = self.term()
            value = value + right if op == "+" else value - right
        return value

    # term := factor (("*" | "/" | "%") factor)*
    def term(self):
        value = self.factor()
        while self.at_op("*/%"):
            op = self.advance().value
            right = self.factor()
            if op == "*":
                value = value * right
            elif right == 0:
                raise CalcError("division by zero")
            elif op == "/":
                value = value / right
            else:
                value = value % right
        return value

    # factor := ("+" | "-") factor | power
    def factor(self):
        if self.at_op("+-"):
            op = self.advance().value
            value = self.factor()
            return -value if op == "-" else value
        return self.power()

    # power := atom ("^" factor)?     (right associative via factor -> power)
    def power(self):
        base = self.atom()
        if self.at_op("^"):
            self.advance()
            exponent = self.factor()
            try:
                result = base ** exponent
            except (OverflowError, ZeroDivisionError) as exc:
                raise CalcError(str(exc)) from None
            if isinstance(result, complex):
                raise CalcError("result is not a real number")
            return result
        return base

    def atom(self):
        tok = self.advance()
        if tok.kind == "num":
            return tok.value
        if tok.kind == "op" and tok.value == "(":
            value = self.expression()
            self.expect_op(")")
            return value
        if tok.kind == "name":
            return self.call(tok)
        raise CalcError(f"unexpected token at position {tok.pos}")

    def call(self, name_tok):
        if name_tok.value not in FUNCTIONS:
            raise CalcError(f"unknown function {name_tok.value!r}")
        low, high, fn = FUNCTIONS[name_tok.value]
        self.expect_op("(")
        args = [self.expression()]
        while self.at_op(","):
            self.advance()
            args.append(self.expression())
        self.expect_op(")")
        if len(args) < low or (high is not None and len(args) > high):
            raise CalcError(f"wrong number of arguments for {name_tok.value}")
        return fn(args)


def evaluate(text):
    """Evaluate an expression string and return a float."""
    try:
        return float(Parser(text).parse())
    except OverflowError as exc:
        raise CalcError(str(exc)) from None
PY
python3 -m pytest -q -p no:cacheprovider tests
