"""Whole runs in low precision: float32 checkpoints (loss scale included)
that resume bitwise, skipped steps in the metrics, precision in
results.json, which precision changes resume, and bfloat16's accuracy on
real MNIST."""

import json

import numpy as np
import pytest

from resume_helpers import StopAt, state_arrays
import zoo
from zoo import experiment
from zoo.config import resume_rules
from zoo.config import serialize
from zoo.train import loss_scale
from zoo.train import signals

# float16 starts from a scale its gradients overflow at (the recipe's 2**15
# rarely overflows this small model), so the run must skip steps.
FLOAT16_FIRST_SCALE = 2.0 ** 24


def _config(base_config, precision):
  base_config.train.precision = precision
  base_config.model.mlp.hidden_sizes = (32,)
  base_config.train.steps_per_call = 5  # 20 steps: 4 chunks.
  base_config.report.plots = False
  base_config.report.tensorboard = False
  return base_config


def _step_records(workdir):
  rows = map(json.loads, (workdir / "metrics.jsonl").read_text().splitlines())
  return [r for r in rows if r["kind"] == "step"]


def _untimed(records):
  timing = ("wall_time", "elapsed_seconds", "examples_per_second")
  return [{k: v for k, v in r.items() if k not in timing} for r in records]


@pytest.mark.parametrize("precision", ["bfloat16", "float16"])
def test_low_precision_run_checkpoints_float32_and_resumes_bitwise(
    base_config, tmp_path, monkeypatch, precision):
  monkeypatch.setattr(loss_scale, "INITIAL_SCALE", FLOAT16_FIRST_SCALE)
  config = _config(base_config, precision)
  whole = experiment.train_and_evaluate(config, str(tmp_path / "whole"))
  with pytest.raises(signals.RunInterrupted, match="at step 10/20"):
    experiment.train_and_evaluate(config, str(tmp_path / "pieces"),
                                  [StopAt(8)])
  pieces = experiment.train_and_evaluate(config, str(tmp_path / "pieces"))
  assert whole["precision"] == pieces["precision"] == precision
  assert pieces["test_accuracy"] == whole["test_accuracy"]
  got, want = (state_arrays(tmp_path / d) for d in ("pieces", "whole"))
  assert sorted(got) == sorted(want)
  for name, array in want.items():
    np.testing.assert_array_equal(got[name], array, err_msg=name)
    if np.issubdtype(array.dtype, np.floating):
      assert array.dtype == np.float32, name  # float32 on disk.
  records = _step_records(tmp_path / "whole")
  assert _untimed(_step_records(tmp_path / "pieces")) == _untimed(records)
  skipped = sum(r["skipped_steps"] for r in records)
  if precision == "float16":  # Every skip halved the scale, nothing doubled.
    assert skipped > 0
    assert records[-1]["loss_scale"] == FLOAT16_FIRST_SCALE / 2 ** skipped
    assert want["loss_scale.0"] == records[-1]["loss_scale"]
  else:  # No loss scale: no array for it in the checkpoint.
    assert skipped == 0 and records[-1]["loss_scale"] == 1.0
    assert not [k for k in want if k.startswith("loss_scale")]


def test_precision_changes_that_resume(base_config, tmp_path):
  saved = serialize.to_jsonable(_config(base_config, "bfloat16"))
  for now, resumes in (("float32", True), ("bfloat16", True),
                       ("float16", False)):
    base_config.train.precision = now
    diffs = resume_rules.differences(saved, serialize.to_jsonable(base_config))
    assert diffs == ([] if resumes else
                     [f"train.precision: 'bfloat16' -> {now!r}"])
  experiment.train_and_evaluate(_config(base_config, "float16"),
                                str(tmp_path))
  base_config.train.precision = "float32"
  with pytest.raises(zoo.ConfigError,
                     match="train.precision: 'float16' -> 'float32'"):
    experiment.train_and_evaluate(base_config, str(tmp_path))


def test_bfloat16_mlp_matches_float32_on_mnist(mnist_dir, tmp_path):
  # configs/mlp.py, 3 of its 10 epochs in both precisions
  # (docs/mixed-precision.md has the full recipe's numbers).
  from configs import mlp  # pylint: disable=g-import-not-at-top
  accuracy = {}
  for precision in ("float32", "bfloat16"):
    config = mlp.get_config()
    config.data.dir = str(mnist_dir)
    config.train.num_epochs = 3
    config.train.precision = precision
    config.report.plots = False
    config.report.tensorboard = False
    results = experiment.train_and_evaluate(config, str(tmp_path / precision))
    accuracy[precision] = results["test_accuracy"]
  assert accuracy["float32"] > 0.85  # It learned.
  assert abs(accuracy["bfloat16"] - accuracy["float32"]) <= 0.01, accuracy
