"""The base recipe: every config field at its default.

The fields, their defaults, checks and one-line docs are the field table in
zoo/config/spec.py (`python launch.py --config_help` prints them; docs/
config.md is generated from it). This file adds what the table cannot know:
the default hyperparameters of each catalogue model. Recipes (configs/mlp.py,
cnn.py, logistic.py, ...) start from this and change only what differs. Any
field can be overridden on the command line:

  python launch.py --config=configs/mlp.py --config.train.num_epochs=3 \
      --config.optimizer.learning_rate=3e-4 --config.model.name=cnn
"""

import ml_collections

from zoo.config import resolve


# One line per catalogue model, for its hyperparameters `config.model.<name>.*`
# in the config reference (docs/config.md, `launch.py --config_help`).
MODEL_DOCS = {
    "logistic": "Logistic regression: no hyperparameters.",
    "mlp": "MLP: the hidden layers' sizes; dropout after each (training only).",
    "cnn": "CNN: two 3x3 convs of `channels`, a dense layer of hidden_size, "
           "dropout before the logits (training only).",
    "lenet5": "LeNet-5 (1998) on images of at least 12x12; activation 'tanh' "
              "or 'relu'.",
    "resnet20": "CIFAR ResNets (He et al. 2016), BatchNorm over all devices: "
                "depth 6n + 2, stages of width, 2 width, 4 width channels.",
    "resnet32": "resnet20 with depth 32.",
    "resnet44": "resnet20 with depth 44.",
    "resnet56": "resnet20 with depth 56.",
    "resnet18": "CIFAR ResNet-18: stages of width x (1, 2, 4, 8) channels.",
    "vit_tiny": "A small Vision Transformer; patch_size must divide the "
                "image's sides, width must be a multiple of num_heads, pool is "
                "'cls' or 'mean'.",
}


def get_config() -> ml_collections.ConfigDict:
  """Returns the default config (an MLP on MNIST)."""
  config = resolve.default_config()
  # Hyperparameters of each model live under config.model.<name>; only the
  # selected model's are used, so --config.model.name=... switches cleanly.
  config.model.logistic = ml_collections.ConfigDict()
  config.model.mlp = ml_collections.ConfigDict(
      dict(hidden_sizes=(512, 512), dropout_rate=0.0))
  config.model.cnn = ml_collections.ConfigDict(
      dict(channels=(32, 64), hidden_size=256, dropout_rate=0.0))
  # LeNet-5 (1998) on images of at least 12x12; activation 'tanh' or 'relu'.
  config.model.lenet5 = ml_collections.ConfigDict(dict(activation="tanh"))
  # CIFAR ResNets (He et al. 2016), BatchNorm over all devices: depth 6n + 2,
  # stages of width, 2 width, 4 width channels. resnet32/44/56 are resnet20
  # with another default depth.
  config.model.resnet20 = ml_collections.ConfigDict(dict(depth=20, width=16))
  config.model.resnet32 = ml_collections.ConfigDict(dict(depth=32, width=16))
  config.model.resnet44 = ml_collections.ConfigDict(dict(depth=44, width=16))
  config.model.resnet56 = ml_collections.ConfigDict(dict(depth=56, width=16))
  # CIFAR ResNet-18: stages of width x (1, 2, 4, 8) channels.
  config.model.resnet18 = ml_collections.ConfigDict(dict(width=64))
  # A small Vision Transformer; patch_size must divide the image's sides,
  # width must be a multiple of num_heads, pool is 'cls' or 'mean'.
  config.model.vit_tiny = ml_collections.ConfigDict(
      dict(patch_size=4, width=128, depth=4, num_heads=4, mlp_dim=256,
           dropout_rate=0.0, pool="cls"))
  return config
