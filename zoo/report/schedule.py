"""The learning rate at each update, for the metric records."""

from typing import Callable, Optional

from zoo.config.spec import OptimizerSpec
from zoo.train import optim


def learning_rate_fn(cfg: OptimizerSpec, total_steps: int,
                     steps_per_epoch: Optional[int] = None
                     ) -> Callable[[int], float]:
  """Returns `rate(count)`: the rate of update number `count` (0-based).

  The same schedule `zoo.train.optim.make_optimizer` trains with (the same
  arguments: `steps_per_epoch` converts the warmup to steps).
  """
  schedule = optim.learning_rate_schedule(cfg, total_steps, steps_per_epoch)
  return lambda count: float(schedule(max(count, 0)))
