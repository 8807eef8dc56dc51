"""`launch.py --mode=eval`: re-evaluates a workdir's latest checkpoint.

It loads the data named by the config, restores the latest whole checkpoint
(written on any number of devices) onto this host's devices, evaluates the
test split and rewrites WORKDIR/results.json with the fields a training run
writes, plus `mode` and `checkpoint`. The test-split fields (accuracy, loss,
classification report, confusion matrix and its plot) are computed afresh;
facts about the training itself (time, train and validation metrics, the
best validation epoch) are kept from the training run's results.json when it
is for the same step (else train_seconds is 0 and the others None).
"""

import json
import os
from typing import Any

from absl import logging
import jax
import ml_collections

from zoo import checkpoint
from zoo.runtime import parallel
from zoo import report
from zoo.checkpoint import hook as checkpoint_hook
from zoo.train import loop

# Facts about the training, kept from the run's own results.json.
TRAIN_FIELDS = ("train_seconds", "seconds_to_first_step",
                "final_train_loss", "final_train_accuracy",
                "best_validation_accuracy", "best_validation_epoch",
                "final_validation_accuracy", "final_validation_loss")
# The report hooks whose end-of-run outputs are about the test split.
_END_HOOKS = (report.MetricsTracker, report.ClassificationHook,
              report.PlotsHook)


def run_eval(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
  """Evaluates the latest checkpoint in `workdir`; returns the results."""
  if jax.process_count() == 1 and checkpoint_hook.latest_step(workdir) is None:
    raise checkpoint.CheckpointError(
        f"No checkpoint in {checkpoint.checkpoint_dir(workdir)} to evaluate. "
        "Train first: python launch.py --config=... --workdir=" + workdir)
  s = loop.setup(config)
  hook = checkpoint_hook.CheckpointHook(workdir, config, read_only=True)
  restored = hook.restore(s)
  hook.close()
  if restored is None:
    raise checkpoint.CheckpointError(
        f"No checkpoint in {checkpoint.checkpoint_dir(workdir)} to evaluate.")
  state = parallel.replicate(restored.state, s.devices)
  logging.info("Evaluating %s (step %d, saved on %s device(s)) on %d "
               "device(s).", restored.path, restored.step,
               restored.meta.get("num_devices", "?"), len(s.devices))
  batch = config.train.eval_batch_size
  test = loop.evaluate(s, state, s.dataset.test, batch)
  results = loop.make_results(config, s, state, test, 0.0)
  ctx = loop.RunContext(setup=s, config=config, state=state,
                        total_steps=s.steps_per_epoch * config.train.num_epochs,
                        num_epochs=config.train.num_epochs,
                        step=restored.step, state_step=restored.step,
                        test=test)
  hooks = report.build_hooks(config, workdir, s.steps_per_epoch,
                             lambda c, split: loop.evaluate(s, c.state, split,
                                                            batch))
  for h in hooks:
    if isinstance(h, _END_HOOKS):
      h.on_train_end(ctx, results)
  path = os.path.join(workdir, "results.json")
  previous = _previous_results(path, restored.step)
  results.update({k: previous[k] for k in TRAIN_FIELDS if k in previous})
  results["files"] = {**previous.get("files", {}), **results.get("files", {})}
  results.update(mode="eval", checkpoint=restored.path)
  if report.is_writer():
    loop.write_json(path, results)
  logging.info("test accuracy %.4f  test loss %.4f  (%d examples) at step %d",
               test["accuracy"], test["loss"], test["count"], restored.step)
  return results


def _previous_results(path: str, step: int) -> dict[str, Any]:
  """An earlier results.json, if it is for the same step."""
  try:
    with open(path, encoding="utf-8") as f:
      previous = json.load(f)
  except (OSError, ValueError):
    return {}
  return previous if previous.get("steps") == step else {}
