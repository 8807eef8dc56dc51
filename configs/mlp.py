"""MLP (512-512, ReLU) on MNIST with Adam: the default recipe."""

from configs import default


def get_config():
  config = default.get_config()
  config.model.name = "mlp"
  return config
