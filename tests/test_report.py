"""The run's outputs: metrics.jsonl, TensorBoard, plots, classification
report, summary, --compare, the progress bar and the process-0 rule."""

import io
import json
import logging
import os
import pathlib
import struct
import subprocess
import sys
import types

import jax
import numpy as np
import pytest

import report_helpers

from zoo import errors
from zoo.config import resolve
from zoo.config import spec as spec_lib
from zoo import experiment
from zoo import report
from zoo.report import compare as compare_lib
from zoo.report import plots, progress, schedule
from zoo.train import ensemble
from zoo.train import hooks

REPO = pathlib.Path(__file__).resolve().parents[1]
CONTROL = ("\r", "\x1b")  # Carriage returns and ANSI escapes: bar drawing.


def _config(**overrides):
  """The conftest `base_config` (digits, batch 64), for module fixtures."""
  from configs import default  # pylint: disable=g-import-not-at-top
  config = default.get_config()
  config.data.name, config.data.allow_fallback = "digits", False
  config.train.num_epochs, config.train.batch_size = 2, 64
  config.train.eval_batch_size, config.train.log_every_steps = 100, 10
  config.update_from_flattened_dict(overrides)
  return config


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
  """One 2-epoch run on digits: (workdir, results)."""
  workdir = tmp_path_factory.mktemp("run")
  return workdir, experiment.train_and_evaluate(_config(), str(workdir))


def _rows(workdir):
  lines = (workdir / "metrics.jsonl").read_text().splitlines()
  return [json.loads(line) for line in lines]


def _png_size(path):
  data = pathlib.Path(path).read_bytes()
  assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
  return struct.unpack(">II", data[16:24]), len(data)


def test_every_file_is_written_and_listed(finished):
  workdir, results = finished
  names = {"results.json", "metrics.jsonl", "classification_report.txt",
           "curves.png", "confusion_matrix.png"}
  assert names <= set(os.listdir(workdir))
  assert set(results["files"]) == {"metrics", "tensorboard", "curves",
                                   "classification_report", "confusion_matrix"}
  for path in results["files"].values():
    assert os.path.isfile(path), path
  on_disk = json.loads((workdir / "results.json").read_text())
  assert on_disk["best_validation_epoch"] == results["best_validation_epoch"]


def test_metrics_rows_agree_with_results(finished):
  workdir, results = finished
  rows = _rows(workdir)
  keys = set(rows[0])
  epochs = [r for r in rows if r["kind"] == "epoch"]
  steps = [r for r in rows if r["kind"] == "step"]
  assert all(set(r) == keys for r in epochs + steps)
  assert [r["epoch"] for r in epochs] == [1, 2]
  assert epochs[-1]["step"] == steps[-1]["step"] == results["steps"]
  assert [r["step"] % 10 == 0 or r["step"] == results["steps"]
          for r in steps] == [True] * len(steps)
  val = [r["validation_accuracy"] for r in epochs]
  assert results["best_validation_accuracy"] == max(val)
  assert results["best_validation_epoch"] == 1 + val.index(max(val))
  assert results["final_validation_accuracy"] == val[-1]
  assert epochs[-1]["train_loss"] == pytest.approx(results["final_train_loss"])
  assert all(r["learning_rate"] == pytest.approx(1e-3) for r in steps)
  assert all(r["examples_per_second"] > 0 for r in steps + epochs)
  assert rows[-1] == {"kind": "test", "step": results["steps"], "epoch": 2,
                      "test_loss": results["test_loss"],
                      "test_accuracy": results["test_accuracy"]}
  total = results["num_train_examples"] + results["num_validation_examples"]
  assert results["num_validation_examples"] == pytest.approx(0.1 * total,
                                                             abs=10)


