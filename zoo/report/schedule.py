"""The learning rate at each update, for the metric records."""

from typing import Callable

import ml_collections

from zoo.train import optim


def learning_rate_fn(cfg: ml_collections.ConfigDict,
                     total_steps: int) -> Callable[[int], float]:
  """Returns `rate(count)`: the rate of update number `count` (0-based).

  The same schedule `zoo.train.optim.make_optimizer` trains with.
  """
  schedule = optim.learning_rate_schedule(cfg, total_steps)
  return lambda count: float(schedule(max(count, 0)))
