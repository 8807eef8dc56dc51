"""Fine-tuning (`config.init.from`): the merge rule on its own, then a
10-class digits run fine-tuned on a 3-class table of the same pixels."""

import json
import pathlib

from absl import flags
from ml_collections import config_flags
import numpy as np
import pytest

from conftest import REPO
import launch
import pretrained_helpers
import zoo
from zoo import errors
from zoo.config import resolve
from zoo.pretrained import finetune

HEAD = "params/net/~/head"


def _arrays(head_classes: int, hidden: int = 4) -> dict[str, np.ndarray]:
  """One member's arrays, member-stacked ([1, ...]) as runs hold them."""
  return {"params/net/~/hidden/w": np.full((1, 3, hidden), 1.0, np.float32),
          "params/net/~/hidden/b": np.full((1, hidden), 1.0, np.float32),
          f"{HEAD}/w": np.full((1, hidden, head_classes), 1.0, np.float32),
          f"{HEAD}/b": np.full((1, head_classes), 1.0, np.float32),
          "state/net/~/norm/average": np.full((1, hidden), 1.0, np.float32)}


def test_merge_replaces_only_a_head_of_another_class_count():
  fresh = {k: np.zeros_like(v) for k, v in _arrays(3).items()}
  merged, heads = finetune.merge(fresh, _arrays(10), 10, 3)
  assert heads == ["net/~/head"]
  for key, value in merged.items():
    expected = 0.0 if key.startswith(HEAD) else 1.0  # Fresh, else loaded.
    assert value.shape == fresh[key].shape and np.all(value == expected), key


def test_merge_replaces_the_head_of_other_classes_of_the_same_count():
  """Fashion-MNIST's ten garments -> MNIST's ten digits: the last module
  whose arrays end in the class count is the head, and starts fresh."""
  fresh = {k: np.zeros_like(v) for k, v in _arrays(10).items()}
  merged, heads = finetune.merge(fresh, _arrays(10), 10, 10,
                                 new_classes_named=True)
  assert heads == ["net/~/head"]
  assert np.all(merged[f"{HEAD}/w"] == 0)
  assert np.all(merged["params/net/~/hidden/w"] == 1)
  _, kept = finetune.merge(fresh, _arrays(10), 10, 10)  # Same classes.
  assert kept == []


def test_merge_names_any_other_mismatch():
  fresh = _arrays(3, hidden=5)
  with pytest.raises(errors.ConfigError) as e:
    finetune.merge(fresh, _arrays(10, hidden=4), 10, 3)
  assert ("params/net/~/hidden/b is (4,) in the loaded weights, (5,) in the "
          "model this config builds") in str(e.value)
  assert "\n" not in str(e.value)
  # Same class count: a head that differs is no head to replace either.
  with pytest.raises(errors.ConfigError, match=r"params/net/~/head/b is"):
    finetune.merge(_arrays(3), _arrays(4), 3, 3)
  missing = dict(_arrays(3))
  del missing["state/net/~/norm/average"]
  with pytest.raises(errors.ConfigError, match=r"state/net/~/norm/average is "
                     "in the model this config builds, not in"):
    finetune.merge(_arrays(3), missing, 3, 3)


def test_the_flag_reaches_the_config_from_the_command_line():
  """`from` is a Python keyword; launch.py rewrites the path for
  ml_collections."""
  argv = [launch._quote_keywords(a) for a in [  # pylint: disable=protected-access
      "launch.py", "--config=configs/default.py",
      "--config.init.from=fm-lenet5"]]  # As launch.py does to sys.argv.
  values = flags.FlagValues()
  config_flags.DEFINE_config_file("config", flag_values=values,
                                  lock_config=True, sys_argv=argv)
  values(argv)
  assert values.config.init["from"] == "fm-lenet5"
  assert resolve.resolve(values.config).init.source == "fm-lenet5"


@pytest.fixture(scope="module")
def source(tmp_path_factory):
  """A 10-class digits MLP, and the same pixels as a 3-class CSV table."""
  root = tmp_path_factory.mktemp("finetune")
  from sklearn import datasets  # pylint: disable=g-import-not-at-top
  digits = datasets.load_digits()
  keep = digits.target < 3
  rows = [",".join([*map(str, x), str(y)]) for x, y in
          zip(digits.data[keep] / 16.0, digits.target[keep])]
  table = root / "digits3.csv"
  header = ",".join([*(f"p{i}" for i in range(64)), "label"])
  table.write_text("\n".join([header, *rows]) + "\n")
  return pretrained_helpers.train(root / "digits10"), str(table)


def _table_config(source_dir: str, table: str, **fields):
  return pretrained_helpers.tiny_config(
      **{"data.name": "csv", "data.path": table, "init.from": source_dir,
         "optimizer.learning_rate": 1e-9, **fields})


def test_a_head_of_another_class_count_is_reinitialised(source, tmp_path,
                                                        caplog):
  source_dir, table = source
  caplog.set_level("WARNING")
  pretrained_helpers.experiment.train_and_evaluate(
      _table_config(source_dir, table), str(tmp_path / "tuned"))
  results = json.loads((tmp_path / "tuned" / "results.json").read_text())
  assert results["config"]["init"]["from"] == source_dir
  assert any("re-initialised mlp/mlp/~/linear_1 (10 classes there, 3 here)"
             in r.getMessage() for r in caplog.records)
  before, after = zoo.load(source_dir), zoo.load(str(tmp_path / "tuned"))
  assert after.num_classes == 3
  hidden = "mlp/mlp/~/linear_0"
  # A learning rate of 1e-9: the hidden layer is still the loaded one.
  np.testing.assert_allclose(after.params[hidden]["w"],
                             before.params[hidden]["w"], atol=1e-6)
  assert after.params["mlp/mlp/~/linear_1"]["w"].shape == (1, 16, 3)  # K=1.


def test_any_other_mismatch_stops_the_run(source, tmp_path):
  source_dir, table = source
  config = _table_config(source_dir, table,
                         **{"model.mlp.hidden_sizes": (8,)})
  with pytest.raises(errors.ConfigError) as e:
    pretrained_helpers.experiment.train_and_evaluate(
        config, str(tmp_path / "tuned"))
  assert "config.init.from: params/mlp/mlp/~/linear_0/b is (16,)" in str(
      e.value)
  assert "\n" not in str(e.value)
  assert not (tmp_path / "tuned" / "results.json").exists()


def test_a_missing_source_is_named(source, tmp_path):
  source_dir, table = source
  config = _table_config(source_dir + "-typo", table)
  with pytest.raises(zoo.ZooError) as e:
    pretrained_helpers.experiment.train_and_evaluate(
        config, str(tmp_path / "tuned"))
  assert str(e.value).startswith(
      f"config.init.from={source_dir + '-typo'!r}: No checkpoint in")