def test_tensorboard_holds_the_same_scalars(finished):
  workdir, results = finished
  scalars = report_helpers.tensorboard_scalars(results["files"]["tensorboard"])
  epochs = [r for r in _rows(workdir) if r["kind"] == "epoch"]
  got = scalars["epoch/validation_accuracy"]
  assert [s for s, _ in got] == [r["step"] for r in epochs]
  np.testing.assert_allclose([v for _, v in got],
                             [r["validation_accuracy"] for r in epochs],
                             rtol=1e-6)
  assert scalars["test/accuracy"][0][1] == pytest.approx(
      results["test_accuracy"])
  assert {"train/loss", "train/learning_rate", "epoch/train_loss"} <= set(
      scalars)


def test_plots_are_pngs_of_sensible_size(finished):
  _, results = finished
  for name in ("curves", "confusion_matrix"):
    (width, height), num_bytes = _png_size(results["files"][name])
    assert 400 <= width <= 2000 and 300 <= height <= 2000, (name, width)
    assert 10_000 < num_bytes < 200_000, (name, num_bytes)


def test_classification_report_matches_test_accuracy(finished):
  workdir, results = finished
  table = results["classification_report"]
  assert table["accuracy"] == pytest.approx(results["test_accuracy"],
                                            abs=1e-9)
  assert table["macro avg"]["support"] == results["num_test_examples"]
  assert set(results["class_names"]) <= set(table)
  text = (workdir / "classification_report.txt").read_text()
  accuracy_line = next(l for l in text.splitlines()
                       if l.strip().startswith("accuracy"))
  assert float(accuracy_line.split()[1]) == pytest.approx(
      results["test_accuracy"], abs=5e-5)
  for word in ("precision", "recall", "f1-score", "support"):
    assert word in text
  matrix = np.array(results["confusion_matrix"])
  assert matrix.sum() == results["num_test_examples"]
  assert np.trace(matrix) / matrix.sum() == pytest.approx(
      results["test_accuracy"])


def test_summary_fits_a_screen_and_names_every_file(finished):
  workdir, results = finished
  text = report.format_summary(results, str(workdir))
  lines = text.splitlines()
  assert len(lines) <= 24 and max(map(len, lines)) <= 100
  for path in results["files"].values():
    assert path in text
  assert os.path.join(str(workdir), "results.json") in text
  assert f"{results['test_accuracy']:.4f}" in text
  assert f"at epoch {results['best_validation_epoch']}" in text
  assert not any(c in text for c in CONTROL)


def test_compare_table_and_flag(finished, tmp_path):
  workdir, results = finished
  other = dict(results, test_accuracy=0.1234)
  other["config"] = json.loads(json.dumps(results["config"]))
  other["config"]["optimizer"]["learning_rate"] = 0.5
  (tmp_path / "b").mkdir()
  (tmp_path / "b" / "results.json").write_text(json.dumps(other))
  proc = subprocess.run(
      [sys.executable, "launch.py", "--compare", str(workdir),
       str(tmp_path)], cwd=REPO, capture_output=True, text=True, check=True)
  lines = proc.stdout.splitlines()
  assert lines[0].startswith("2 runs in ") and max(map(len, lines)) <= 120
  a, b = workdir.name, f"{tmp_path.name}/b"  # Under their common folder.
  rows = [l for l in lines if l.split()[:2] in (["1", a], ["2", b])]
  assert len(rows) == 4  # Each run's row of results, then of differences.
  assert f"{results['test_accuracy']:.4f}" in rows[0] and "0.1234" in rows[1]
  header = lines[lines.index("Fields that differ:") + 1]
  assert header.split() == ["#", "run", "config.optimizer.learning_rate"]
  assert rows[2].split()[2:] == ["0.001"] and rows[3].split()[2:] == ["0.5"]
  assert "config.seed" not in proc.stdout  # Same value.
  with pytest.raises(errors.DataError, match="results.json"):
    compare_lib.compare_runs([str(tmp_path / "missing")])


