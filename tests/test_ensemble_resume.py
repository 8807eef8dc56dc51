"""Ensembles in a workdir: checkpoints hold every member, a stopped run
resumes bit-identically, --mode=eval re-evaluates every member (on another
device count), results.json and the summary, and zoo.load."""

import json
import os
import re

import numpy as np
import pytest

from data_helpers import load_data

import report_helpers
import resume_config
from resume_helpers import (Reference, StopAt, assert_same_as_reference,
                            eval_on_one_device, state_arrays)
import zoo
from zoo import data
from zoo import experiment
from zoo import report
from zoo.train import signals

SIZE = 2


def _config():
  """resume_config (dropout MLP, digits, 3 epochs of 20 steps) with 2
  members, 5 steps per call."""
  config = resume_config.get_config()
  config.ensemble.size = SIZE
  config.train.steps_per_call = 5
  config.report.plots = False
  return config


@pytest.fixture(scope="module")
def whole(tmp_path_factory):
  """The 2-member run, uninterrupted, on the 2 fake devices."""
  workdir = tmp_path_factory.mktemp("ensemble") / "whole"
  return Reference(workdir, experiment.train_and_evaluate(_config(),
                                                          str(workdir)))


def test_results_hold_every_member_and_the_ensemble(whole):
  results = whole.results
  members = results["members"]
  assert [m["seed"] for m in members] == [0, 1]
  assert {m["learning_rate"] for m in members} == {3e-3}
  accuracies = [m["test_accuracy"] for m in members]
  assert accuracies[0] != accuracies[1]
  assert results["test_accuracy"] == results["test_accuracy_mean"]
  assert results["test_accuracy_mean"] == pytest.approx(np.mean(accuracies))
  assert results["test_accuracy_std"] == pytest.approx(
      np.std(accuracies, ddof=1))
  assert 0.5 < results["ensemble_test_accuracy"] <= 1.0
  assert all(m["best_validation_epoch"] in (1, 2, 3) for m in members)
  assert results["num_members"] == SIZE
  # Parameters of one member (the 32-32 MLP on 8x8 digits).
  assert results["num_params"] == 64 * 32 + 32 + 32 * 32 + 32 + 32 * 10 + 10
  line = report.format_summary(results, str(whole.workdir))
  assert re.search(r"test +accuracy 0\.\d{4} ± 0\.\d{4} over 2 seeds; "
                   r"ensemble of 2: 0\.\d{4}", line), line
  table = report.compare_runs([str(whole.workdir)])
  assert (f"{results['test_accuracy_mean']:.4f}±"
          f"{results['test_accuracy_std']:.4f} ens "
          f"{results['ensemble_test_accuracy']:.4f}") in table
  arrays = state_arrays(whole.workdir)
  w = [a for name, a in arrays.items() if name.endswith("linear_0.w")]
  assert w[0].shape == (SIZE, 64, 32)  # Every member in the checkpoint.


def test_a_stopped_ensemble_resumes_bit_identically(whole, tmp_path):
  workdir = tmp_path / "pieces"
  with pytest.raises(signals.RunInterrupted, match="at step 15/60"):
    experiment.train_and_evaluate(_config(), str(workdir), [StopAt(13)])
  results = experiment.train_and_evaluate(_config(), str(workdir))
  assert_same_as_reference(workdir, results, whole)
  assert results["members"] == whole.results["members"]
  assert (results["ensemble_test_accuracy"]
          == whole.results["ensemble_test_accuracy"])


def test_another_member_count_does_not_resume(whole, tmp_path):
  workdir = whole.copy_to(tmp_path / "run")
  config = _config()
  config.ensemble.size = 3
  with pytest.raises(zoo.ConfigError, match=r"ensemble\.size: 2 -> 3"):
    experiment.train_and_evaluate(config, str(workdir))


def test_eval_mode_on_one_device_evaluates_every_member(whole, tmp_path):
  workdir = whole.copy_to(tmp_path / "run")
  results, _ = eval_on_one_device(workdir, f"--config.ensemble.size={SIZE}")
  assert results["mode"] == "eval" and results["num_devices"] == 1
  for got, want in zip(results["members"], whole.results["members"]):
    assert got["test_accuracy"] == want["test_accuracy"]
    assert got["test_loss"] == pytest.approx(want["test_loss"], rel=1e-6)
    assert got["best_validation_epoch"] == want["best_validation_epoch"]
  assert (results["ensemble_test_accuracy"]
          == whole.results["ensemble_test_accuracy"])


def test_load_averages_the_members_or_keeps_one(whole):
  config = _config()
  test = load_data(config.data, config.seed).test
  predictor = zoo.load(str(whole.workdir))
  assert [m["seed"] for m in predictor.members] == [0, 1]
  probs = predictor(test.inputs)
  np.testing.assert_allclose(probs.sum(-1), 1.0, rtol=1e-5)
  ones = [zoo.load(str(whole.workdir), member=i) for i in range(SIZE)]
  np.testing.assert_allclose(
      probs, np.mean([p(test.inputs) for p in ones], axis=0), rtol=1e-5,
      atol=1e-7)
  for one, want in zip(ones, whole.results["members"]):
    accuracy = float(np.mean(one.predict(test.inputs) == test.labels))
    assert accuracy == pytest.approx(want["test_accuracy"], abs=1e-12)
  accuracy = float(np.mean(predictor.predict(test.inputs) == test.labels))
  assert accuracy == pytest.approx(whole.results["ensemble_test_accuracy"],
                                   abs=1.5 / len(test))
  with pytest.raises(zoo.ConfigError, match=r"member=2 .* holds 2 \(0 \.\. "
                     r"1\)"):
    zoo.load(str(whole.workdir), member=2)


def test_metrics_and_tensorboard_carry_each_member(whole):
  rows = [json.loads(line) for line in
          (whole.workdir / "metrics.jsonl").read_text().splitlines()]
  by_kind = {kind: [r for r in rows if r["kind"] == kind]
             for kind in ("step", "epoch", "test")}
  assert by_kind["step"] and len(by_kind["epoch"]) == 3
  for r in by_kind["step"] + by_kind["epoch"]:
    assert len(r["member_train_loss"]) == SIZE
    assert r["train_loss"] == pytest.approx(np.mean(r["member_train_loss"]))
    assert r["train_accuracy"] == pytest.approx(
        np.mean(r["member_train_accuracy"]))
  for r in by_kind["epoch"]:
    assert r["validation_accuracy"] == pytest.approx(
        np.mean(r["member_validation_accuracy"]))
    assert 0.0 < r["ensemble_validation_accuracy"] <= 1.0
  (test,) = by_kind["test"]
  assert test["member_test_accuracy"] == [
      m["test_accuracy"] for m in whole.results["members"]]
  assert test["ensemble_test_accuracy"] == whole.results[
      "ensemble_test_accuracy"]
  events = [f for f in os.listdir(whole.workdir) if "tfevents" in f]
  scalars = report_helpers.tensorboard_scalars(whole.workdir / events[0])
  last_epoch = by_kind["epoch"][-1]
  for i in range(SIZE):
    step, value = scalars[f"epoch/validation_accuracy/member_{i}"][-1]
    assert step == last_epoch["step"]
    assert value == pytest.approx(last_epoch["member_validation_accuracy"][i])
    assert f"train/loss/member_{i}" in scalars
    assert f"test/accuracy/member_{i}" in scalars
  assert "test/ensemble_accuracy" in scalars
