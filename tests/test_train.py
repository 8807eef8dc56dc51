"""Config checks and real training runs in-process (digits, 2 fake devices)."""

import json

import jax
import pytest

from data_helpers import load_data

import zoo
from zoo.config import resolve
from zoo import data
from zoo.runtime import parallel
from zoo import experiment
from zoo import train


@pytest.mark.parametrize("field,value,message", [
    ("train.batch_size", 0, "positive integer"),
    ("train.batch_size", -8, "positive integer"),
    ("train.num_epochs", 0, "positive integer"),
    ("train.log_every_steps", 0, "positive integer"),
    ("optimizer.learning_rate", 0.0, "number in"),
    ("optimizer.learning_rate", float("nan"), "number in"),
    ("optimizer.name", "adamm", "adam, adamw, sgd"),
    ("optimizer.schedule", "linear", "constant, cosine"),
    ("data.test_fraction", 1.0, "number in"),
    ("seed", -1, "non-negative"),
    ("model.name", "", "non-empty"),
])
def test_bad_config_values_name_the_field(base_config, field, value, message):
  section, _, key = field.rpartition(".")
  (base_config[section] if section else base_config)[key] = value
  with pytest.raises(zoo.ConfigError) as e:
    resolve.validate(base_config)
  assert f"config.{field}=" in str(e.value)
  assert message in str(e.value)


def test_defaults_are_valid():
  from configs import default  # pylint: disable=g-import-not-at-top
  resolve.validate(default.get_config())


def test_batch_not_divisible_by_devices(base_config):
  base_config.train.batch_size = 63
  with pytest.raises(zoo.ConfigError) as e:
    train.setup(resolve.resolve(base_config))
  assert "batch_size=63" in str(e.value) and "2 devices" in str(e.value)
  assert "62 or 64" in str(e.value)


def test_batch_larger_than_training_set(base_config):
  base_config.train.batch_size = 4096
  with pytest.raises(zoo.ConfigError, match="larger than the training set"):
    train.setup(resolve.resolve(base_config))


def test_divisibility_message():
  with pytest.raises(zoo.ConfigError, match="multiple of 4"):
    parallel.check_divisible(130, 4)
  parallel.check_divisible(128, 4)


@pytest.mark.parametrize("model", ["logistic", "mlp", "cnn"])
def test_one_epoch_on_two_devices_learns(base_config, tmp_path, model):
  base_config.model.name = model
  base_config.optimizer.learning_rate = 1e-2  # One short epoch must learn.
  results = experiment.train_and_evaluate(base_config, str(tmp_path))
  assert results["num_devices"] == jax.local_device_count() == 2
  assert results["dataset"] == "digits"
  expected = load_data(base_config.data, base_config.seed)
  assert results["num_test_examples"] == len(expected.test)  # ~20 % of 1,797.
  assert results["test_accuracy"] > 0.5  # Chance is 0.1.
  written = json.loads((tmp_path / "results.json").read_text())
  for key in ("model", "dataset", "num_devices", "test_accuracy", "test_loss",
              "train_seconds"):
    assert written[key] == results[key]


def test_same_seed_same_result_other_seed_differs(base_config, tmp_path):
  base_config.model.name = "mlp"
  base_config.model.mlp.dropout_rate = 0.3  # Randomness inside the step too.
  a = experiment.train_and_evaluate(base_config, str(tmp_path / "a"))
  b = experiment.train_and_evaluate(base_config, str(tmp_path / "b"))
  base_config.seed = 1
  c = experiment.train_and_evaluate(base_config, str(tmp_path / "c"))
  assert a["test_accuracy"] == b["test_accuracy"]
  assert a["test_loss"] == b["test_loss"]
  assert a["test_loss"] != c["test_loss"]


def test_user_module_import_error_is_reported(base_config, tmp_path):
  bad = tmp_path / "bad_model.py"
  bad.write_text("import haiku as hk\n\nraise RuntimeError('oops in model')\n")
  base_config.model.module = str(bad)
  with pytest.raises(zoo.UserModuleError) as e:
    train.setup(resolve.resolve(base_config))
  assert "oops in model" in str(e.value) and "bad_model.py:3" in str(e.value)


def test_missing_user_module(base_config, tmp_path):
  base_config.model.module = str(tmp_path / "nothing.py")
  with pytest.raises(zoo.UserModuleError, match="no such file"):
    train.setup(resolve.resolve(base_config))
  base_config.model.module = "no_such_package_xyz.models"
  with pytest.raises(zoo.UserModuleError, match="failed to import"):
    train.setup(resolve.resolve(base_config))
