"""`train_and_evaluate`: a whole training run in a workdir (what launch.py
runs): checks, data and model, resume, the loop with its hooks, results."""

import os
import time
from typing import Any, Optional, Sequence

from absl import logging

from zoo import report
from zoo.checkpoint import hook as checkpoint_hook
from zoo.config import resolve
from zoo.config.spec import RunSpec
from zoo.experiment import results as results_lib
from zoo.experiment import workdir as workdir_lib
from zoo.runtime import distributed
from zoo.runtime import files
from zoo.train import divergence
from zoo.train import ensemble
from zoo.train import hooks as hooks_lib
from zoo.train import loop
from zoo.train import build
from zoo.train import signals
from zoo.train.state import num_params
from zoo.runtime import parallel


def train_and_evaluate(
    config: resolve.Config, workdir: str,
    extra_hooks: Sequence[hooks_lib.Hook] = (),
    cluster: Optional[distributed.Cluster] = None) -> dict[str, Any]:
  """Trains (resuming from workdir's latest checkpoint), evaluates on the
  test split and writes workdir/results.json; returns the results.

  `extra_hooks` run after the report hooks, before the checkpoints.
  `cluster`: the processes to join for a multi-process run (launch.py's
  flags); None runs alone unless JAX detects a cluster.
  """
  t_start = time.perf_counter()
  spec = resolve.resolve(config)
  distributed.initialize(spec, cluster)
  # Only the one process that writes there.
  with workdir_lib.claim(workdir, enabled=files.is_writer()), \
      distributed.collective_errors(), \
      ensemble.out_of_memory_hint(spec.members):
    setup = build.setup(spec)
    _log_start(spec, setup)
    if setup.dataset.preprocessing is not None and files.is_writer():
      files.write_json(os.path.join(workdir, "preprocessing.json"),
                       setup.dataset.preprocessing)
    checkpoints = checkpoint_hook.CheckpointHook(workdir, spec)
    try:
      progress = checkpoints.resume(setup)
    except BaseException:
      checkpoints.close()
      raise
    progress.started_at = t_start
    hooks = [divergence.NonFiniteGuard(checkpoints.describe_last),
             *report.build_hooks(spec, setup.shape, workdir),
             *extra_hooks, checkpoints]  # Checkpoints last: after the others.
    with signals.stop_on_signals():
      progress = loop.train(setup, hooks, progress)
    results = results_lib.build(progress)
    if files.is_writer():  # Multi-host: only process 0 writes files.
      files.write_json(os.path.join(workdir, results_lib.RESULTS_FILE),
                       results)
  test = progress.test
  logging.info("test accuracy %.4f  test loss %.4f  (%d examples); trained "
               "in %.1f s", test["accuracy"], test["loss"], test["count"],
               progress.train_seconds)
  return results


def _log_start(spec: RunSpec, setup: build.Setup) -> None:
  ds = setup.dataset
  num_val = len(ds.validation) if ds.validation is not None else 0
  logging.info("Model %s (%s parameters) on %s: %d train / %d validation / "
               "%d test examples of shape %s, %d classes; %d %s device(s).",
               spec.model.name,
               f"{num_params(_first_member(setup)):,}",
               ds.name, len(ds.train), num_val, len(ds.test), ds.input_shape,
               ds.num_classes, len(setup.devices), setup.devices[0].platform)


def _first_member(setup: build.Setup):
  """Member 0's params (host copies of device 0's)."""
  return ensemble.member(parallel.unreplicate(setup.state.params), 0,
                         setup.members.size)
