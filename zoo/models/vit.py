"""A small Vision Transformer (Dosovitskiy et al. 2021) for small images.

Patch embedding (a `patch_size` x `patch_size` conv with that stride, `width`
channels) -> [class token] + learned position embeddings -> dropout ->
`depth` pre-LayerNorm encoder blocks:

    x = x + dropout(MultiHeadAttention(LayerNorm(x)))
    x = x + dropout(dense_width(dropout(GELU(dense_mlp_dim(LayerNorm(x))))))
-> LayerNorm -> the class token's features (pool='cls') or the mean over the
patches (pool='mean') -> dense num_classes.

The defaults (4x4 patches, width 128, depth 4, 4 heads, MLP 256; 0.54M
parameters for 28x28x1 and 10 classes) suit a CPU; the paper's ViT-Ti is
width 192, depth 12, 3 heads. Position embeddings are learned per patch grid,
so a model only takes the image size it was initialised with.
"""

from typing import Optional

import haiku as hk
import jax
import jax.numpy as jnp

from zoo import errors
from zoo.models import common
from zoo.models.registry import register_model

_NAME = "vit_tiny"


class EncoderBlock(hk.Module):
  """A pre-LayerNorm transformer block: `[b, tokens, width]` to the same."""

  def __init__(self, num_heads: int, mlp_dim: int, dropout_rate: float,
               name: Optional[str] = None):
    super().__init__(name=name)
    self.num_heads = num_heads
    self.mlp_dim = mlp_dim
    self.dropout_rate = dropout_rate

  def _dropout(self, x: jax.Array, is_training: bool) -> jax.Array:
    if is_training and self.dropout_rate > 0:
      return hk.dropout(hk.next_rng_key(), self.dropout_rate, x)
    return x

  def __call__(self, x: jax.Array, is_training: bool) -> jax.Array:
    width = x.shape[-1]
    w_init = hk.initializers.VarianceScaling(1.0, "fan_avg", "uniform")
    h = hk.LayerNorm(-1, create_scale=True, create_offset=True,
                     name="ln_attention")(x)
    h = hk.MultiHeadAttention(self.num_heads, key_size=width // self.num_heads,
                              model_size=width, w_init=w_init,
                              name="attention")(h, h, h)
    x = x + self._dropout(h, is_training)
    h = hk.LayerNorm(-1, create_scale=True, create_offset=True,
                     name="ln_mlp")(x)
    h = jax.nn.gelu(hk.Linear(self.mlp_dim, w_init=w_init, name="mlp_1")(h))
    h = self._dropout(h, is_training)
    h = hk.Linear(width, w_init=w_init, name="mlp_2")(h)
    return x + self._dropout(h, is_training)


@register_model(_NAME)
class ViT(hk.Module):
  """`[b, h, w, c]` (h, w multiples of patch_size) -> `[b, num_classes]`."""

  def __init__(self,
               num_classes: int,
               patch_size: int = 4,
               width: int = 128,
               depth: int = 4,
               num_heads: int = 4,
               mlp_dim: int = 256,
               dropout_rate: float = 0.0,
               pool: str = "cls",
               name: Optional[str] = None):
    super().__init__(name=name or "vit")
    for field, value in (("patch_size", patch_size), ("width", width),
                         ("depth", depth), ("num_heads", num_heads),
                         ("mlp_dim", mlp_dim)):
      common.check_positive(_NAME, field, value)
    if width % num_heads:
      raise errors.ConfigError(
          f"config.model.{_NAME}.width={width} must be a multiple of "
          f"config.model.{_NAME}.num_heads={num_heads}.")
    common.check_rate(_NAME, dropout_rate)
    common.check_choice(_NAME, "pool", pool, ("cls", "mean"))
    self.num_classes = num_classes
    self.patch_size = patch_size
    self.width = width
    self.depth = depth
    self.num_heads = num_heads
    self.mlp_dim = mlp_dim
    self.dropout_rate = dropout_rate
    self.pool = pool

  def __call__(self, x: jax.Array, is_training: bool) -> jax.Array:
    common.check_image(_NAME, x)
    p = self.patch_size
    if x.shape[1] % p or x.shape[2] % p:
      raise errors.ConfigError(
          f"config.model.{_NAME}.patch_size={p} must divide the image's "
          f"height and width; got inputs of shape {tuple(x.shape)}.")
    x = hk.Conv2D(self.width, kernel_shape=p, stride=p, padding="VALID",
                  name="patch_embedding")(x)
    x = x.reshape(x.shape[0], -1, self.width)  # [b, patches, width]
    if self.pool == "cls":
      cls = hk.get_parameter("cls_token", (1, 1, self.width), x.dtype,
                             init=jnp.zeros)
      x = jnp.concatenate([jnp.broadcast_to(cls, (x.shape[0], 1, self.width)),
                           x], axis=1)
    pos = hk.get_parameter("position_embedding", (1, *x.shape[1:]), x.dtype,
                           init=hk.initializers.RandomNormal(0.02))
    x = x + pos
    if is_training and self.dropout_rate > 0:
      x = hk.dropout(hk.next_rng_key(), self.dropout_rate, x)
    for i in range(self.depth):
      x = EncoderBlock(self.num_heads, self.mlp_dim, self.dropout_rate,
                       name=f"block_{i}")(x, is_training)
    x = hk.LayerNorm(-1, create_scale=True, create_offset=True,
                     name="ln_final")(x)
    x = x[:, 0] if self.pool == "cls" else jnp.mean(x, axis=1)
    return hk.Linear(self.num_classes, name="head")(x)
