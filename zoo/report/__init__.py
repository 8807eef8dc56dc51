"""Showing the results: log lines, progress bars, metric files, plots,
reports, the end-of-run summary and the comparison of runs.

`build_hooks` returns the train-loop hooks that write a workdir's outputs:
  log lines, metric records                (tracker.py, as the run goes)
  a progress bar per epoch                 (progress.py, on a terminal,
                                            instead of the step lines)
  metrics.jsonl, TensorBoard event files   (metrics.py, as the run goes)
  classification_report.txt                (classification.py, at the end)
  curves.png, confusion_matrix.png         (plots.py, at the end)
Only process 0 writes. They evaluate nothing: the loop hands them the
numbers. `format_summary` is the end-of-run screen; `compare_runs` the table
of runs.
"""

from zoo.config.spec import RunShape, RunSpec
from zoo.report.classification import ClassificationHook
from zoo.report.compare import compare_runs
from zoo.report.metrics import MetricsWriter
from zoo.report.plots import PlotsHook
from zoo.report import progress
from zoo.report.progress import ProgressHook
from zoo.report.schedule import learning_rate_fn
from zoo.report.summary import format_summary
from zoo.report.tracker import MetricsTracker
from zoo.train import hooks

__all__ = ["ClassificationHook", "MetricsTracker", "MetricsWriter",
           "PlotsHook", "ProgressHook", "build_hooks", "compare_runs",
           "end_of_run_hooks", "format_summary"]


def build_hooks(spec: RunSpec, shape: RunShape,
                workdir: str) -> list[hooks.Hook]:
  """The report hooks of a training run, in the order they must run (the
  tracker first: the others read its records)."""
  steps_per_epoch = shape.steps_per_epoch
  rate = learning_rate_fn(spec.optimizer,
                          steps_per_epoch * spec.train.num_epochs,
                          steps_per_epoch)
  if spec.members.rate_as_state:  # One rate per member: none to record.
    rate = lambda count: None  # noqa: E731
  bar = ProgressHook(shape.batch_size) if spec.report.progress_bar else None
  # A terminal shows the bar and the epoch lines; step lines would
  # interleave with the bar, so they go to metrics.jsonl (and DEBUG) only.
  tracker = MetricsTracker(spec.train.log_every_steps, shape.batch_size, rate,
                           log_steps=progress.log_step_lines(bar))
  out: list[hooks.Hook] = [tracker]
  if bar is not None:
    out.append(bar)
  out.append(MetricsWriter(tracker, workdir,
                           tensorboard=spec.report.tensorboard))
  return out + end_of_run_hooks(spec, workdir)


def end_of_run_hooks(spec: RunSpec, workdir: str) -> list[hooks.Hook]:
  """The hooks that write the test split's outputs (also after --mode=eval)."""
  out: list[hooks.Hook] = [ClassificationHook(workdir)]
  if spec.report.plots:
    out.append(PlotsHook(workdir))
  return out
