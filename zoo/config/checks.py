"""Value checks of single config fields, used by the field table (spec.py).

A check is `check(value) -> None | str`: None if the zoo can use `value`,
else what the field needs ("it must be a positive integer"), which
`resolve.validate` turns into one line naming the field and its fix.
"""

import math
from typing import Any, Callable, Optional

Check = Callable[[Any], Optional[str]]


def _is_int(value: Any) -> bool:
  return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
  return (isinstance(value, (int, float)) and not isinstance(value, bool)
          and math.isfinite(value))


def anything(value: Any) -> Optional[str]:
  del value
  return None


def positive_int(value: Any) -> Optional[str]:
  if not _is_int(value) or value <= 0:
    return "it must be a positive integer"
  return None


def int_at_least(low: int, want: Optional[str] = None) -> Check:
  def check(value: Any) -> Optional[str]:
    if not _is_int(value) or value < low:
      return want or f"it must be an integer >= {low}"
    return None
  return check


def optional_int_at_least(low: int, want: str) -> Check:
  def check(value: Any) -> Optional[str]:
    return None if value is None else int_at_least(low, want)(value)
  return check


def boolean(value: Any) -> Optional[str]:
  return None if isinstance(value, bool) else "it must be True or False"


def name(value: Any) -> Optional[str]:
  if not isinstance(value, str) or not value:
    return "it must be a non-empty name"
  return None


def text(want: str) -> Check:
  def check(value: Any) -> Optional[str]:
    return None if isinstance(value, str) else want
  return check


def number_in(low: float, high: float, low_open: bool = False,
              high_open: bool = False) -> Check:
  """A finite number in [low, high], either end open if asked."""
  def check(value: Any) -> Optional[str]:
    ok = _is_number(value)
    ok = ok and (value < high if high_open else value <= high)
    ok = ok and (value > low if low_open else value >= low)
    if ok:
      return None
    bracket = "(" if low_open else "["
    closing = ")" if high_open else "]"
    return f"it must be a number in {bracket}{low:g}, {high:g}{closing}"
  return check


def one_of(choices: tuple[str, ...]) -> Check:
  def check(value: Any) -> Optional[str]:
    return None if value in choices else f"choose one of {', '.join(choices)}"
  return check


def numbers(value: Any) -> Optional[str]:
  if isinstance(value, (tuple, list)) and all(map(_is_number, value)):
    return None
  return "it must be a tuple of numbers, e.g. '(0.5, 0.5)'"


def names_from(choices: tuple[str, ...], example: str) -> Check:
  def check(value: Any) -> Optional[str]:
    if isinstance(value, (tuple, list)) and all(v in choices for v in value):
      return None
    return (f"it must be a tuple of names from {', '.join(choices)}, e.g. "
            f"{example}, or ()")
  return check


def sequence(value: Any) -> Optional[str]:
  if isinstance(value, (tuple, list)):
    return None
  return "it must be a tuple, e.g. '(\"a\", \"b\")', or ()"


def learning_rates(value: Any) -> Optional[str]:
  ok = isinstance(value, (tuple, list)) and all(
      _is_number(r) and 0 < r <= 1e3 for r in value)
  if not ok:
    return ("it must be a tuple of learning rates in (0, 1000], e.g. "
            "'(1e-3, 3e-4)', or () for optimizer.learning_rate alone")
  if len(set(value)) != len(value):
    return ("each rate may appear once (more members of one rate: raise "
            "ensemble.size)")
  return None
