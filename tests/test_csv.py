"""The CSV table source, L2, full-batch training, the mobile price recipes."""

import json
import os
import pathlib
import subprocess
import sys

import jax.numpy as jnp
import numpy as np
import pytest

from data_helpers import load_data

from conftest import MOBILE_PRICE, REPO
from zoo import data, errors
from zoo.config import resolve
from zoo.config import spec
from zoo.train import optim
from zoo.data import csv_table
from zoo import experiment
from zoo import train

HEADER = ("a", "b", "note", "label")


def write_csv(path: pathlib.Path, rows, header=HEADER) -> str:
  lines = [",".join(header)] + [",".join(str(c) for c in r) for r in rows]
  path.write_text("\n".join(lines) + "\n", encoding="utf-8")
  return str(path)


def table_rows(n=60, labels=(0, 1, 2), seed=0):
  """Rows (a, b, note, label): `a` grows with the label, `b` is noise."""
  rng = np.random.default_rng(seed)
  ys = [labels[i % len(labels)] for i in range(n)]
  return [(round(3.0 * labels.index(y) + rng.normal(), 4),
           round(100 + 10 * rng.normal(), 4), "x", y) for y in ys]


@pytest.fixture
def csv_config(base_config, tmp_path):
  """base_config reading a generated 3-class table (features a, b)."""
  config = base_config
  config.data.name = "csv"
  config.data.path = write_csv(tmp_path / "t.csv", table_rows())
  config.data.feature_columns = ("a", "b")
  config.train.batch_size = 8
  return config


def test_loads_stratified_splits(csv_config):
  ds = load_data(csv_config.data, csv_config.seed)
  assert ds.input_shape == (2,) and ds.num_classes == 3
  assert ds.class_names == ("0", "1", "2")
  assert ds.train.inputs.dtype == np.float32
  assert ds.train.labels.dtype == np.int32
  sizes = [len(ds.train), len(ds.validation), len(ds.test)]
  assert sizes == [42, 6, 12]  # Per class: test 4 of 20, validation 2 of 16.
  for split in (ds.train, ds.validation, ds.test):
    assert set(split.labels.tolist()) == {0, 1, 2}  # Every class in each.
  again = load_data(csv_config.data, csv_config.seed)
  np.testing.assert_array_equal(again.test.inputs, ds.test.inputs)
  other = load_data(csv_config.data, csv_config.seed + 1)
  assert not np.array_equal(other.test.inputs, ds.test.inputs)


def test_standardises_with_train_statistics_only(csv_config):
  ds = load_data(csv_config.data, csv_config.seed)
  prep = ds.preprocessing
  assert prep["feature_columns"] == ["a", "b"] and prep["standardized"]
  np.testing.assert_allclose(ds.train.inputs.mean(0), 0.0, atol=1e-5)
  np.testing.assert_allclose(ds.train.inputs.std(0), 1.0, atol=1e-5)
  # Undone with the saved statistics, every row is one of the file's, and
  # those statistics are the train rows' ones, not the whole file's.
  table = np.array([(a, b) for a, b, _, _ in table_rows()])
  raw = {k: s.inputs * np.float32(prep["std"]) + np.float32(prep["mean"])
         for k, s in [("train", ds.train), ("test", ds.test)]}
  distances = {k: np.abs(x[:, None] - table[None]).max(-1)
               for k, x in raw.items()}
  for k, d in distances.items():
    assert d.min(1).max() < 1e-3, k
  train_rows = table[distances["train"].argmin(1)]
  np.testing.assert_allclose(prep["mean"], train_rows.mean(0), rtol=1e-5)
  np.testing.assert_allclose(prep["std"], train_rows.std(0), rtol=1e-4)
  assert not np.allclose(prep["mean"], table.mean(0))
  np.testing.assert_allclose(csv_table.standardize(raw["test"], prep),
                             ds.test.inputs, atol=1e-5)


def test_every_other_column_is_a_feature_by_default(tmp_path, csv_config):
  rows = [(a, b, 7, y) for a, b, _, y in table_rows()]
  csv_config.data.path = write_csv(tmp_path / "n.csv", rows)
  csv_config.data.feature_columns = ()
  ds = load_data(csv_config.data, 0)
  assert ds.preprocessing["feature_columns"] == ["a", "b", "note"]
  assert ds.input_shape == (3,)


