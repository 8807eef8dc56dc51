"""Image normalisation: per channel from the train split, or fixed;
validated, saved, applied by zoo.load, part of the resume rules."""

import json
import re

import numpy as np
import pytest

import zoo
from zoo import data
from zoo import experiment
from zoo.config import resume_rules
from zoo.config import serialize
from zoo.config import resolve
from zoo.data.splits import with_validation

from data_helpers import load_data, fake_cifar_dir, one_line

def test_per_channel_statistics_come_from_the_train_split_only(base_config,
                                                              tmp_path):
  cfg = base_config.data
  cfg.name, cfg.dir = "cifar10", str(fake_cifar_dir(tmp_path, n=20))
  cfg.image_normalization = "per_channel"
  cfg_none = cfg.copy_and_resolve_references()
  cfg_none.image_normalization = "none"
  raw = with_validation(load_data(cfg_none, 0), cfg.validation_fraction,
                        seed=0)
  ds = load_data(cfg, 0)
  prep = ds.preprocessing
  assert json.loads(json.dumps(prep)) == prep  # Saved as preprocessing.json.
  assert prep["image_normalization"] == "per_channel"
  assert prep["fitted_on"] == "train split (90 examples)"
  pixels = raw.train.inputs.reshape(-1, 3).astype(np.float64)
  np.testing.assert_allclose(prep["image_mean"], pixels.mean(0), rtol=1e-12)
  np.testing.assert_allclose(prep["image_std"], pixels.std(0), rtol=1e-12)
  # The validation split was carved first, exactly as the loop would.
  assert (len(ds.train), len(ds.validation)) == (90, 10)
  np.testing.assert_array_equal(ds.validation.labels, raw.validation.labels)
  for split, normalized in ((raw.train, ds.train), (raw.test, ds.test),
                            (raw.validation, ds.validation)):
    np.testing.assert_allclose(
        normalized.inputs,
        (split.inputs - np.float32(prep["image_mean"]))
        / np.float32(prep["image_std"]), rtol=1e-5, atol=1e-6)
  train = ds.train.inputs.reshape(-1, 3).astype(np.float64)
  np.testing.assert_allclose(train.mean(0), 0.0, atol=1e-5)
  np.testing.assert_allclose(train.std(0), 1.0, atol=1e-5)


def test_fixed_normalization_uses_the_config_values(base_config, tmp_path):
  cfg = base_config.data
  cfg.name, cfg.dir = "cifar10", str(fake_cifar_dir(tmp_path))
  cfg.image_normalization = "fixed"
  cfg.image_mean, cfg.image_std = (0.5, 0.25, 0.0), (0.5, 0.25, 2.0)
  ds = load_data(cfg, 0)
  assert ds.preprocessing == {
      "image_normalization": "fixed", "image_mean": [0.5, 0.25, 0.0],
      "image_std": [0.5, 0.25, 2.0],
      "fitted_on": "config (data.image_mean, data.image_std)"}
  cfg.image_normalization = "none"
  raw = load_data(cfg, 0)
  np.testing.assert_allclose(ds.test.inputs[..., 2],
                             raw.test.inputs[..., 2] / 2, rtol=1e-6)
  np.testing.assert_allclose(ds.test.inputs[..., 0],
                             raw.test.inputs[..., 0] * 2 - 1, atol=1e-6)


def test_fixed_normalization_needs_one_value_per_channel(base_config):
  cfg = base_config.data  # digits: one channel.
  cfg.image_normalization = "fixed"
  cfg.image_mean, cfg.image_std = (0.5, 0.5, 0.5), (0.2, 0.2, 0.2)
  with pytest.raises(zoo.ConfigError) as e:
    load_data(cfg, 0)
  assert one_line(e) == (
      "config.data.image_mean=(0.5, 0.5, 0.5) and data.image_std=(0.2, 0.2, "
      "0.2) need one value per channel; digits images (8, 8, 1) have 1. Fix "
      "them with --config.data.image_mean='(...)' "
      "--config.data.image_std='(...)'.")


