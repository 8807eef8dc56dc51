"""The classic small CNN on MNIST."""

from configs import default


def get_config():
  config = default.get_config()
  config.model.name = "cnn"
  return config
