"""The training recipe of each catalogue model (a helper, not a recipe
file itself: launch.py takes the dataset files), shared by the dataset recipe
files (configs/fashion_mnist.py, configs/cifar10.py).

A recipe sets the model, its optimizer and schedule, the epochs and the
augmentation; the dataset file sets the data. Values follow the papers'
CIFAR recipes scaled to a 2-core CPU (fewer epochs); the measured accuracy of
each is in docs/MODELS.md once its run exists.
"""

import ml_collections

from zoo import errors

MODELS = ("logistic", "mlp", "cnn", "lenet5", "resnet20", "resnet18",
          "vit_tiny")


def apply(config: ml_collections.ConfigDict, model: str,
          flips: bool) -> ml_collections.ConfigDict:
  """Sets `config` up for `model`; `flips`: left-right flips suit the data."""
  if model not in MODELS:
    raise errors.ConfigError(
        f"Unknown recipe {model!r}: give one of {', '.join(MODELS)} after "
        "the colon, e.g. --config=configs/fashion_mnist.py:resnet20.")
  config.model.name = model
  train, opt = config.train, config.optimizer
  crop_and_flip = ("crop", "flip") if flips else ("crop",)
  if model == "logistic":
    train.num_epochs = 10
  elif model == "mlp":
    config.model.mlp.dropout_rate = 0.2
    train.num_epochs = 20
  elif model == "cnn":
    config.model.cnn.dropout_rate = 0.5
    train.num_epochs = 20
    opt.schedule = "cosine"
  elif model == "lenet5":
    # ReLU and flips only: on Fashion-MNIST (seed 0) tanh without
    # augmentation reached 0.893 in 20 epochs, tanh with crops and flips
    # 0.887 and ReLU with them 0.896 in 30 (crops make this small model
    # underfit), ReLU without augmentation 0.899 in 20, ReLU with flips 0.904.
    config.model.lenet5.activation = "relu"
    train.num_epochs = 30
    opt.schedule = "cosine"
    config.data.augment = ("flip",) if flips else ()
  elif model in ("resnet20", "resnet18"):
    # 20 epochs: resnet20 trains Fashion-MNIST in under an hour on 2 CPU cores.
    train.num_epochs = 20 if model == "resnet20" else 30
    opt.name, opt.learning_rate, opt.momentum = "sgd", 0.1, 0.9
    opt.nesterov = True
    opt.l2 = 5e-4
    opt.schedule, opt.warmup_epochs = "cosine", 1.0
    train.label_smoothing = 0.1
    config.data.augment = crop_and_flip
  elif model == "vit_tiny":
    # 15 epochs: 31 minutes of Fashion-MNIST on 2 CPU cores (docs/MODELS.md).
    train.num_epochs = 15
    opt.name, opt.learning_rate, opt.weight_decay = "adamw", 1e-3, 0.05
    opt.schedule, opt.warmup_epochs = "cosine", 2.0
    opt.clip_norm = 1.0
    train.label_smoothing = 0.1
    config.data.augment = crop_and_flip
  return config