def test_zoo_load_applies_the_saved_normalization(base_config, tmp_path):
  base_config.data.image_normalization = "per_channel"
  results = experiment.train_and_evaluate(base_config, str(tmp_path / "run"))
  saved = json.loads((tmp_path / "run" / "preprocessing.json").read_text())
  assert saved["image_normalization"] == "per_channel"
  predictor = zoo.load(str(tmp_path / "run"))
  assert predictor.preprocessing == saved
  base_config.data.image_normalization = "none"
  raw_test = load_data(base_config.data, base_config.seed).test  # In [0, 1].
  accuracy = np.mean(predictor.predict(raw_test.inputs) == raw_test.labels)
  assert accuracy == pytest.approx(results["test_accuracy"], abs=1e-6)


@pytest.mark.parametrize("fields,message", [
    ({"image_normalization": "minmax"},
     "config.data.image_normalization='minmax' is invalid: choose one of "
     "none, per_channel, fixed. Fix it with "
     "--config.data.image_normalization=<value>."),
    ({"image_mean": (0.5,)},
     "config.data.image_mean=(0.5,) is invalid: it is used only with "
     "data.image_normalization='fixed' (now 'none'), so leave it empty (). "
     "Fix it with --config.data.image_mean=<value>."),
    ({"image_normalization": "fixed"},
     "config.data.image_mean=() is invalid: data.image_normalization='fixed' "
     "needs one mean per image channel, e.g. '(0.5,)' for grey images. Fix it "
     "with --config.data.image_mean=<value>."),
    ({"image_normalization": "fixed", "image_mean": (0.5, 0.5),
      "image_std": (0.5,)},
     "config.data.image_std=(0.5,) is invalid: it needs one std per channel, "
     "as many as data.image_mean has (2). Fix it with "
     "--config.data.image_std=<value>."),
    ({"image_normalization": "fixed", "image_mean": (0.5,),
      "image_std": (0.0,)},
     "config.data.image_std=(0.0,) is invalid: every std must be > 0. Fix it "
     "with --config.data.image_std=<value>."),
    ({"image_normalization": "fixed", "image_mean": ("a",),
      "image_std": (1.0,)},
     "config.data.image_mean=('a',) is invalid: it must be a tuple of "
     "numbers, e.g. '(0.5, 0.5)'. Fix it with "
     "--config.data.image_mean=<value>."),
    ({"name": "csv", "image_normalization": "per_channel"},
     "config.data.image_normalization='per_channel' is invalid: it applies "
     "to images only; CSV tables are scaled by data.standardize, so use "
     "'none'. Fix it with --config.data.image_normalization=<value>."),
])
def test_validate_rejects_bad_normalization_fields(base_config, fields,
                                                   message):
  base_config.data.update(fields)
  with pytest.raises(zoo.ConfigError) as e:
    resolve.validate(base_config)
  assert one_line(e) == message


@pytest.mark.parametrize("fields", [
    {}, {"image_normalization": "per_channel"},
    {"image_normalization": "fixed", "image_mean": (0.5, 0.4, 0.3),
     "image_std": (0.2, 0.2, 0.2)},
])
def test_validate_accepts_the_normalization_fields(base_config, fields):
  base_config.data.update(fields)
  resolve.validate(base_config)


@pytest.mark.parametrize("fields", [
    {"image_normalization": "per_channel"},
    {"image_normalization": "fixed", "image_mean": (0.5,),
     "image_std": (0.25,)},
])
def test_normalization_fields_must_match_to_resume(base_config, fields):
  saved = serialize.to_jsonable(base_config)
  base_config.data.update(fields)
  diffs = resume_rules.differences(saved, serialize.to_jsonable(base_config))
  assert diffs and all(d.startswith("data.image_") for d in diffs)
  assert len(diffs) == len(fields)
  with pytest.raises(zoo.ConfigError, match=re.escape(diffs[0])):
    resume_rules.check_resumable(saved, base_config, "ckpt")
  assert {"data.image_normalization", "data.image_mean",
          "data.image_std"} <= set(resume_rules.state_fields(saved))
