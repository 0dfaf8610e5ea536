"""Turns an expression string into a list of tokens."""
from dataclasses import dataclass

from .errors import CalcError

OPERATORS = "+-*/%^(),"


@dataclass
class Token:
    kind: str  # "num", "name", "op" or "end"
    value: object
    pos: int


def tokenize(text):
    tokens = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch.isspace():
            i += 1
        elif ch.isdigit():
            j = i
            while j < len(text) and text[j].isdigit():
                j += 1
            if j < len(text) and text[j] == ".":
                j += 1
                while j < len(text) and text[j].isdigit():
                    j += 1
            tokens.append(Token("num", float(text[i:j]), i))
            i = j
        elif ch.isascii() and ch.isalpha():
            j = i
            while j < len(text) and text[j].isascii() and text[j].isalpha():
                j += 1
            tokens.append(Token("name", text[i:j], i))
            i = j
        elif ch in OPERATORS:
            tokens.append(Token("op", ch, i))
            i += 1
        else:
            raise CalcError(f"unexpected character {ch!r} at position {i}")
    tokens.append(Token("end", None, len(text)))
    return tokens
