"""`evaluate_checkpoint` (launch.py --mode=eval): re-evaluates a workdir's
latest checkpoint.

It loads the data named by the config, restores the latest whole checkpoint
(written on any number of devices) onto this host's devices, evaluates the
test split, rewrites the test split's outputs (classification report,
confusion matrix) and WORKDIR/results.json, built as a training run builds
it, plus `mode` and `checkpoint`. Facts about the training (time, history,
the best validation epoch) come from the checkpoint.
"""

import os
from typing import Any, Optional

from absl import logging

from zoo import checkpoint
from zoo import report
from zoo.checkpoint import hook as checkpoint_hook
from zoo.config import resolve
from zoo.experiment import results as results_lib
from zoo.experiment import workdir as workdir_lib
from zoo.report import metrics
from zoo.runtime import distributed
from zoo.runtime import files
from zoo.runtime import parallel
from zoo.train import evaluation
from zoo.train import loop
from zoo.train import build


def evaluate_checkpoint(
    config: resolve.Config, workdir: str,
    cluster: Optional[distributed.Cluster] = None) -> dict[str, Any]:
  """Evaluates the latest checkpoint in `workdir`; returns the results."""
  spec = resolve.resolve(config)
  distributed.initialize(spec, cluster)
  if files.is_writer() and checkpoint_hook.latest_step(workdir) is None:
    raise checkpoint.CheckpointError(
        f"No checkpoint in {checkpoint.checkpoint_dir(workdir)} to evaluate. "
        "Train first: python launch.py --config=... --workdir=" + workdir)
  with workdir_lib.lock(workdir, enabled=files.is_writer()), \
      distributed.collective_errors():
    setup = build.setup(spec)
    hook = checkpoint_hook.CheckpointHook(workdir, spec, read_only=True)
    try:
      restored = hook.restore(setup)
    finally:
      hook.close()
    if restored is None:
      raise checkpoint.CheckpointError(
          f"No checkpoint in {checkpoint.checkpoint_dir(workdir)} to "
          "evaluate.")
    setup.state = parallel.replicate(restored.state, setup.devices)
    logging.info("Evaluating %s (step %d, saved on %s device(s)) on %d "
                 "device(s).", restored.path, restored.step,
                 restored.meta.get("num_devices", "?"), len(setup.devices))
    progress = loop.start(setup, restored.meta)
    progress.test = evaluation.evaluate(setup, progress.state,
                                        setup.dataset.test,
                                        spec.train.eval_batch_size, "test")
    end_hooks = report.end_of_run_hooks(spec, workdir)
    try:
      for hook in end_hooks:
        hook.on_train_end(progress, progress.test)
    finally:
      loop.close_all(end_hooks)
    jsonl = os.path.join(workdir, metrics.METRICS_FILE)
    if os.path.isfile(jsonl):  # Written by the training run.
      progress.files.setdefault("metrics", jsonl)
    results = results_lib.build(progress)
    results.update(mode="eval", checkpoint=restored.path)
    if files.is_writer():
      files.write_json(os.path.join(workdir, results_lib.RESULTS_FILE),
                       results)
  test = progress.test
  logging.info("test accuracy %.4f  test loss %.4f  (%d examples) at step %d",
               test["accuracy"], test["loss"], test["count"], restored.step)
  return results
