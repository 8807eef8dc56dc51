"""Resuming runs: bitwise-exact resume, config checks, damaged checkpoints,
divergence, eval mode on another device count, and zoo.load."""

import json
import logging
import os
import re

import numpy as np
import pytest

from data_helpers import load_data

import resume_config
from resume_helpers import (STEPS_PER_EPOCH,  # noqa: F401
                            TOTAL_STEPS, StopAt,
                            assert_same_as_reference, checkpoint_steps,
                            eval_on_one_device,
                            reference, state_arrays)
import zoo
from zoo import checkpoint
from zoo import data
from zoo.models import registry
from zoo import experiment
from zoo.train import divergence
from zoo.train import signals


def test_stopped_then_resumed_run_is_bitwise_identical(reference, tmp_path,
                                                        caplog):
  workdir = tmp_path / "run"
  with pytest.raises(signals.RunInterrupted,
                     match=r"SIGTERM at step 13/60.*resume from step 13"):
    experiment.train_and_evaluate(
        resume_config.get_config(), str(workdir), [StopAt(13)])
  assert checkpoint_steps(workdir)[-1] == 13  # Mid-epoch, off the interval.
  assert not (workdir / "results.json").exists()
  assert (workdir / "config.json").exists()
  # Stopped again at the end of epoch 2: the checkpoint comes after the
  # epoch-end work (validation, the epoch's metric record).
  with caplog.at_level(logging.INFO, logger="absl"):
    with pytest.raises(signals.RunInterrupted, match="at step 40/60"):
      experiment.train_and_evaluate(
          resume_config.get_config(), str(workdir), [StopAt(40)])
  assert "resumed from step 13 (epoch 1, batch 13 of 20)" in caplog.text
  assert checkpoint_steps(workdir)[-1] == 40
  caplog.clear()
  with caplog.at_level(logging.INFO, logger="absl"):
    results = experiment.train_and_evaluate(
        resume_config.get_config(), str(workdir))
  assert "resumed from step 40 (epoch 3, batch 0 of 20)" in caplog.text
  assert_same_as_reference(workdir, results, reference)


def test_more_epochs_and_other_logging_continue_the_run(reference, tmp_path,
                                                        caplog):
  workdir = reference.copy_to(tmp_path / "run")
  config = resume_config.get_config()
  config.train.num_epochs = 4
  config.train.log_every_steps = 7
  with caplog.at_level(logging.INFO, logger="absl"):
    results = experiment.train_and_evaluate(config, str(workdir))
  assert f"resumed from step {TOTAL_STEPS}" in caplog.text
  assert "train.num_epochs: 3 -> 4" in caplog.text
  assert results["steps"] == TOTAL_STEPS + STEPS_PER_EPOCH
  saved = json.loads((workdir / "config.json").read_text())
  assert saved["train"]["num_epochs"] == 4


def test_incompatible_config_is_an_error_naming_the_fields(reference,
                                                           tmp_path):
  workdir = reference.copy_to(tmp_path / "run")
  before = sorted(os.listdir(workdir / "checkpoints"))
  config = resume_config.get_config()
  config.model.slow_mlp.hidden_sizes = (16, 16)
  config.optimizer.name = "sgd"
  config.train.num_epochs = 5  # Harmless: not named.
  with pytest.raises(zoo.ConfigError) as e:
    experiment.train_and_evaluate(config, str(workdir))
  message = str(e.value)
  assert "model.slow_mlp.hidden_sizes: [32, 32] -> [16, 16]" in message
  assert "optimizer.name: 'adam' -> 'sgd'" in message
  assert "num_epochs" not in message
  assert sorted(os.listdir(workdir / "checkpoints")) == before
  saved = json.loads((workdir / "config.json").read_text())
  assert saved["optimizer"]["name"] == "adam"  # The saved config is kept.


# orbax's failed read of the damaged files may leave an asyncio callback to a
# closed loop behind; Python reports it as "unraisable", harmlessly.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_damaged_latest_checkpoint_is_skipped(reference, tmp_path, caplog):
  workdir = reference.copy_to(tmp_path / "run")
  steps = checkpoint_steps(workdir)
  assert steps == [40, 50, TOTAL_STEPS]  # keep=3.
  for f in (workdir / "checkpoints" / str(TOTAL_STEPS)).rglob("*"):
    if f.is_file() and f.parent.name == "d":
      f.write_bytes(b"\0" * 16)  # Damaged data files.
  partial = workdir / "checkpoints" / "70.orbax-checkpoint-tmp"
  partial.mkdir()  # And what a crash mid-save leaves.
  with caplog.at_level(logging.INFO, logger="absl"):
    results = experiment.train_and_evaluate(
        resume_config.get_config(), str(workdir))
  assert "Skipping a damaged checkpoint" in caplog.text
  assert "resumed from step 50" in caplog.text
  moved = os.listdir(workdir / checkpoint.CORRUPT_SUBDIR)
  assert moved[0].startswith(f"{TOTAL_STEPS}-")
  assert_same_as_reference(workdir, results, reference)