def test_string_labels_keep_their_names(tmp_path, csv_config):
  rows = table_rows(labels=("mid", "cheap", "dear"))
  csv_config.data.path = write_csv(tmp_path / "s.csv", rows)
  ds = load_data(csv_config.data, 0)
  assert ds.class_names == ("cheap", "dear", "mid")  # Sorted.
  assert ds.preprocessing["label_to_index"] == {"cheap": 0, "dear": 1, "mid": 2}
  csv_config.data.classes = ("mid", "cheap")  # Order given: mid=0, cheap=1.
  ds = load_data(csv_config.data, 0)
  assert ds.class_names == ("mid", "cheap")
  assert len(ds.train) + len(ds.validation) + len(ds.test) == 40


def test_binary_filter_keeps_listed_classes(tmp_path, csv_config):
  csv_config.data.path = write_csv(tmp_path / "b.csv",
                                   table_rows(n=80, labels=(0, 1, 2, 3)))
  csv_config.data.classes = (0, 1)
  ds = load_data(csv_config.data, 0)
  assert ds.num_classes == 2 and ds.class_names == ("0", "1")
  assert len(ds.train) + len(ds.validation) + len(ds.test) == 40


def _bad(tmp_path, csv_config, rows, header=HEADER, **fields):
  csv_config.data.path = write_csv(tmp_path / "bad.csv", rows, header)
  csv_config.data.update(fields)
  return csv_config


@pytest.mark.parametrize("edit, error, words", [
    (lambda r: r.__setitem__(3, (1, "cheap", "x", 0)), errors.DataError,
     ["line 5", "'b'", "'cheap' is not a number"]),
    (lambda r: r.__setitem__(6, (1, "", "x", 0)), errors.DataError,
     ["line 8", "'b'", "empty or NaN", "drop_missing=True"]),
    (lambda r: r.__setitem__(6, ("NaN", 2, "x", 0)), errors.DataError,
     ["line 8", "'a'", "drop_missing=True"]),
    (lambda r: r.__setitem__(2, (1, 2, "x", "")), errors.DataError,
     ["line 4", "'label'", "empty"]),
    (lambda r: r.__setitem__(5, (1, "inf", "x", 0)), errors.DataError,
     ["line 7", "not a finite number"]),
    (lambda r: r.__setitem__(9, (1, 2, 0)), errors.DataError,
     ["line 11", "3 cells", "4 columns"]),
    (lambda r: r.append((1, 2, "x", 9)), errors.DataError,
     ["label '9'", "only one example", "line 62", "data.classes"]),
])
def test_bad_cells_name_line_and_column(tmp_path, csv_config, edit, error,
                                        words):
  rows = table_rows()
  edit(rows)
  config = _bad(tmp_path, csv_config, rows)
  with pytest.raises(error) as e:
    load_data(config.data, 0)
  for word in words:
    assert word in str(e.value)


def test_drop_missing_drops_rows_with_a_warning(tmp_path, csv_config):
  rows = table_rows()
  rows[6] = (1, "", "x", 0)
  rows[7] = ("nan", 2, "x", 1)
  config = _bad(tmp_path, csv_config, rows, drop_missing=True)
  ds = load_data(config.data, 0)
  assert len(ds.train) + len(ds.validation) + len(ds.test) == 58
  assert "Dropped 2 row(s)" in ds.warnings[0] and "[8, 9]" in ds.warnings[0]


@pytest.mark.parametrize("fields, error, words", [
    (dict(path="/nonexistent/t.csv"), errors.DataError,
     ["/nonexistent/t.csv", "not found", "--config.data.path"]),
    (dict(path=""), errors.ConfigError, ["needs config.data.path"]),
    (dict(label_column="labels"), errors.ConfigError,
     ["'labels'", "Did you mean 'label'?", "a, b, note, label"]),
    (dict(feature_columns=("a", "c")), errors.ConfigError,
     ["feature_columns", "'c'"]),
    (dict(feature_columns=()), errors.DataError,  # 'note' is text.
     ["line 2", "'note'", "not a number"]),
    (dict(classes=(0, 7)), errors.ConfigError, ["data.classes", "no ['7']"]),
    (dict(classes=(0,)), errors.DataError, ["at least two classes"]),
    (dict(classes=("(low, high)",)), errors.ConfigError, ["Quote"]),
])
def test_bad_config_or_file(tmp_path, csv_config, fields, error, words):
  config = _bad(tmp_path, csv_config, table_rows(), **fields)
  with pytest.raises(error) as e:
    load_data(config.data, 0)
  for word in words:
    assert word in str(e.value)


def test_empty_and_header_only_files(tmp_path, csv_config):
  (tmp_path / "e.csv").write_text("")
  csv_config.data.path = str(tmp_path / "e.csv")
  with pytest.raises(errors.DataError, match="is empty"):
    load_data(csv_config.data, 0)
  csv_config.data.path = write_csv(tmp_path / "h.csv", [])
  with pytest.raises(errors.DataError, match="no rows"):
    load_data(csv_config.data, 0)


