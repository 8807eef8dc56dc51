"""LeNet-5 (LeCun et al. 1998), adapted to 28x28 and 32x32 images.

conv 6 5x5 'SAME' -> act -> 2x2 avg-pool -> conv 16 5x5 'VALID' -> act
-> 2x2 avg-pool -> dense 120 -> act -> dense 84 -> act -> dense num_classes.

The paper fed 32x32 fields (28x28 MNIST digits padded by 2 pixels) to 'VALID'
5x5 convolutions; 'SAME' on the first convolution is exactly that padding, so
28x28 inputs follow the paper's 28-14-10-5 feature maps (61,706 parameters for
10 classes; the paper's ~60,000 differ by its sparse C3 table and RBF output).
The same 'SAME' padding is used for every input, so 32x32 images reach C5 as
6x6 maps (a 576-input first dense). Departures from 1998: C3 sees all six
maps, pooling is a plain average (no trainable coefficients), the output is
linear (no RBF units), and `activation='relu'` may replace tanh.
Images smaller than 12x12 leave no map for the second pooling: ConfigError.
"""

from typing import Optional

import haiku as hk
import jax

from zoo.models import common
from zoo.models.registry import register_model

_ACTIVATIONS = {"tanh": jax.nn.tanh, "relu": jax.nn.relu}
_MIN_SIZE = 12  # 12 -> 12 -> 6 -> 2 -> 1 (conv 'SAME', pool, conv, pool).


@register_model("lenet5")
class LeNet5(hk.Module):
  """Maps images `[batch, h, w, c]`, h, w >= 12, to `[batch, num_classes]`."""

  def __init__(self,
               num_classes: int,
               activation: str = "tanh",
               name: Optional[str] = None):
    super().__init__(name=name or "lenet5")
    common.check_choice("lenet5", "activation", activation,
                        tuple(_ACTIVATIONS))
    self.num_classes = num_classes
    self.activation = _ACTIVATIONS[activation]

  def __call__(self, x: jax.Array, is_training: bool) -> jax.Array:
    del is_training  # No dropout or batch statistics.
    common.check_image("lenet5", x, min_size=_MIN_SIZE)
    act = self.activation
    for channels, padding in ((6, "SAME"), (16, "VALID")):
      x = act(hk.Conv2D(channels, kernel_shape=5, padding=padding)(x))
      x = hk.avg_pool(x, window_shape=(2, 2, 1), strides=(2, 2, 1),
                      padding="VALID")
    x = act(hk.Linear(120)(hk.Flatten()(x)))
    x = act(hk.Linear(84)(x))
    return hk.Linear(self.num_classes)(x)
