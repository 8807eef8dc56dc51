"""Argument checks shared by the built-in models (Haiku-style messages)."""

from typing import Sequence

from zoo import errors


def check_sizes(model: str, field: str, sizes: Sequence[int],
                allow_empty: bool = False) -> None:
  """Raises ConfigError unless `sizes` is a sequence of positive ints."""
  ok = isinstance(sizes, (tuple, list)) and (allow_empty or len(sizes) > 0)
  ok = ok and all(isinstance(s, int) and s > 0 for s in sizes)
  if not ok:
    raise errors.ConfigError(
        f"config.model.{model}.{field} must be positive integers, "
        f"e.g. (512, 512); got {sizes!r}.")


def check_rate(model: str, rate: float) -> None:
  """Raises ConfigError unless 0 <= rate < 1."""
  if not isinstance(rate, (int, float)) or not 0.0 <= rate < 1.0:
    raise errors.ConfigError(
        f"config.model.{model}.dropout_rate must be in [0, 1); got {rate!r}.")
