"""Multi-layer perceptron: flatten -> hidden ReLU layers -> class logits."""

from typing import Optional, Sequence

import haiku as hk
import jax

from zoo.models import common
from zoo.models.registry import register_model


@register_model("mlp")
class MLP(hk.Module):
  """Maps inputs `[batch, ...]` to logits `[batch, num_classes]`.

  Dropout (rate `dropout_rate`) follows every hidden layer in training only.
  """

  def __init__(self,
               num_classes: int,
               hidden_sizes: Sequence[int] = (512, 512),
               dropout_rate: float = 0.0,
               name: Optional[str] = None):
    super().__init__(name=name)
    common.check_sizes("mlp", "hidden_sizes", hidden_sizes, allow_empty=True)
    common.check_rate("mlp", dropout_rate)
    self.num_classes = num_classes
    self.hidden_sizes = tuple(hidden_sizes)
    self.dropout_rate = dropout_rate

  def __call__(self, x: jax.Array, is_training: bool) -> jax.Array:
    net = hk.nets.MLP([*self.hidden_sizes, self.num_classes],
                      activation=jax.nn.relu)
    use_dropout = is_training and self.dropout_rate > 0
    return net(hk.Flatten()(x),
               dropout_rate=self.dropout_rate if use_dropout else None,
               rng=hk.next_rng_key() if use_dropout else None)
