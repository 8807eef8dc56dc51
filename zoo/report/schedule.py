"""The learning rate at each update, for the metric records.

This mirrors the schedule of `zoo.optim.make_optimizer` (whose optimizer
state does not keep the rate); a schedule unknown here reports None rather
than a wrong number. TODO: have zoo.optim expose its schedule and use that.
"""

from typing import Callable, Optional

import ml_collections
import optax


def learning_rate_fn(cfg: ml_collections.ConfigDict,
                     total_steps: int) -> Callable[[int], Optional[float]]:
  """Returns `rate(count)`: the rate of update number `count` (0-based)."""
  if cfg.schedule == "constant":
    return lambda count: float(cfg.learning_rate)
  if cfg.schedule == "cosine":
    schedule = optax.cosine_decay_schedule(cfg.learning_rate,
                                           max(total_steps, 1))
    return lambda count: float(schedule(max(count, 0)))
  return lambda count: None
