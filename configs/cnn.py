"""The classic small CNN on MNIST.

Dropout 0.5 before the last layer and 15 epochs: on mnist-5k (4,500 train
after the validation split) this reached 0.972 test accuracy where the plain
10-epoch recipe without dropout overfitted to 0.958.
"""

from configs import default


def get_config():
  config = default.get_config()
  config.model.name = "cnn"
  config.model.cnn.dropout_rate = 0.5
  config.train.num_epochs = 15
  return config
