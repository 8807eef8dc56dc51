"""The dataset recipes (configs/fashion_mnist.py:<model>, configs/cifar10.py:
<model>): each validates, and each model's recipe trains a few steps (on the
bundled digits, so that the test needs no download and stays short)."""

import math
import subprocess
import sys

import pytest

from conftest import REPO
from configs import cifar10
from configs import fashion_mnist
from configs import image_recipes
from zoo import train
from zoo.config import validation


@pytest.mark.parametrize("recipes", [fashion_mnist, cifar10])
@pytest.mark.parametrize("model", image_recipes.MODELS)
def test_every_recipe_validates(recipes, model):
  config = recipes.get_config(model)
  validation.validate(config)
  assert config.model.name == model
  assert config.data.name == recipes.__name__.rsplit(".", 1)[-1]


@pytest.mark.parametrize("model", image_recipes.MODELS)
def test_each_recipe_trains_a_few_steps(model):
  config = cifar10.get_config(model)  # Per-channel statistics, augmentation.
  config.data.name, config.data.allow_fallback = "digits", False
  config.data.crop_padding = 1
  config.train.num_epochs, config.train.batch_size = 1, 64
  config.train.steps_per_call = 4
  config.train.compilation_cache_dir = ""
  config.model.get(model, {}).update(_small(model))
  validation.validate(config)
  s = train.setup(config)
  progress = train.train(s, config)
  assert progress.step == s.steps_per_epoch == 20
  assert math.isfinite(progress.history[-1]["train_loss"])
  assert 0.0 <= progress.test["accuracy"] <= 1.0


def _small(model):
  """Hyperparameters that keep the big models quick on 8x8 digits."""
  return {"vit_tiny": {"patch_size": 4}}.get(model, {})


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
