"""Builds the optax optimizer named by `config.optimizer`."""

import ml_collections
import optax


def make_optimizer(cfg: ml_collections.ConfigDict,
                   total_steps: int) -> optax.GradientTransformation:
  """Adam / AdamW / SGD with a constant or cosine learning-rate schedule."""
  if cfg.schedule == "cosine":
    lr = optax.cosine_decay_schedule(cfg.learning_rate, max(total_steps, 1))
  else:
    lr = cfg.learning_rate
  if cfg.name == "adam":
    return optax.adam(lr)
  if cfg.name == "adamw":
    return optax.adamw(lr, weight_decay=cfg.weight_decay)
  if cfg.name == "sgd":
    return optax.sgd(lr, momentum=cfg.momentum or None)
  raise ValueError(f"Unknown optimizer {cfg.name!r}")  # config_checks stops it.
