"""metrics.jsonl and TensorBoard event files, written as the run goes.

`metrics.jsonl` has one JSON object per line: each step record and epoch
record of the `MetricsTracker` (see tracker.py for the keys), then one
`kind: 'test'` row at the end (an ensemble's adds `member_test_loss`,
`member_test_accuracy`, `ensemble_test_loss`, `ensemble_test_accuracy`).
The TensorBoard files (tensorboardX: no
TensorFlow needed) hold the same scalars; `tensorboard --logdir WORKDIR`
shows them, and `--logdir` on a folder of workdirs compares runs. An
ensemble's member values go to `<tag>/member_<i>`, e.g.
`epoch/validation_accuracy/member_3`.
"""

import glob
import json
import os
from typing import Any, Optional, TextIO

from zoo.runtime import files
from zoo.report.tracker import MetricsTracker
from zoo.train import hooks

METRICS_FILE = "metrics.jsonl"
# Record key -> TensorBoard tag, for step records and epoch records.
_STEP_TAGS = {"train_loss": "train/loss", "train_accuracy": "train/accuracy",
              "learning_rate": "train/learning_rate",
              "examples_per_second": "train/examples_per_second",
              "skipped_steps": "train/skipped_steps",
              "loss_scale": "train/loss_scale"}
_EPOCH_TAGS = {"train_loss": "epoch/train_loss",
               "train_accuracy": "epoch/train_accuracy",
               "validation_loss": "epoch/validation_loss",
               "validation_accuracy": "epoch/validation_accuracy"}
# An ensemble's per-member values (lists, one per member) go to
# '<tag>/member_<i>' beside the mean's tag; the ensemble's own to its tag.
_STEP_TAGS.update(member_train_loss="train/loss",
                  member_train_accuracy="train/accuracy")
_EPOCH_TAGS.update(
    {f"member_{k}": v for k, v in _EPOCH_TAGS.items()},
    ensemble_validation_accuracy="epoch/ensemble_validation_accuracy")
_TEST_TAGS = {"test_loss": "test/loss", "test_accuracy": "test/accuracy",
              "member_test_loss": "test/loss",
              "member_test_accuracy": "test/accuracy",
              "ensemble_test_loss": "test/ensemble_loss",
              "ensemble_test_accuracy": "test/ensemble_accuracy"}


class MetricsWriter(hooks.Hook):
  """Appends the tracker's records to metrics.jsonl and TensorBoard files.

  Writes only on process 0; reads `tracker` (which must come before it).
  """

  def __init__(self, tracker: MetricsTracker, workdir: str,
               tensorboard: bool = True):
    self.tracker, self.workdir, self.tensorboard = tracker, workdir, tensorboard
    self._jsonl: Optional[TextIO] = None
    self._tb: Any = None

  def on_train_start(self, progress: Any) -> None:
    """A new run starts its files anew; a resumed one (progress.step > 0)
    keeps the records up to its checkpoint."""
    if not files.is_writer():
      return
    start = progress.step
    path = os.path.join(self.workdir, METRICS_FILE)
    kept = records_until(path, start) if start else []
    files.write_text(path, "".join(json.dumps(r) + "\n" for r in kept))
    self._jsonl = open(path, "a", encoding="utf-8")
    if not start:
      for stale in _event_files(self.workdir):
        os.remove(stale)
    if self.tensorboard:
      import tensorboardX  # pylint: disable=g-import-not-at-top
      # On resume, TensorBoard drops the earlier files' events after `start`.
      self._tb = tensorboardX.SummaryWriter(
          logdir=self.workdir, purge_step=start + 1 if start else None)

  def on_chunk_end(self, progress: Any, chunk: hooks.Chunk) -> None:
    if self.tracker.step_record is not None:
      self._write(self.tracker.step_record, _STEP_TAGS)

  def on_epoch_end(self, progress: Any, epoch: hooks.EpochSummary) -> None:
    self._write(self.tracker.epoch_record, _EPOCH_TAGS)

  def on_train_end(self, progress: Any, test: dict[str, Any]) -> None:
    if self._jsonl is None:
      return
    row = {"kind": "test", "step": progress.step,
           "epoch": progress.num_epochs, "test_loss": test["loss"],
           "test_accuracy": test["accuracy"]}
    if len(test.get("member_accuracy") or ()) > 1:  # An ensemble.
      row.update(member_test_loss=test["member_loss"],
                 member_test_accuracy=test["member_accuracy"],
                 ensemble_test_loss=test.get("ensemble_loss"),
                 ensemble_test_accuracy=test.get("ensemble_accuracy"))
    self._write(row, _TEST_TAGS)
    self.close()
    progress.files["metrics"] = os.path.join(self.workdir, METRICS_FILE)
    events = _event_files(self.workdir) if self.tensorboard else []
    if events:
      progress.files["tensorboard"] = max(events, key=os.path.getmtime)

  def close(self) -> None:
    """Closes metrics.jsonl and the TensorBoard writer (idempotent)."""
    if self._jsonl is not None:
      self._jsonl.close()
      self._jsonl = None
    if self._tb is not None:
      self._tb.close()
      self._tb = None

  def _write(self, record: dict[str, Any], tags: dict[str, str]) -> None:
    if self._jsonl is None:
      return
    self._jsonl.write(json.dumps(record) + "\n")
    self._jsonl.flush()  # `tail -f` shows each row as it comes.
    if self._tb is not None:
      for key, tag in tags.items():
        value = record.get(key)
        if isinstance(value, list):  # One per member.
          for i, member_value in enumerate(value):
            self._add_scalar(f"{tag}/member_{i}", member_value, record)
        elif value is not None:
          self._add_scalar(tag, value, record)

  def _add_scalar(self, tag: str, value: float,
                  record: dict[str, Any]) -> None:
    self._tb.add_scalar(tag, value, record["step"],
                        walltime=record.get("wall_time"))


def records_until(path: str, step: int) -> list[dict[str, Any]]:
  """The step and epoch records of `path` up to `step` (a line cut short
  by a crash is skipped)."""
  try:
    with open(path, encoding="utf-8") as f:
      lines = f.readlines()
  except OSError:
    return []
  records = []
  for line in lines:
    try:
      record = json.loads(line)
    except ValueError:
      continue
    if record.get("kind") in ("step", "epoch") and record["step"] <= step:
      records.append(record)
  return records


def _event_files(workdir: str) -> list[str]:
  return glob.glob(os.path.join(workdir, "events.out.tfevents.*"))
