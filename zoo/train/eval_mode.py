"""`launch.py --mode=eval`: re-evaluates a workdir's latest checkpoint.

It loads the data named by the config, restores the latest whole checkpoint
(written on any number of devices) onto this host's devices, evaluates the
test split and writes WORKDIR/results.json with the fields a training run
writes, plus `mode` and `checkpoint`.
"""

import json
import os
from typing import Any

from absl import logging
import ml_collections

from zoo import checkpoint
from zoo import parallel
from zoo.train import checkpoint_hook
from zoo.train import loop

# Facts about the training itself, kept from the run's own results.json.
_TRAIN_FIELDS = ("train_seconds", "final_train_loss", "final_train_accuracy")


def run_eval(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
  """Evaluates the latest checkpoint in `workdir`; returns the results."""
  if checkpoint_hook.latest_step(workdir) is None:
    raise checkpoint.CheckpointError(
        f"No checkpoint in {checkpoint.checkpoint_dir(workdir)} to evaluate. "
        "Train first: python launch.py --config=... --workdir=" + workdir)
  s = loop.setup(config)
  hook = checkpoint_hook.CheckpointHook(workdir, config, read_only=True)
  restored = hook.restore(s)
  hook.close()
  if restored is None:  # Raced with a deletion.
    raise checkpoint.CheckpointError(f"No checkpoint left in {workdir}.")
  state = parallel.replicate(restored.state, s.devices)
  logging.info("Evaluating %s (step %d, saved on %s device(s)) on %d "
               "device(s).", restored.path, restored.step,
               restored.meta.get("num_devices"), len(s.devices))
  test = loop.evaluate(s, state, s.dataset.test, config.train.eval_batch_size)
  results = loop.make_results(config, s, state, test, 0.0, {})
  path = os.path.join(workdir, "results.json")
  results.update(_previous_train_fields(path, restored.step))
  results.update(mode="eval", checkpoint=restored.path)
  loop.write_json(path, results)
  logging.info("test accuracy %.4f  test loss %.4f  (%d examples) at step %d",
               test["accuracy"], test["loss"], test["count"], restored.step)
  return results


def _previous_train_fields(path: str, step: int) -> dict[str, Any]:
  """Train-time fields of an earlier results.json for the same step."""
  try:
    with open(path, encoding="utf-8") as f:
      previous = json.load(f)
  except (OSError, ValueError):
    return {}
  if previous.get("steps") != step:
    return {}
  return {k: previous[k] for k in _TRAIN_FIELDS if k in previous}
