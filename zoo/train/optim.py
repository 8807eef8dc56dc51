"""Builds the optax optimizer and learning-rate schedule of an
`OptimizerSpec` (config.optimizer).

The gradient goes through, in order: the L2 term (`l2 > 0`), clipping by
global norm (`clip_norm > 0`), then Adam / AdamW / SGD with the schedule.
"""

from typing import Any, Callable, Optional

import haiku as hk
import jax.numpy as jnp
import optax

from zoo import errors
from zoo.config.spec import OptimizerSpec


def warmup_steps(cfg: OptimizerSpec, total_steps: int,
                 steps_per_epoch: Optional[int]) -> int:
  """`cfg.warmup_epochs` in steps: rounded, at least 1 if any warmup is set.

  Raises ConfigError unless the warmup is shorter than the run's
  `total_steps`; ValueError if a warmup is set but `steps_per_epoch` is None.
  """
  epochs = cfg.warmup_epochs
  if not epochs:
    return 0
  if steps_per_epoch is None:
    raise ValueError("optimizer.warmup_epochs > 0 needs steps_per_epoch.")
  steps = max(1, round(epochs * steps_per_epoch))
  if steps >= total_steps:
    raise errors.ConfigError(
        f"config.optimizer.warmup_epochs={epochs!r} is {steps} steps "
        f"({steps_per_epoch} per epoch), not shorter than the run's "
        f"{total_steps} steps. Fix it with a smaller "
        "--config.optimizer.warmup_epochs=<value> or more train.num_epochs.")
  return steps


def learning_rate_schedule(cfg: OptimizerSpec, total_steps: int,
                           steps_per_epoch: Optional[int] = None,
                           peak: Any = None) -> optax.Schedule:
  """`rate(count)`: the learning rate of update number `count` (0-based).

  A linear warmup from 0 to `learning_rate` over `warmup_steps(...)` steps,
  then 'constant' or 'cosine' (decay to 0 at `total_steps`).
  `steps_per_epoch` may be None only without a warmup. `peak`: the rate in
  place of `cfg.learning_rate` (may be a traced array: an ensemble member's).
  """
  lr = cfg.learning_rate if peak is None else peak
  warmup = warmup_steps(cfg, total_steps, steps_per_epoch)
  if cfg.schedule == "cosine":
    if warmup:  # optax.warmup_cosine_decay_schedule(0.0, lr, ...), written
      # out: it tests `lr == 0.0` in Python, which a traced rate cannot.
      return optax.join_schedules(
          [optax.linear_schedule(0.0, lr, warmup),
           optax.cosine_decay_schedule(lr, total_steps - warmup, alpha=0.0)],
          [warmup])
    return optax.cosine_decay_schedule(lr, max(total_steps, 1))
  if cfg.schedule == "constant":
    if warmup:  # Holds `lr` after `warmup` steps.
      return optax.linear_schedule(0.0, lr, warmup)
    return optax.constant_schedule(lr)
  raise ValueError(f"Unknown schedule {cfg.schedule!r}")  # resolve.validate stops it.


def make_optimizer(cfg: OptimizerSpec, total_steps: int,
                   steps_per_epoch: Optional[int] = None,
                   rate_as_state: bool = False
                  ) -> optax.GradientTransformation:
  """Adam / AdamW / SGD with `learning_rate_schedule(cfg, total_steps, ...)`.

  `cfg.l2 > 0` adds `l2 * w` to the gradient of every weight `w` (not the
  biases) before the optimizer: the gradient of the penalty
  `(l2 / 2) * sum(w**2)`, so the optimizer sees the regularised loss.
  `cfg.clip_norm > 0` then scales that gradient (l2 term included) down to a
  global norm of at most `clip_norm`. `steps_per_epoch` converts
  `cfg.warmup_epochs` to steps (None: no warmup allowed).

  `rate_as_state`: the peak rate is optimizer state
  (`optax.inject_hyperparams`, set by `with_learning_rate`), not a compiled
  constant, so ensemble members of several rates share one program. The
  state then has another structure than without it.
  """
  if rate_as_state:
    return optax.inject_hyperparams(
        lambda learning_rate: _chain(cfg, learning_rate_schedule(
            cfg, total_steps, steps_per_epoch, peak=learning_rate)))(
                learning_rate=cfg.learning_rate)
  return _chain(cfg, learning_rate_schedule(cfg, total_steps,
                                            steps_per_epoch))


def with_learning_rate(opt_state: Any, rate: Any) -> Any:
  """`opt_state` of `make_optimizer(..., rate_as_state=True)` with the peak
  learning rate `rate` (a scalar)."""
  hyper = dict(opt_state.hyperparams)
  hyper["learning_rate"] = jnp.asarray(rate, hyper["learning_rate"].dtype)
  return opt_state._replace(hyperparams=hyper)


def _chain(cfg: OptimizerSpec,
           schedule: optax.Schedule) -> optax.GradientTransformation:
  """The l2 term, clipping, then the base optimizer with `schedule`."""
  chain = []
  if cfg.l2 > 0:
    chain.append(optax.add_decayed_weights(cfg.l2, mask=weights_only))
  if cfg.clip_norm > 0:
    chain.append(optax.clip_by_global_norm(cfg.clip_norm))
  optimizer = _base_optimizer(cfg, schedule)
  return optax.chain(*chain, optimizer) if chain else optimizer


def weights_only(params: hk.Params) -> Any:
  """A mask of `params`: True for weight matrices/kernels (`w`) only."""
  return hk.data_structures.map(lambda module, name, value: name == "w",
                                params)


# The base optimizer of each `optimizer.name` (spec.OPTIMIZERS lists the
# names; tests/test_optim.py checks both agree).
BASE_OPTIMIZERS: dict[str, Callable[[OptimizerSpec, optax.Schedule],
                                    optax.GradientTransformation]] = {
    "adam": lambda cfg, lr: optax.adam(lr),
    "adamw": lambda cfg, lr: optax.adamw(lr, weight_decay=cfg.weight_decay),
    "sgd": lambda cfg, lr: optax.sgd(lr, momentum=cfg.momentum or None,
                                     nesterov=cfg.nesterov),
}


def _base_optimizer(cfg: OptimizerSpec,
                    lr: optax.Schedule) -> optax.GradientTransformation:
  return BASE_OPTIMIZERS[cfg.name](cfg, lr)
