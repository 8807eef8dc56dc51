"""Multinomial logistic regression: flatten -> linear -> class logits."""

from typing import Optional

import haiku as hk
import jax

from zoo.models.registry import register_model


@register_model("logistic")
class Logistic(hk.Module):
  """Maps inputs `[batch, ...]` of any shape to logits `[batch, num_classes]`."""

  def __init__(self, num_classes: int, name: Optional[str] = None):
    super().__init__(name=name)
    self.num_classes = num_classes

  def __call__(self, x: jax.Array, is_training: bool) -> jax.Array:
    del is_training  # A linear model behaves the same in training and eval.
    return hk.Linear(self.num_classes)(hk.Flatten()(x))
