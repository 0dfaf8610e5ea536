import pytest

from exprcalc import CalcError, evaluate


def test_numbers():
    assert evaluate("42") == 42
    assert evaluate("3.25") == 3.25


def test_precedence():
    assert evaluate("2 + 3 * 4") == 14
    assert evaluate("(2 + 3) * 4") == 20


def test_subtraction_is_left_associative():
    assert evaluate("10 - 4 - 3") == 3


def test_power():
    assert evaluate("2 ^ 10") == 1024


def test_functions():
    assert evaluate("abs(-3)") == 3
    assert evaluate("max(2, 7)") == 7


def test_division_by_zero():
    with pytest.raises(CalcError):
        evaluate("1 / 0")


def test_unknown_character():
    with pytest.raises(CalcError):
        evaluate("2 $ 3")
