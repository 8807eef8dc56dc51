"""On-device augmentation: what crops and flips do, where their randomness
comes from, and that augmented runs resume bit-identically."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import zoo
from resume_helpers import StopAt, state_arrays
from zoo import experiment
from zoo import train
from zoo.config import resolve
from zoo.data import augment
from zoo.train import signals


def _images(b=16, h=6, w=5, c=2, seed=0):
  return jax.random.uniform(jax.random.key(seed), (b, h, w, c))


def test_random_crop_takes_a_window_of_the_padded_image():
  images, padding = _images(), 2
  out = augment.random_crop(images, jax.random.key(1), padding)
  assert out.shape == images.shape and out.dtype == images.dtype
  padded = np.pad(np.asarray(images), ((0, 0), (2, 2), (2, 2), (0, 0)))
  offsets = []
  for n, image in enumerate(np.asarray(out)):
    found = [(dy, dx) for dy, dx in itertools.product(range(5), range(5))
             if np.array_equal(padded[n, dy:dy + 6, dx:dx + 5], image)]
    assert found, n
    offsets.append(found[0])
  assert len(set(offsets)) > 1  # Each example draws its own offset.


def test_random_flip_mirrors_about_half_the_images():
  images = _images(b=64)
  out = np.asarray(augment.random_flip(images, jax.random.key(2)))
  same = [np.array_equal(o, i) for o, i in zip(out, np.asarray(images))]
  mirrored = [np.array_equal(o, i[:, ::-1]) for o, i in
              zip(out, np.asarray(images))]
  assert all(s or m for s, m in zip(same, mirrored))
  assert 16 < sum(mirrored) < 48


def test_keys_come_from_seed_step_and_device():
  def data(seed, step, device):
    return jax.random.key_data(augment.key_for(seed, jnp.int32(step),
                                               jnp.int32(device)))
  np.testing.assert_array_equal(data(0, 5, 1), data(0, 5, 1))
  for other in (data(1, 5, 1), data(0, 6, 1), data(0, 5, 0)):
    assert not np.array_equal(data(0, 5, 1), other)


def test_no_augmentation_changes_nothing():
  assert not augment.from_config((), 4).enabled
  images = _images()
  aug = augment.Augmentation()
  np.testing.assert_array_equal(augment.apply(aug, images, jax.random.key(0)),
                                images)


def _augmented(config):
  config.data.augment = ("crop", "flip")
  config.data.crop_padding = 1
  config.train.num_epochs = 2
  config.train.steps_per_call = 5
  config.checkpoint.min_interval_s = 0.0
  return config


def test_augmented_training_differs_and_resumes_bit_identically(
    base_config, tmp_path):
  config = _augmented(base_config)
  config.data.augment = ()
  plain = train.train(train.setup(resolve.resolve(config)))  # The same, unaugmented.
  config.data.augment = ("crop", "flip")
  whole = experiment.train_and_evaluate(config, str(tmp_path / "whole"))
  with pytest.raises(signals.RunInterrupted, match="at step 15/40"):
    experiment.train_and_evaluate(config, str(tmp_path / "pieces"),
                                  [StopAt(12)])
  pieces = experiment.train_and_evaluate(config, str(tmp_path / "pieces"))
  got, want = (state_arrays(tmp_path / d) for d in ("pieces", "whole"))
  for name in want:
    np.testing.assert_array_equal(got[name], want[name], err_msg=name)
  assert pieces["test_accuracy"] == whole["test_accuracy"]
  first = sorted(k for k in want if k.startswith("params."))[0]
  module, leaf = first.removeprefix("params.").rsplit(".", 1)
  unaugmented = np.asarray(plain.state.params[module][leaf][0])
  assert want[first].shape == unaugmented.shape
  assert not np.array_equal(want[first], unaugmented)  # Augmentation acts.


@pytest.mark.parametrize("value,message", [
    (("rotate",), "tuple of names from crop, flip"),
    (("crop", "crop2"), "tuple of names"),
])
def test_bad_augment_names_the_field(base_config, value, message):
  base_config.data.augment = value
  with pytest.raises(zoo.ConfigError, match=message) as e:
    resolve.validate(base_config)
  assert "--config.data.augment=" in str(e.value)


def test_augmenting_feature_vectors_is_an_error(base_config, tmp_path):
  table = tmp_path / "t.csv"
  table.write_text("a,b,y\n" + "".join(f"{i},{i % 3},{i % 2}\n"
                                       for i in range(80)))
  base_config.data.name, base_config.data.path = "csv", str(table)
  base_config.data.label_column, base_config.model.name = "y", "logistic"
  base_config.train.batch_size = 16
  base_config.data.augment = ("flip",)
  with pytest.raises(zoo.ConfigError, match="images only"):
    resolve.validate(base_config)
