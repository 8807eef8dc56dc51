"""The classic small MNIST CNN.

conv(c0, 3x3) -> ReLU -> avg-pool 2x2 -> conv(c1, 3x3) -> ReLU -> avg-pool 2x2
-> dense(hidden) -> ReLU -> [dropout] -> dense(num_classes).
"""

from typing import Optional, Sequence

import haiku as hk
import jax

from zoo import errors
from zoo.models import common
from zoo.models.registry import register_model


@register_model("cnn")
class CNN(hk.Module):
  """Maps images `[batch, height, width, channels]` to `[batch, num_classes]`."""

  def __init__(self,
               num_classes: int,
               channels: Sequence[int] = (32, 64),
               hidden_size: int = 256,
               dropout_rate: float = 0.0,
               name: Optional[str] = None):
    super().__init__(name=name)
    common.check_sizes("cnn", "channels", channels)
    common.check_sizes("cnn", "hidden_size", (hidden_size,))
    common.check_rate("cnn", dropout_rate)
    self.num_classes = num_classes
    self.channels = tuple(channels)
    self.hidden_size = hidden_size
    self.dropout_rate = dropout_rate

  def __call__(self, x: jax.Array, is_training: bool) -> jax.Array:
    if x.ndim != 4:
      raise errors.ConfigError(
          f"Model 'cnn' needs images [batch, height, width, channels]; got "
          f"inputs of shape {tuple(x.shape)}. For feature vectors (tables) "
          "use --config.model.name=mlp or logistic.")
    for c in self.channels:
      x = jax.nn.relu(hk.Conv2D(c, kernel_shape=3, padding="SAME")(x))
      x = hk.avg_pool(x, window_shape=(2, 2, 1), strides=(2, 2, 1),
                    padding="VALID")
    x = jax.nn.relu(hk.Linear(self.hidden_size)(hk.Flatten()(x)))
    if is_training and self.dropout_rate > 0:
      x = hk.dropout(hk.next_rng_key(), self.dropout_rate, x)
    return hk.Linear(self.num_classes)(x)
