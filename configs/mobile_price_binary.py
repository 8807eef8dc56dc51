"""Logistic regression on the mobile price table, two classes: 0 vs 1.

The same recipe as configs/mobile_price.py with `data.classes=(0, 1)`: rows
of price ranges 2 and 3 are dropped and the model has two logits (softmax).
"""

from configs import mobile_price


def get_config():
  config = mobile_price.get_config()
  config.data.classes = (0, 1)
  return config
