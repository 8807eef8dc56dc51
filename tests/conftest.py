"""Shared test setup: two fake CPU devices, so every pmap path runs for real.

`chex.set_n_cpu_devices` must run before JAX initialises its backends, which
is why it sits at the top of conftest (pytest imports it first).
"""

import os
import pathlib

import chex

chex.set_n_cpu_devices(2)

import pytest  # noqa: E402

REPO = pathlib.Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
MNIST_5K = SHARED_DATA / "mnist-5k"
FASHION_MNIST = SHARED_DATA / "fashion-mnist"
MOBILE_PRICE = SHARED_DATA / "mobile-price" / "train.csv"


@pytest.fixture
def mnist_dir() -> pathlib.Path:
  """../shared/data/mnist-5k; the test is skipped (with reason) if absent."""
  if not (MNIST_5K / "train-images-idx3-ubyte.gz").exists():
    pytest.skip(f"real MNIST files not found at {MNIST_5K}")
  return MNIST_5K


@pytest.fixture
def fashion_mnist_dir() -> pathlib.Path:
  """../shared/data/fashion-mnist; the test is skipped (with reason) if
  absent."""
  if not (FASHION_MNIST / "train-images-idx3-ubyte.gz").exists():
    pytest.skip(f"real Fashion-MNIST files not found at {FASHION_MNIST}")
  return FASHION_MNIST


@pytest.fixture
def base_config():
  """configs/default.py, small enough for a test: 1 epoch, batch 64."""
  from configs import default  # pylint: disable=g-import-not-at-top
  config = default.get_config()
  config.data.name = "digits"
  config.train.num_epochs = 1
  config.train.batch_size = 64
  config.train.eval_batch_size = 100
  config.train.log_every_steps = 10
  config.data.allow_fallback = False
  return config


def pytest_configure(config):
  # Subprocesses started by tests see the repo on their path too.
  os.environ.setdefault("PYTHONPATH", str(REPO))


@pytest.fixture
def offline(monkeypatch):
  """TFDS has nothing prepared and no download host answers."""
  from zoo.data import tfds_images  # pylint: disable=g-import-not-at-top
  monkeypatch.setattr(tfds_images, "host_reachable", lambda *a: False)