def test_no_validation_no_tensorboard_no_plots(tmp_path):
  results = experiment.train_and_evaluate(_config(**{
      "train.num_epochs": 1, "data.validation_fraction": 0.0,
      "report.tensorboard": False, "report.plots": False}), str(tmp_path))
  assert results["best_validation_epoch"] is None
  assert results["num_validation_examples"] == 0
  assert results["num_train_examples"] + results["num_test_examples"] == 1797
  written = os.listdir(tmp_path)
  assert not [f for f in written if f.endswith(".png") or "tfevents" in f]
  assert all(r.get("validation_accuracy") is None for r in _rows(tmp_path))


def test_only_process_zero_writes_files(tmp_path, monkeypatch):
  monkeypatch.setattr(jax, "process_index", lambda: 1)
  workdir = tmp_path / "work"
  results = experiment.train_and_evaluate(
      _config(**{"train.num_epochs": 1}), str(workdir))
  assert not workdir.exists() or not os.listdir(workdir)
  assert results["best_validation_epoch"] == 1  # Still computed.
  assert "files" not in results


def test_non_tty_output_has_no_progress_bar(tmp_path):
  proc = subprocess.run(
      [sys.executable, "launch.py", "--config=configs/mlp.py",
       "--config.data.name=digits", "--config.data.allow_fallback=False",
       "--config.train.num_epochs=1", "--config.train.batch_size=64",
       "--config.train.log_every_steps=5", f"--workdir={tmp_path}"],
      cwd=REPO, capture_output=True, text=True, check=True)
  assert not any(c in proc.stdout + proc.stderr for c in CONTROL)
  assert "%|" not in proc.stdout + proc.stderr  # No tqdm bar either.
  assert "step 20/20" in proc.stderr and "validation loss" in proc.stderr
  assert "run summary" in proc.stdout and "curves.png" in proc.stdout


def _fake_progress(step=0):
  setup = types.SimpleNamespace(steps_per_epoch=4, members=spec_lib.Members(
      seeds=(0,), data_seeds=(0,)))
  return types.SimpleNamespace(setup=setup,
                               step=step, num_epochs=2, total_steps=8,
                               train_seconds=1.0, files={},
                               best_epoch=lambda: None)


def _chunk(first, last, loss=0.5, accuracy=0.75, seconds=1.0, epoch=0):
  n = last - first
  return hooks.Chunk(first_step=first, last_step=last, epoch=epoch,
                     metrics={"loss": np.full(n, loss, np.float32),
                              "accuracy": np.full(n, accuracy, np.float32)},
                     seconds=seconds, ends_epoch=last % 4 == 0)


def _epoch(validation_loss=0.25, validation_accuracy=0.875):
  return hooks.EpochSummary(epoch=1, step=4, train_loss=0.5,
                            train_accuracy=0.75,
                            validation_loss=validation_loss,
                            validation_accuracy=validation_accuracy,
                            seconds=2.0)


def test_progress_bar_shows_loss_accuracy_and_rate():
  out = io.StringIO()
  hook = progress.ProgressHook(batch_size=8, enabled=True, file=out)
  for first in range(4):
    hook.on_chunk_end(_fake_progress(), _chunk(first, first + 1))
  hook.on_epoch_end(_fake_progress(), _epoch())
  hook.close()
  last = out.getvalue().split("\r")[-1]
  assert "epoch 1/2" in last and "100%" in last and "ex/s" in last
  assert "loss=0.5000" in last and "acc=0.7500" in last
  assert "val_loss=0.2500" in last and "val_acc=0.8750" in last


def test_progress_bar_is_off_when_file_is_not_a_terminal():
  out = io.StringIO()
  hook = progress.ProgressHook(batch_size=8, file=out)
  assert not hook.enabled
  hook.on_chunk_end(_fake_progress(), _chunk(0, 1))
  hook.on_epoch_end(_fake_progress(), _epoch())
  hook.close()
  assert out.getvalue() == ""


