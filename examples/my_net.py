"""A model of your own, trained by the zoo's launcher without editing `zoo/`.

  python launch.py --config=configs/mlp.py \
      --config.model.module=examples/my_net.py --config.model.name=my_net

Its hyperparameters take their defaults here; to set them from a config,
write a config file with `config.model.my_net = dict(width=64)`
(see examples/my_net_config.py).
"""

from typing import Optional

import haiku as hk
import jax

import zoo


@zoo.register_model("my_net")
class MyNet(hk.Module):
  """Flatten -> Linear(width) -> tanh -> Linear(num_classes)."""

  def __init__(self, num_classes: int, width: int = 128,
               name: Optional[str] = None):
    super().__init__(name=name)
    self.num_classes, self.width = num_classes, width

  def __call__(self, x: jax.Array, is_training: bool) -> jax.Array:
    x = jax.nn.tanh(hk.Linear(self.width)(hk.Flatten()(x)))
    return hk.Linear(self.num_classes)(x)
