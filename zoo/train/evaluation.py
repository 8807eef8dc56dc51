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

  Returns `loss`, `accuracy` (means over the members), `member_loss`,
  `member_accuracy` (lists, one per member), `count` and `predictions`
  (`[len(split)]` class indices: the ensemble's); with
  `setup.p_eval_step` a `step.make_members_eval_step`, also
  `ensemble_loss` and `ensemble_accuracy` (the averaged probabilities).
  Each process evaluates its rows of every padded global batch; the sums
  are psummed over all devices and the predictions gathered. A long pass
  (big models on a CPU) logs its progress every `LOG_EVERY_S` seconds,
  naming the split (`name`).
  """
  n = len(setup.devices)
  per_device = -(-min(eval_batch_size, len(split)) // n)  # Ceil division.
  rows = parallel.process_rows(per_device * n, setup.devices)
  local = len(parallel.local_devices(setup.devices))
  totals: dict[str, np.ndarray] = {}
  predictions = []
  t0 = last_log = time.perf_counter()
  for batch in data.eval_batches(split, per_device * n, rows=rows):
    # Fetching the sums waits for this batch: one step in flight at a time.
    sums, preds = setup.p_eval_step(state, parallel.shard(batch, local))
    for key, value in jax.device_get(sums).items():  # Device 0's copy.
      totals[key] = totals.get(key, 0.0) + np.asarray(value[0], np.float64)
    predictions.append(np.asarray(preds).reshape(-1))  # Padded local rows.
    if time.perf_counter() - last_log >= LOG_EVERY_S:
      last_log = time.perf_counter()
      logging.info("evaluating the %s split: %d/%d examples (%.0f s)", name,
                   min(int(totals["count"]), len(split)), len(split),
                   last_log - t0)
  count = float(totals["count"])
  if int(count) != len(split):
    raise AssertionError(f"Evaluated {count} examples, expected {len(split)}")
  # In order, padding last: [batches, global batch] -> the real examples.
  predictions = parallel.gather_rows(np.stack(predictions)).reshape(-1)
  return {**_means(totals, count), "count": int(count),
          "predictions": predictions[:len(split)]}


def _means(totals: dict[str, np.ndarray], count: float) -> dict[str, Any]:
  """Per-member and mean loss and accuracy (and the ensemble's) of sums."""
  losses = np.atleast_1d(totals["loss_sum"]) / count
  accuracies = np.atleast_1d(totals["correct"]) / count
  out = {"loss": float(np.mean(losses)), "accuracy": float(np.mean(accuracies)),
         "member_loss": losses.tolist(), "member_accuracy": accuracies.tolist()}
  if "ensemble_correct" in totals:
    out["ensemble_loss"] = float(totals["ensemble_loss_sum"]) / count
    out["ensemble_accuracy"] = float(totals["ensemble_correct"]) / count
  return out
