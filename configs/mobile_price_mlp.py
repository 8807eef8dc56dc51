"""A small MLP (64 ReLU units) on the mobile price table, 4 classes.

The `mlp` model is unchanged; the recipe is smaller and more regularised than
the MNIST one because 1,440 training rows overfit a 512-512 MLP.
"""

from configs import mobile_price


def get_config():
  config = mobile_price.get_config()
  config.model.name = "mlp"
  config.model.mlp.hidden_sizes = (64,)
  config.train.num_epochs = 300
  config.optimizer.learning_rate = 0.01
  config.optimizer.l2 = 1e-2
  return config
