"""A recipe for examples/my_net.py, with its hyperparameters in the config.

  python launch.py --config=examples/my_net_config.py \
      --config.model.my_net.width=32
"""

from configs import default


def get_config():
  config = default.get_config()
  config.model.module = "examples/my_net.py"
  config.model.name = "my_net"
  config.model.my_net = dict(width=64)
  return config
