"""`launch.py --compare`: many runs stay readable, one row per run."""

import json
import pathlib

import pytest

from zoo import errors
from zoo.report import compare

WIDTH = 120
LEARNING_RATES = (1e-4, 3e-4, 1e-3, 3e-3)


def _results(i: int, **config) -> dict:
  """A results.json with the fields compare.py reads: run `i` of a sweep."""
  return {
      "model": "mlp", "dataset": "mnist", "num_params": 669_706,
      "num_train_examples": 4500, "num_validation_examples": 500,
      "num_test_examples": 10000, "steps": 350,
      "config": {
          "seed": 0, "model": {"name": "mlp"}, "data": {"name": "mnist"},
          "train": {"num_epochs": 10, "batch_size": 128},
          "optimizer": {"name": "adam", "learning_rate": 1e-3}, **config},
      "best_validation_accuracy": 0.9 + i / 1000,
      "best_validation_epoch": 10 - i % 3,
      "test_accuracy": 0.8 + i / 100, "test_loss": 0.25 + i / 50,
      "classification_report": {"macro avg": {"f1-score": 0.9 - i / 200}},
      "train_seconds": 2.5 * (i + 1), "num_devices": 1, "platform": "cpu",
  }


def _write(folder: pathlib.Path, results: dict) -> pathlib.Path:
  folder.mkdir(parents=True)
  (folder / "results.json").write_text(json.dumps(results))
  return folder


def _sweep(root: pathlib.Path, n: int = 12) -> list[pathlib.Path]:
  """`n` runs differing in learning rate, schedule and seed."""
  runs = []
  for i in range(n):
    lr, seed = LEARNING_RATES[i % 4], i // 4
    optimizer = {"name": "adam", "learning_rate": lr,
                 "schedule": "cosine" if i % 2 else "constant"}
    runs.append(_write(root / "runs" / f"sweep_lr{lr}_seed{seed}",
                       _results(i, seed=seed, optimizer=optimizer)))
  return runs


def _sections(text: str) -> tuple[list[str], list[str]]:
  """(the key-results lines, the 'Fields that differ' lines)."""
  results, _, differ = text.partition("Fields that differ:")
  return results.splitlines(), differ.strip("\n").splitlines()


def _row(lines: list[str], number: int) -> str:
  """The line of run `number` (1-based): its first column, below any rule."""
  rules = [i for i, l in enumerate(lines) if l and set(l) <= {"-", " "}]
  body = lines[rules[0] + 1:] if rules else lines
  return next(l for l in body if l.split()[:1] == [str(number)])


def _block(lines: list[str], number: int) -> str:
  """Run `number`'s line and its indented continuation lines, joined."""
  start = lines.index(_row(lines, number))
  block = [lines[start]]
  for line in lines[start + 1:]:
    if not line.startswith(" "):
      break
    block.append(line)
  return " ".join(block)


def test_twelve_runs_fit_120_columns_with_one_row_each(tmp_path):
  runs = _sweep(tmp_path)
  text = compare.compare_runs([str(tmp_path / "runs")])
  assert max(len(line) for line in text.splitlines()) <= WIDTH, text
  assert text.splitlines()[0] == "12 runs in " + compare.short_names(
      [str(r) for r in runs])[0]
  results, differ = _sections(text)
  for n, run in enumerate(sorted(runs), start=1):
    r = json.loads((run / "results.json").read_text())
    row = _row(results, n)
    assert run.name in row and str(tmp_path) not in row  # Short names.
    assert f"{r['test_accuracy']:.4f}" in row
    assert f"{r['best_validation_accuracy']:.4f}" in row
    row = _row(differ, n)
    assert run.name in row
    assert str(r["config"]["optimizer"]["learning_rate"]) in row
    assert r["config"]["optimizer"]["schedule"] in row
  assert "config.optimizer.learning_rate" in differ[0]
  assert "config.seed" in differ[0]
  assert "config.optimizer.name" not in text  # Adam in every run.
  assert ("Same in every run: model mlp; dataset mnist; params 669,706; "
          "epochs 10; steps 350; train/val/test 4500/500/10000; "
          "devices 1 x cpu.") in " ".join(text.split())  # Wrapped.


def test_long_names_and_many_differing_fields_still_fit(tmp_path):
  long_name = "run_with_a_rather_long_descriptive_name_" * 3
  runs = []
  for i in range(10):
    config = {f"field_{k}": f"value-{i}-{'x' * 20}" for k in range(6)}
    results = _results(i, seed=i, extra=config)
    results.update(model=f"my_own_model_with_a_long_name_{i}",
                   dataset=f"a_dataset_with_a_long_name_{i}")
    runs.append(_write(tmp_path / f"{long_name}{i}", results))
  text = compare.compare_runs([str(r) for r in runs])
  assert max(len(line) for line in text.splitlines()) <= WIDTH, text
  results, differ = _sections(text)
  for i in range(10):
    assert f"{0.8 + i / 100:.4f}" in _row(results, i + 1)
    items = _block(differ, i + 1)  # field=value lists: too many for a table.
    assert f"config.seed={i}" in items
    for k in range(6):
      assert f"config.extra.field_{k}=value-{i}-{'x' * 20}" in items


def test_differing_models_get_columns_and_facts_move_below(tmp_path):
  mlp = _write(tmp_path / "mlp", _results(0))
  cnn_results = _results(1, model={"name": "cnn"})
  cnn_results.update(model="cnn", num_params=12_345, num_devices=2, steps=175)
  cnn = _write(tmp_path / "cnn", cnn_results)
  text = compare.compare_runs([str(mlp), str(cnn)])
  results, differ = _sections(text)
  assert results[1].split()[:4] == ["#", "run", "model", "params"]
  assert _row(results, 1).split()[1:4] == ["mlp", "mlp", "669,706"]
  assert _row(results, 2).split()[1:4] == ["cnn", "cnn", "12,345"]
  assert "Same in every run: dataset mnist; epochs 10;" in text
  assert differ[0].split() == ["#", "run", "steps", "devices"]
  assert _row(differ, 2).split()[1:] == ["cnn", "175", "2", "x", "cpu"]
  assert "config.model.name" not in text  # Shown by the model column.


def test_one_run(tmp_path):
  run = _write(tmp_path / "only", _results(3))
  text = compare.compare_runs([str(run)])
  assert text.splitlines()[0] == "1 run in " + compare.short_names(
      [str(run)])[0]
  assert "0.8300" in _row(text.splitlines(), 1)
  assert "Details: model mlp;" in text and "Fields that differ" not in text


def test_missing_or_unreadable_results_are_errors(tmp_path):
  with pytest.raises(errors.DataError, match="results.json"):
    compare.compare_runs([str(tmp_path / "missing")])
  with pytest.raises(errors.ConfigError, match="--compare needs workdirs"):
    compare.compare_runs([])
  (tmp_path / "bad").mkdir()
  (tmp_path / "bad" / "results.json").write_text("{not json")
  with pytest.raises(errors.DataError, match="Cannot read"):
    compare.compare_runs([str(tmp_path / "bad")])
