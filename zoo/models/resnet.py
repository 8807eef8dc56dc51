"""ResNets for CIFAR-sized images (3x3 stem, no max-pool), with BatchNorm.

`resnet20` (and `resnet32`, `resnet44`, `resnet56`): He et al. 2016, "Deep
Residual Learning for Image Recognition", section 4.2: a 3x3 conv of `width`
(16) channels, three stages of n basic blocks with width, 2 width, 4 width
channels (the 2nd and 3rd start with stride 2), global average pooling and a
dense layer; depth = 6n + 2. Shortcuts are the paper's option A: identity,
subsampled by 2 and zero-padded in channels where the shape changes (no
parameters).

`resnet18`: the CIFAR ResNet-18 of common use (e.g. github.com/kuangliu/
pytorch-cifar): the same 3x3 stem (`width`, 64, channels), no max-pool,
four stages of 2 basic blocks with 64-128-256-512 channels, and 1x1 conv +
BatchNorm projection shortcuts where the shape changes (option B).

Both use the zoo's BatchNorm (`common.batch_norm`: batch statistics over all
devices), convolutions without bias, and He (fan-in, scale 2) initialisation
of the convolutions as in the paper. Any image size works ('SAME' padding).
"""

from typing import Optional, Sequence

import haiku as hk
import jax
import jax.numpy as jnp

from zoo import errors
from zoo.models import common
from zoo.models.registry import register_model

_HE_INIT = hk.initializers.VarianceScaling(2.0, "fan_in", "truncated_normal")


def _conv(channels: int, kernel: int, stride: int, name: str) -> hk.Conv2D:
  return hk.Conv2D(channels, kernel_shape=kernel, stride=stride,
                   padding="SAME", with_bias=False, w_init=_HE_INIT, name=name)


class BasicBlock(hk.Module):
  """conv 3x3 -> BN -> ReLU -> conv 3x3 -> BN, + shortcut, -> ReLU.

  Maps `[b, h, w, c]` to `[b, ceil(h / stride), ceil(w / stride), channels]`.
  Where the shape changes, the shortcut is 'pad' (option A: subsample, then
  zero channels) or 'projection' (option B: 1x1 conv with stride, then BN).
  """

  def __init__(self, channels: int, stride: int, shortcut: str,
               name: Optional[str] = None):
    super().__init__(name=name)
    self.channels = channels
    self.stride = stride
    self.shortcut = shortcut

  def __call__(self, x: jax.Array, is_training: bool) -> jax.Array:
    out = _conv(self.channels, 3, self.stride, "conv_0")(x)
    out = jax.nn.relu(common.batch_norm("bn_0")(out, is_training))
    out = _conv(self.channels, 3, 1, "conv_1")(out)
    out = common.batch_norm("bn_1")(out, is_training)
    shortcut = x
    if self.stride != 1 or x.shape[-1] != self.channels:
      if self.shortcut == "projection":
        shortcut = _conv(self.channels, 1, self.stride, "shortcut_conv")(x)
        shortcut = common.batch_norm("shortcut_bn")(shortcut, is_training)
      else:
        shortcut = x[:, ::self.stride, ::self.stride, :]
        extra = self.channels - x.shape[-1]
        shortcut = jnp.pad(shortcut, ((0, 0), (0, 0), (0, 0),
                                      (extra // 2, extra - extra // 2)))
    return jax.nn.relu(out + shortcut)


def _resnet(x: jax.Array, is_training: bool, model: str, num_classes: int,
            stage_channels: Sequence[int], blocks_per_stage: int,
            shortcut: str) -> jax.Array:
  """Stem, stages of basic blocks, global average pool, dense: the logits."""
  common.check_image(model, x)
  x = _conv(stage_channels[0], 3, 1, "stem_conv")(x)
  x = jax.nn.relu(common.batch_norm("stem_bn")(x, is_training))
  for i, channels in enumerate(stage_channels):
    for j in range(blocks_per_stage):
      stride = 2 if i > 0 and j == 0 else 1
      x = BasicBlock(channels, stride, shortcut,
                     name=f"stage_{i}_block_{j}")(x, is_training)
  return hk.Linear(num_classes, name="logits")(jnp.mean(x, axis=(1, 2)))


@register_model("resnet20")
class ResNet(hk.Module):
  """CIFAR ResNet, depth 6n + 2: `[b, h, w, c]` -> `[b, num_classes]`."""

  registered_name = "resnet20"  # Names config.model.<name> in errors.

  def __init__(self,
               num_classes: int,
               depth: int = 20,
               width: int = 16,
               name: Optional[str] = None):
    super().__init__(name=name or "resnet")
    model = self.registered_name
    if (not isinstance(depth, int) or isinstance(depth, bool) or depth < 8
        or (depth - 2) % 6):
      raise errors.ConfigError(
          f"config.model.{model}.depth must be 6n + 2 for n >= 1 (the paper's "
          f"20, 32, 44, 56, 110); got {depth!r}.")
    common.check_positive(model, "width", width)
    self.model = model
    self.num_classes = num_classes
    self.blocks_per_stage = (depth - 2) // 6
    self.width = width

  def __call__(self, x: jax.Array, is_training: bool) -> jax.Array:
    w = self.width
    return _resnet(x, is_training, self.model, self.num_classes,
                   (w, 2 * w, 4 * w), self.blocks_per_stage, "pad")


@register_model("resnet32")
class ResNet32(ResNet):
  """`resnet20` with depth 32 by default."""

  registered_name = "resnet32"

  def __init__(self, num_classes: int, depth: int = 32, width: int = 16,
               name: Optional[str] = None):
    super().__init__(num_classes, depth=depth, width=width, name=name)


@register_model("resnet44")
class ResNet44(ResNet):
  """`resnet20` with depth 44 by default."""

  registered_name = "resnet44"

  def __init__(self, num_classes: int, depth: int = 44, width: int = 16,
               name: Optional[str] = None):
    super().__init__(num_classes, depth=depth, width=width, name=name)


@register_model("resnet56")
class ResNet56(ResNet):
  """`resnet20` with depth 56 by default."""

  registered_name = "resnet56"

  def __init__(self, num_classes: int, depth: int = 56, width: int = 16,
               name: Optional[str] = None):
    super().__init__(num_classes, depth=depth, width=width, name=name)


@register_model("resnet18")
class ResNet18(hk.Module):
  """CIFAR ResNet-18: `[b, h, w, c]` -> `[b, num_classes]`.

  `width` is the first stage's channels (64); the stages have width x
  (1, 2, 4, 8).
  """

  def __init__(self,
               num_classes: int,
               width: int = 64,
               name: Optional[str] = None):
    super().__init__(name=name or "resnet18")
    common.check_positive("resnet18", "width", width)
    self.num_classes = num_classes
    self.width = width

  def __call__(self, x: jax.Array, is_training: bool) -> jax.Array:
    w = self.width
    return _resnet(x, is_training, "resnet18", self.num_classes,
                   (w, 2 * w, 4 * w, 8 * w), 2, "projection")
