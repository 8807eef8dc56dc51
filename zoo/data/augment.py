"""On-device augmentation of training batches, inside the compiled chunk.

Random crops with zero padding and horizontal flips, drawn from
(seed, step, device) alone, so a run reproduces and resumes bit-identically.
Validation and test batches are never augmented.
"""

import dataclasses

import jax
import jax.numpy as jnp

from zoo.config import spec

NAMES = spec.AUGMENTATIONS  # Listed once, in the field table.
# Mixed into the seed so the augmentation draws are independent of the
# model's keys and of the data order.
_AUGMENT_STREAM = 0xA06


@dataclasses.dataclass(frozen=True)
class Augmentation:
  """What to apply: `crop` (pad by `crop_padding` pixels, then crop back to
  the image size at a random offset) and/or `flip` (mirror left-right with
  probability 1/2), each example independently."""
  crop: bool = False
  flip: bool = False
  crop_padding: int = 4

  @property
  def enabled(self) -> bool:
    return self.crop or self.flip


def from_config(names: tuple[str, ...], crop_padding: int) -> Augmentation:
  """`data.augment` (validated names) and `data.crop_padding`."""
  return Augmentation(crop="crop" in names, flip="flip" in names,
                      crop_padding=crop_padding)


def key_for(seed: int, step: jax.Array, device: jax.Array) -> jax.Array:
  """The augmentation key of one step on one device."""
  key = jax.random.fold_in(jax.random.key(seed), _AUGMENT_STREAM)
  return jax.random.fold_in(jax.random.fold_in(key, step), device)


def apply(aug: Augmentation, images: jax.Array, key: jax.Array) -> jax.Array:
  """Augments images `[b, height, width, channels]`; same shape and dtype."""
  crop_key, flip_key = jax.random.split(key)
  if aug.crop:
    images = random_crop(images, crop_key, aug.crop_padding)
  if aug.flip:
    images = random_flip(images, flip_key)
  return images


def random_crop(images: jax.Array, key: jax.Array, padding: int) -> jax.Array:
  """Zero-pads each image by `padding` pixels per side, then takes the
  original size at an offset drawn uniformly from [0, 2 * padding]^2."""
  b, h, w, _ = images.shape
  padded = jnp.pad(images, ((0, 0), (padding, padding), (padding, padding),
                            (0, 0)))
  offsets = jax.random.randint(key, (b, 2), 0, 2 * padding + 1)

  def crop(image, offset):
    return jax.lax.dynamic_slice(image, (offset[0], offset[1], 0),
                                 (h, w, image.shape[-1]))

  return jax.vmap(crop)(padded, offsets)


def random_flip(images: jax.Array, key: jax.Array) -> jax.Array:
  """Mirrors each image left-right with probability 1/2."""
  flip = jax.random.bernoulli(key, 0.5, (images.shape[0], 1, 1, 1))
  return jnp.where(flip, images[:, :, ::-1, :], images)
