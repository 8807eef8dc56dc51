"""Builds the optax optimizer and learning-rate schedule of `config.optimizer`."""

from typing import Any

import haiku as hk
import ml_collections
import optax


def learning_rate_schedule(cfg: ml_collections.ConfigDict,
                           total_steps: int) -> optax.Schedule:
  """`rate(count)`: the learning rate of update number `count` (0-based)."""
  if cfg.schedule == "cosine":
    return optax.cosine_decay_schedule(cfg.learning_rate, max(total_steps, 1))
  if cfg.schedule == "constant":
    return optax.constant_schedule(cfg.learning_rate)
  raise ValueError(f"Unknown schedule {cfg.schedule!r}")  # config_checks.


def make_optimizer(cfg: ml_collections.ConfigDict,
                   total_steps: int) -> optax.GradientTransformation:
  """Adam / AdamW / SGD with `learning_rate_schedule(cfg, total_steps)`.

  `cfg.l2 > 0` adds `l2 * w` to the gradient of every weight `w` (not the
  biases) before the optimizer: the gradient of the penalty
  `(l2 / 2) * sum(w**2)`, so the optimizer sees the regularised loss.
  """
  optimizer = _base_optimizer(cfg, learning_rate_schedule(cfg, total_steps))
  if cfg.l2 > 0:
    return optax.chain(
        optax.add_decayed_weights(cfg.l2, mask=weights_only), optimizer)
  return optimizer


def weights_only(params: hk.Params) -> Any:
  """A mask of `params`: True for weight matrices/kernels (`w`) only."""
  return hk.data_structures.map(lambda module, name, value: name == "w",
                                params)


def _base_optimizer(cfg: ml_collections.ConfigDict,
                    lr: optax.Schedule) -> optax.GradientTransformation:
  if cfg.name == "adam":
    return optax.adam(lr)
  if cfg.name == "adamw":
    return optax.adamw(lr, weight_decay=cfg.weight_decay)
  if cfg.name == "sgd":
    return optax.sgd(lr, momentum=cfg.momentum or None)
  raise ValueError(f"Unknown optimizer {cfg.name!r}")  # config_checks stops it.