@pytest.mark.parametrize("steps_per_call", [1, 2])  # 2: saved at chunk ends.
def test_nonfinite_loss_stops_and_keeps_the_last_good_checkpoint(
    base_config, tmp_path, steps_per_call):
  base_config.train.steps_per_call = steps_per_call
  base_config.model.mlp.hidden_sizes = (64,) * 6
  base_config.optimizer.name = "sgd"
  base_config.optimizer.learning_rate = 1e3  # Absurd: diverges in 3 steps.
  base_config.checkpoint.every_steps = 2
  base_config.checkpoint.min_interval_s = 0.0
  with pytest.raises(divergence.DivergedError) as e:
    experiment.train_and_evaluate(base_config, str(tmp_path))
  message = str(e.value)
  bad_step = int(re.search(r"diverged at step (\d+)", message).group(1))
  assert "loss is nan" in message or "NaN/Inf" in message
  assert "--config.optimizer.learning_rate (now 1000.0)" in message
  steps = checkpoint_steps(tmp_path)
  assert steps and steps[-1] < bad_step
  assert f"last good checkpoint (step {steps[-1]}" in message
  for name, a in state_arrays(tmp_path).items():
    if np.issubdtype(a.dtype, np.floating):
      assert np.all(np.isfinite(a)), name


def test_load_returns_probabilities_and_reimports_the_user_model(
    reference, monkeypatch):
  # As in a fresh process: the user model is not registered yet.
  monkeypatch.delitem(registry._REGISTRY, "slow_mlp")  # pylint: disable=W0212
  predictor = zoo.load(str(reference.workdir))
  assert "slow_mlp" in zoo.list_models()
  config = resume_config.get_config()
  test = load_data(config.data, config.seed).test
  probs = predictor(test.inputs)
  assert probs.shape == (len(test), 10) and probs.dtype == np.float32
  np.testing.assert_allclose(probs.sum(-1), 1.0, rtol=1e-5)
  accuracy = float(np.mean(predictor.predict(test.inputs) == test.labels))
  assert accuracy == pytest.approx(reference.results["test_accuracy"],
                                   abs=1e-12)
  assert predictor.step == TOTAL_STEPS
  assert predictor.input_shape == (8, 8, 1) and predictor.num_classes == 10
  with pytest.raises(zoo.DataError, match=r"x\[None\]"):
    predictor(test.inputs[0])


def test_eval_mode_without_checkpoint_says_train_first(base_config, tmp_path):
  with pytest.raises(checkpoint.CheckpointError, match="Train first"):
    experiment.evaluate_checkpoint(base_config, str(tmp_path))


def test_eval_mode_on_one_device_reproduces_the_two_device_results(
    reference, tmp_path):
  workdir = reference.copy_to(tmp_path / "run")
  results, proc = eval_on_one_device(workdir)
  assert reference.results["num_devices"] == 2 and results["num_devices"] == 1
  assert results["mode"] == "eval" and results["steps"] == TOTAL_STEPS
  assert set(reference.results) <= set(results)
  assert results["test_accuracy"] == reference.results["test_accuracy"]
  assert results["test_loss"] == pytest.approx(reference.results["test_loss"],
                                               rel=1e-6)
  # Train-time fields are kept from the training run's results.json.
  assert results["train_seconds"] == reference.results["train_seconds"]
  assert "1 x cpu" in proc.stdout  # The run summary.


def test_load_applies_the_saved_table_standardisation(base_config, tmp_path):
  # Two features far from 0 and on other scales: the model only works on
  # them once standardised with the train split's statistics.
  rng = np.random.default_rng(0)
  labels = rng.integers(0, 2, 400)
  a = 1000.0 + 5.0 * labels + rng.normal(0, 1, 400)
  b = -3.0 * labels + rng.normal(0, 0.5, 400) / 100
  table = tmp_path / "table.csv"
  table.write_text("a,b,y\n" + "".join(
      f"{x},{z},{y}\n" for x, z, y in zip(a, b, labels)))
  base_config.data.name = "csv"
  base_config.data.path = str(table)
  base_config.data.label_column = "y"
  base_config.model.name = "logistic"
  base_config.train.num_epochs = 3
  base_config.optimizer.learning_rate = 0.05
  results = experiment.train_and_evaluate(base_config, str(tmp_path / "run"))
  predictor = zoo.load(str(tmp_path / "run"))
  assert predictor.preprocessing["feature_columns"] == ["a", "b"]
  raw = np.stack([a, b], axis=1)
  accuracy = np.mean(predictor.predict(raw) == labels)
  assert accuracy > 0.95 and results["test_accuracy"] > 0.95