def test_step_records_come_at_chunks_that_pass_a_multiple():
  # No clock: each chunk brings its own wall time, so the rates are exact.
  tracker = report.MetricsTracker(log_every=4, batch_size=10,
                                  learning_rate_fn=lambda count: 0.1)
  tracker.on_train_start(_fake_progress())
  records = []
  for first, last, seconds, loss in ((0, 3, 3.0, 1.0), (3, 6, 1.0, 0.0),
                                     (6, 7, 0.5, 2.0), (7, 8, 0.25, 4.0)):
    tracker.on_chunk_end(_fake_progress(last),
                         _chunk(first, last, loss=loss, seconds=seconds))
    records.append(tracker.step_record)
  assert records[0] is None and records[2] is None  # 3 and 7: no multiple.
  second, last = records[1], records[3]
  assert second["step"] == 6 and last["step"] == 8  # 6 passed 4; 8: the end.
  assert second["examples_per_second"] == pytest.approx(60 / 4.0)
  assert second["train_loss"] == pytest.approx(0.5)  # Steps 1..6.
  assert last["examples_per_second"] == pytest.approx(20 / 0.75)
  assert last["train_loss"] == pytest.approx(3.0)  # Steps 7 and 8.


def test_log_lines_clear_the_bar_first():
  out = io.StringIO()
  hook = progress.ProgressHook(batch_size=8, enabled=True, file=out)
  hook.on_chunk_end(_fake_progress(), _chunk(0, 1))
  stream = progress._BarSafeStream(out, hook)  # pylint: disable=protected-access
  stream.write("I0101 a log line")
  assert "a log line" not in out.getvalue()  # Waits for the whole line.
  stream.write("\n")
  before, after = out.getvalue().split("I0101 a log line\n")
  assert before.endswith("\r") and after.startswith("\r")  # Bar redrawn.


class _FakeTerminal(io.StringIO):
  """A stream that says it is a terminal."""

  def isatty(self):
    return True


def _step_lines(tracker, caplog):
  """The INFO step lines `tracker` logs for one chunk that ends the run."""
  caplog.clear()
  with caplog.at_level(logging.INFO, logger="absl"):
    tracker.on_train_start(_fake_progress(8))
    tracker.on_chunk_end(_fake_progress(8), _chunk(0, 8))
  assert tracker.step_record is not None  # metrics.jsonl gets it either way.
  return [r.getMessage() for r in caplog.records
          if r.levelno >= logging.INFO and r.getMessage().startswith("step ")]


@pytest.mark.parametrize("stdout_tty,log_tty,bar,step_lines", [
    (True, True, True, False),    # A terminal: the bar, no step lines.
    (False, False, True, True),   # CI, a pipe: today's log lines.
    (True, False, True, True),    # Log redirected to a file: it keeps them.
    (True, True, False, True),    # --config.report.progress_bar=False.
])
def test_on_a_terminal_the_bar_replaces_the_step_lines(
    monkeypatch, caplog, stdout_tty, log_tty, bar, step_lines):
  stream_type = _FakeTerminal if stdout_tty else io.StringIO
  monkeypatch.setattr(sys, "stdout", stream_type())
  handler = progress._absl_python_handler()  # pylint: disable=protected-access
  monkeypatch.setattr(handler, "stream",
                      _FakeTerminal() if log_tty else io.StringIO())
  config = _config(**{"report.progress_bar": bar})
  shape = spec_lib.RunShape(batch_size=64, steps_per_epoch=4,
                            input_shape=(8, 8, 1), num_classes=10)
  built = report.build_hooks(resolve.resolve(config), shape, "unused")
  tracker = built[0]
  assert isinstance(tracker, report.MetricsTracker)
  assert tracker.log_steps == step_lines
  assert any(isinstance(h, report.ProgressHook) and h.enabled
             for h in built) == (stdout_tty and bar)
  lines = _step_lines(tracker, caplog)
  assert len(lines) == (1 if step_lines else 0), lines


