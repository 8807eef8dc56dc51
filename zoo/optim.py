"""Builds the optax optimizer and learning-rate schedule of `config.optimizer`."""

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
  """Adam / AdamW / SGD with `learning_rate_schedule(cfg, total_steps)`."""
  lr = learning_rate_schedule(cfg, total_steps)
  if cfg.name == "adam":
    return optax.adam(lr)
  if cfg.name == "adamw":
    return optax.adamw(lr, weight_decay=cfg.weight_decay)
  if cfg.name == "sgd":
    return optax.sgd(lr, momentum=cfg.momentum or None)
  raise ValueError(f"Unknown optimizer {cfg.name!r}")  # config_checks stops it.