def test_fewer_rows_than_the_batch(csv_config):
  csv_config.train.batch_size = 64  # 42 training rows.
  with pytest.raises(errors.ConfigError, match="batch_size=64 is larger"):
    train.setup(resolve.resolve(csv_config))


def test_full_batch_uses_the_whole_train_split(tmp_path, csv_config):
  csv_config.data.path = write_csv(tmp_path / "o.csv", table_rows(n=63))
  csv_config.train.full_batch = True
  csv_config.train.batch_size = 7  # Ignored (and not divisible by 2).
  s = train.setup(resolve.resolve(csv_config))
  n = len(s.dataset.train)
  assert n % 2 == 1  # Odd: rounded down to a multiple of the 2 devices.
  assert s.shape.batch_size == n - 1 and s.steps_per_epoch == 1
  assert csv_config.train.batch_size == 7  # Never written back.


def test_l2_decays_weights_not_biases():
  config = ml_optimizer(name="sgd", learning_rate=1.0, momentum=0.0, l2=0.5)
  tx = optim.make_optimizer(config, total_steps=1)
  params = {"linear": {"w": jnp.full((2, 3), 2.0), "b": jnp.ones((3,))}}
  zeros = {"linear": {"w": jnp.zeros((2, 3)), "b": jnp.zeros((3,))}}
  updates, _ = tx.update(zeros, tx.init(params), params)
  np.testing.assert_allclose(updates["linear"]["w"], -1.0)  # -lr * l2 * w.
  np.testing.assert_allclose(updates["linear"]["b"], 0.0)


def ml_optimizer(**fields):
  return spec.OptimizerSpec(**fields)


def test_run_saves_preprocessing_and_mlp_trains_on_table(tmp_path, csv_config):
  csv_config.data.classes = (2, 0)
  csv_config.model.name = "mlp"
  csv_config.model.mlp.hidden_sizes = (16,)
  csv_config.optimizer.l2 = 1e-3
  results = experiment.train_and_evaluate(csv_config, str(tmp_path / "run"))
  saved = json.loads((tmp_path / "run" / "preprocessing.json").read_text())
  assert saved["class_names"] == ["2", "0"]
  assert saved["label_to_index"] == {"2": 0, "0": 1}
  assert len(saved["mean"]) == len(saved["std"]) == 2
  assert results["num_test_examples"] == 8 and results["steps"] == 3
  assert results["class_names"] == ["2", "0"]  # For the report.


def test_cnn_on_a_table_is_a_config_error(csv_config):
  csv_config.model.name = "cnn"
  with pytest.raises(errors.ConfigError, match="needs images"):
    train.setup(resolve.resolve(csv_config))


def _launch(tmp_path, *args):
  return subprocess.run(
      [sys.executable, "launch.py", f"--workdir={tmp_path / 'w'}", *args],
      cwd=REPO, capture_output=True, text=True, timeout=300,
      env={**os.environ, "PYTHONPATH": str(REPO)})


def test_launch_bad_csv_exits_with_the_error(tmp_path):
  rows = table_rows()
  rows[2] = (1, "?", "x", 0)
  path = write_csv(tmp_path / "bad.csv", rows)
  proc = _launch(tmp_path, "--config=configs/mobile_price.py",
                 f"--config.data.path={path}",
                 "--config.data.label_column=label",
                 "--config.data.feature_columns=('a', 'b')")
  assert proc.returncode == 2
  assert "error: " in proc.stderr and "line 4, column 'b'" in proc.stderr


@pytest.mark.parametrize("recipe, least", [("mobile_price", 0.94),
                                           ("mobile_price_binary", 0.96)])
def test_mobile_price_end_to_end(tmp_path, recipe, least):
  if not MOBILE_PRICE.exists():
    pytest.skip(f"mobile price CSV not found at {MOBILE_PRICE}")
  proc = _launch(tmp_path, f"--config=configs/{recipe}.py",
                 f"--config.data.path={MOBILE_PRICE}")
  assert proc.returncode == 0, proc.stderr[-2000:]
  results = json.loads((tmp_path / "w" / "results.json").read_text())
  assert results["test_accuracy"] >= least
  prep = json.loads((tmp_path / "w" / "preprocessing.json").read_text())
  assert len(prep["feature_columns"]) == 20
  assert prep["class_names"] == (["0", "1"] if "binary" in recipe
                                 else ["0", "1", "2", "3"])
