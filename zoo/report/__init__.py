"""Showing the results: progress bars, metric files, plots, reports, summary.

`build_hooks` returns the train-loop hooks that write a workdir's outputs:
  metrics.jsonl, TensorBoard event files   (metrics.py, as the run goes)
  curves.png, confusion_matrix.png         (plots.py, at the end)
  classification_report.txt                (classification.py, at the end)
and add to results.json the best validation epoch, the classification
report and the paths written (`results['files']`). Only process 0 writes.
`format_summary` is the end-of-run screen; `compare_runs` the table of runs.
"""

from typing import Any, Callable

import ml_collections

from zoo.report.classification import ClassificationHook
from zoo.report.compare import compare_runs
from zoo.runtime.files import is_writer
from zoo.report.metrics import MetricsWriter
from zoo.report.plots import PlotsHook
from zoo.report.progress import ProgressHook
from zoo.report.schedule import learning_rate_fn
from zoo.report.summary import format_summary
from zoo.report.tracker import MetricsTracker
from zoo.train import hooks

__all__ = ["ClassificationHook", "MetricsTracker", "MetricsWriter",
           "PlotsHook", "ProgressHook", "build_hooks", "compare_runs",
           "format_summary", "is_writer"]


def build_hooks(config: ml_collections.ConfigDict, workdir: str,
                steps_per_epoch: int,
                evaluate_fn: Callable[[Any, Any], dict[str, Any]],
                ) -> list[hooks.Hook]:
  """The report hooks, in the order they must run (the tracker first).

  `evaluate_fn(run, split)` evaluates the current state on a split (it is
  `zoo.train.loop.evaluate` bound to the run's setup and eval batch size).
  """
  cfg = config.get("report") or {}  # Configs not built on default.py.
  tracker = MetricsTracker(
      evaluate_fn, config.train.log_every_steps, config.train.batch_size,
      learning_rate_fn(config.optimizer,
                       steps_per_epoch * config.train.num_epochs))
  out: list[hooks.Hook] = [tracker]
  if cfg.get("progress_bar", True):
    out.append(ProgressHook(tracker, config.train.batch_size))
  out.append(MetricsWriter(tracker, workdir,
                           tensorboard=cfg.get("tensorboard", True)))
  out.append(ClassificationHook(workdir))
  if cfg.get("plots", True):
    out.append(PlotsHook(tracker, workdir))
  return out
