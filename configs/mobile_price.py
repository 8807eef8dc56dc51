"""Logistic regression on the mobile price table: 4 price classes.

  python launch.py --config=configs/mobile_price.py --workdir=runs/mobile
  python launch.py --config=configs/mobile_price.py \
      --config.data.path=PATH.csv --config.data.label_column=LABEL

Full-batch Adam on standardised features with a small L2 penalty. The default
`data.path` is the shared copy beside the repository (../shared/data/...);
give your own file with --config.data.path.
"""

import os

from configs import default

_REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MOBILE_PRICE_CSV = os.path.normpath(os.path.join(
    _REPO, "..", "shared", "data", "mobile-price", "train.csv"))


def get_config():
  config = default.get_config()
  config.model.name = "logistic"
  config.data.name = "csv"
  config.data.path = MOBILE_PRICE_CSV
  config.data.label_column = "price_range"
  config.train.full_batch = True  # 1,440 rows: one step per epoch.
  config.train.num_epochs = 1000
  config.train.log_every_steps = 100
  config.optimizer.name = "adam"
  config.optimizer.learning_rate = 0.1
  config.optimizer.l2 = 1e-4
  return config
