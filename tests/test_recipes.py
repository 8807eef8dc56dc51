"""The dataset recipes (configs/fashion_mnist.py:<model>, configs/cifar10.py:
<model>): each validates, and each model's recipe trains a few steps (on the
bundled digits, so that the test needs no download and stays short)."""

import math
import subprocess
import sys

import numpy as np
import pytest

from conftest import REPO
from configs import cifar10
from configs import fashion_mnist
from configs import _image_recipes as image_recipes
from zoo import train
from zoo.data import Dataset, Split
from zoo.config import resolve


@pytest.mark.parametrize("recipes", [fashion_mnist, cifar10])
@pytest.mark.parametrize("model", image_recipes.MODELS)
def test_every_recipe_validates(recipes, model):
  config = recipes.get_config(model)
  resolve.validate(config)
  assert config.model.name == model
  assert config.data.name == recipes.__name__.rsplit(".", 1)[-1]


def _colour_images(num_train=128, num_test=40, seed=0):
  """Random 32x32x3 images in [0, 1] and labels: CIFAR-shaped, tiny."""
  rng = np.random.default_rng(seed)
  def split(n):
    return Split(rng.random((n, 32, 32, 3), np.float32),
                 rng.integers(0, 10, n).astype(np.int32))
  return Dataset(name="random32", train=split(num_train),
                 test=split(num_test), num_classes=10,
                 class_names=tuple(str(i) for i in range(10)), source="test")


@pytest.mark.parametrize("model", image_recipes.MODELS)
def test_each_recipe_trains_a_few_steps(model):
  # The recipe's optimizer, schedule, warmup, smoothing and augmentation on
  # a few steps of CIFAR-shaped data (the big models made small).
  config = cifar10.get_config(model)
  config.train.num_epochs = 3  # Longer than every recipe's warmup.
  config.train.batch_size = 32
  config.train.steps_per_call = 3
  config.train.compilation_cache_dir = ""
  config.model.get(model, {}).update(_small(model))
  resolve.validate(config)
  s = train.setup(resolve.resolve(config), _colour_images())
  progress = train.train(s)
  assert s.steps_per_epoch == 3  # 115 of 128 left after validation.
  assert progress.step == 9
  assert all(math.isfinite(h["train_loss"]) for h in progress.history)
  assert 0.0 <= progress.test["accuracy"] <= 1.0


def _small(model):
  """Hyperparameters that keep the big models quick in a test."""
  return {"resnet18": {"width": 8}, "resnet20": {"depth": 8},
          "vit_tiny": {"width": 32, "depth": 1, "mlp_dim": 32}}.get(model, {})


def test_an_unknown_recipe_is_one_line_and_exit_2(tmp_path):
  proc = subprocess.run(
      [sys.executable, "launch.py", "--config=configs/fashion_mnist.py:nope",
       f"--workdir={tmp_path}"], cwd=REPO, capture_output=True, text=True,
      timeout=120, check=False)
  assert proc.returncode == 2
  assert proc.stderr.strip().splitlines() == [
      "error: Unknown recipe 'nope': give one of logistic, mlp, cnn, lenet5, "
      "resnet20, resnet18, vit_tiny after the colon, e.g. "
      "--config=configs/fashion_mnist.py:resnet20."]


def test_recipes_keep_the_choices_their_cards_were_measured_with():
  # docs/MODELS.md: the Fashion-MNIST LeNet with ReLU and flips only, the
  # ViT without augmentation there; CIFAR-10's ViT keeps crops and flips.
  lenet = fashion_mnist.get_config("lenet5")
  assert lenet.model.lenet5.activation == "relu"
  assert tuple(lenet.data.augment) == ("flip",)
  assert tuple(fashion_mnist.get_config("vit_tiny").data.augment) == ()
  assert tuple(cifar10.get_config("vit_tiny").data.augment) == ("crop", "flip")
