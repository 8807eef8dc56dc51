"""Argument checks (Haiku-style messages) and layers shared by the models."""

from typing import Optional, Sequence

import haiku as hk
import jax

from zoo import errors
from zoo.runtime import parallel


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


def check_positive(model: str, field: str, value: int) -> None:
  """Raises ConfigError unless `value` is a positive int."""
  if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
    raise errors.ConfigError(
        f"config.model.{model}.{field} must be a positive integer; "
        f"got {value!r}.")


def check_choice(model: str, field: str, value: str,
                 choices: Sequence[str]) -> None:
  """Raises ConfigError unless `value` is one of `choices`."""
  if value not in choices:
    raise errors.ConfigError(
        f"config.model.{model}.{field} must be one of "
        f"{', '.join(map(repr, choices))}; got {value!r}.")


def check_image(model: str, x: jax.Array, min_size: int = 1) -> None:
  """Raises ConfigError unless `x` is `[batch, h, w, c]`, h, w >= min_size."""
  if x.ndim != 4:
    raise errors.ConfigError(
        f"Model {model!r} needs images [batch, height, width, channels]; got "
        f"inputs of shape {tuple(x.shape)}. For feature vectors (tables) "
        "use --config.model.name=mlp or logistic.")
  if min(x.shape[1:3]) < min_size:
    raise errors.ConfigError(
        f"Model {model!r} needs images of at least {min_size}x{min_size} "
        f"pixels; got inputs of shape {tuple(x.shape)}. For smaller images "
        "use --config.model.name=cnn or resnet20.")


def bound_axis(axis_name: str) -> Optional[str]:
  """`axis_name` if a pmap (or shard_map) over it is being traced, else None.

  JAX has no public "is this axis bound" query; `lax.axis_size` raises
  NameError for an unbound name and, when bound, adds nothing to the jaxpr.
  """
  try:
    jax.lax.axis_size(axis_name)
  except NameError:
    return None
  return axis_name


def batch_norm(name: Optional[str] = None) -> hk.BatchNorm:
  """The zoo's BatchNorm: statistics over the global batch of all devices.

  Inside the pmapped train step (axis `parallel.AXIS` bound) the batch mean
  and variance are averaged over the devices, so N devices train the same
  model as 1 device on the same global batches. Traced without that axis
  (`init_state`'s plain jit, a forward pass outside pmap) it uses the local
  batch, which on one device is the same thing; the parameters and state it
  creates are the same either way. Eval (is_training=False) uses the moving
  averages.
  """
  return hk.BatchNorm(create_scale=True, create_offset=True, decay_rate=0.9,
                      eps=1e-5, cross_replica_axis=bound_axis(parallel.AXIS),
                      name=name)
