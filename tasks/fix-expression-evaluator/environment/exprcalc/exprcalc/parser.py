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
        return self.expression()

    def expression(self):
        left = self.term()
        if self.at_op("+-"):
            op = self.advance().value
            right = self.expression()
            return left + right if op == "+" else left - right
        return left

    def term(self):
        left = self.power()
        if self.at_op("*/%"):
            op = self.advance().value
            right = self.term()
            if op == "*":
                return left * right
            if op == "/":
                return left / right
            return left % right
        return left

    def power(self):
        base = self.factor()
        while self.at_op("^"):
            self.advance()
            base = base ** self.factor()
        return base

    def factor(self):
        if self.at_op("+-"):
            op = self.advance().value
            value = self.factor()
            return -value if op == "-" else value
        return self.atom()

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
        if self.at_op(","):
            self.advance()
            args.append(self.expression())
        self.expect_op(")")
        if len(args) < low or (high is not None and len(args) > high):
            raise CalcError(f"wrong number of arguments for {name_tok.value}")
        return fn(args)


def evaluate(text):
    """Evaluate an expression string and return a float."""
    return float(Parser(text).parse())
