"""Loss, accuracy and predictions of a state over a whole split."""

import time
from typing import Any

from absl import logging
import jax
import numpy as np

from zoo import data
from zoo.runtime import parallel
from zoo.train.build import Setup
from zoo.train.state import TrainState


# A pass that runs longer than this logs how far it got, every this often.
LOG_EVERY_S = 10.0


def evaluate(setup: Setup, state: TrainState, split: data.Split,
             eval_batch_size: int, name: str = "split") -> dict[str, Any]:
  """Loss and accuracy over every example of `split`, each counted once.

  Returns `loss`, `accuracy`, `count` and `predictions` (`[len(split)]`
  class indices). Each process evaluates its rows of every padded global
  batch; the sums are psummed over all devices and the predictions gathered.
  A long pass (big models on a CPU) logs its progress every `LOG_EVERY_S`
  seconds, naming the split (`name`).
  """
  n = len(setup.devices)
  per_device = -(-min(eval_batch_size, len(split)) // n)  # Ceil division.
  rows = parallel.process_rows(per_device * n, setup.devices)
  local = len(parallel.local_devices(setup.devices))
  loss_sum = correct = count = 0.0
  predictions = []
  t0 = last_log = time.perf_counter()
  for batch in data.eval_batches(split, per_device * n, rows=rows):
    # Fetching the sums waits for this batch: one step in flight at a time.
    sums, preds = setup.p_eval_step(state, parallel.shard(batch, local))
    sums = jax.device_get(sums)
    loss_sum += float(sums["loss_sum"][0])
    correct += float(sums["correct"][0])
    count += float(sums["count"][0])
    predictions.append(np.asarray(preds).reshape(-1))  # Padded local rows.
    if time.perf_counter() - last_log >= LOG_EVERY_S:
      last_log = time.perf_counter()
      logging.info("evaluating the %s split: %d/%d examples (%.0f s)", name,
                   min(int(count), len(split)), len(split), last_log - t0)
  if int(count) != len(split):
    raise AssertionError(f"Evaluated {count} examples, expected {len(split)}")
  # In order, padding last: [batches, global batch] -> the real examples.
  predictions = parallel.gather_rows(np.stack(predictions)).reshape(-1)
  return {"loss": loss_sum / count, "accuracy": correct / count,
          "count": int(count), "predictions": predictions[:len(split)]}
