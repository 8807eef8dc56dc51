"""A stateful test model: Linear -> BatchNorm -> ReLU -> Linear.

The BatchNorm keeps per-device statistics (no `cross_replica_axis`), so in a
pmapped step each device computes its own moving mean and variance, and only
the train step's averaging of the model state makes the devices agree. Its
state holds float moving averages and int32 update counters.
"""

from typing import Optional

import haiku as hk
import jax

import zoo


@zoo.register_model("bn_test_net", overwrite=True)
class BatchNormNet(hk.Module):
  """Maps inputs `[batch, ...]` to logits `[batch, num_classes]`."""

  def __init__(self,
               num_classes: int,
               hidden_size: int = 16,
               name: Optional[str] = None):
    super().__init__(name=name)
    self.num_classes = num_classes
    self.hidden_size = hidden_size

  def __call__(self, x: jax.Array, is_training: bool) -> jax.Array:
    h = hk.Linear(self.hidden_size)(hk.Flatten()(x))
    h = hk.BatchNorm(create_scale=True, create_offset=True,
                     decay_rate=0.9)(h, is_training=is_training)
    return hk.Linear(self.num_classes)(jax.nn.relu(h))