def test_learning_rate_follows_the_schedule():
  cfg = _config().optimizer
  assert schedule.learning_rate_fn(cfg, 100)(50) == pytest.approx(1e-3)
  cfg.schedule = "cosine"
  rate = schedule.learning_rate_fn(cfg, 100)
  assert rate(0) == pytest.approx(1e-3)
  assert rate(50) == pytest.approx(5e-4)
  assert rate(100) == pytest.approx(0.0, abs=1e-9)


def test_metrics_writer_starts_fresh_files(tmp_path):
  (tmp_path / "events.out.tfevents.1.old").write_bytes(b"stale")
  (tmp_path / "metrics.jsonl").write_text('{"stale": 1}\n')
  tracker = types.SimpleNamespace(step_record=None, epoch_record=None)
  writer = report.MetricsWriter(tracker, str(tmp_path))
  run = _fake_progress()
  writer.on_train_start(run)
  writer.on_train_end(run, {"loss": 1.0, "accuracy": 0.5})
  events = [f for f in os.listdir(tmp_path) if "tfevents" in f]
  assert len(events) == 1 and not events[0].endswith(".old")
  assert [r["kind"] for r in _rows(tmp_path)] == ["test"]
  assert run.files["metrics"] == str(tmp_path / "metrics.jsonl")


def test_metrics_writer_closes_its_files_when_the_run_fails(tmp_path):
  tracker = types.SimpleNamespace(step_record=None, epoch_record=None)
  writer = report.MetricsWriter(tracker, str(tmp_path))
  writer.on_train_start(_fake_progress())
  jsonl, tb = writer._jsonl, writer._tb  # pylint: disable=protected-access
  writer.close()  # What the loop calls after an error or a signal.
  assert jsonl.closed and writer._tb is None  # pylint: disable=W0212
  writer.close()  # Twice is harmless.
  del tb


def _ensemble_history(num_epochs=3, k=3):
  """Epoch records of a K-member run: member m's values are base + m / 100."""
  history = []
  for e in range(1, num_epochs + 1):
    record = {"epoch": e}
    for split in ("train", "validation"):
      for metric, base in (("loss", 1.0 / e), ("accuracy", 0.5 + e / 10)):
        values = [base + m / 100 for m in range(k)]
        record[f"member_{split}_{metric}"] = values
        record[f"{split}_{metric}"] = float(np.mean(values))
    history.append(record)
  return history


def test_curves_of_seeds_draw_the_mean_and_a_min_max_band(tmp_path):
  history = _ensemble_history()
  fig = plots.plot_curves(history, str(tmp_path / "c.png"), "t", 3)
  loss_ax, accuracy_ax = fig.axes
  bands = accuracy_ax.collections
  assert len(bands) == 2  # train and validation
  for band, split in zip(bands, ("train", "validation")):
    ys = band.get_paths()[0].vertices[:, 1]
    lows = [min(r[f"member_{split}_accuracy"]) for r in history]
    highs = [max(r[f"member_{split}_accuracy"]) for r in history]
    assert min(ys) == pytest.approx(min(lows))
    assert max(ys) == pytest.approx(max(highs))
  means = [line for line in loss_ax.lines if "mean of 3" in line.get_label()]
  assert len(means) == 2
  np.testing.assert_allclose(means[1].get_ydata(),
                             [r["validation_loss"] for r in history])
  assert (tmp_path / "c.png").stat().st_size > 0


def test_curves_of_a_rate_sweep_draw_one_line_per_member(tmp_path):
  history = _ensemble_history(k=2)
  labels = ["seed 0, lr 0.01", "seed 0, lr 0.001"]
  fig = plots.plot_curves(history, str(tmp_path / "c.png"), "t", None,
                          member_labels=labels)
  accuracy_ax = fig.axes[1]
  assert not accuracy_ax.collections  # No band.
  lines = {line.get_label(): line for line in accuracy_ax.lines}
  assert set(lines) == {f"{split} accuracy, {label}" for split in
                        ("train", "validation") for label in labels}
  np.testing.assert_allclose(
      lines["validation accuracy, seed 0, lr 0.001"].get_ydata(),
      [r["member_validation_accuracy"][1] for r in history])
