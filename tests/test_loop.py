"""The loop's own promises: hooks are always closed, a bad state is never
saved, the training time covers every piece of a run, and a BatchNorm model's
statistics are trained, checkpointed, resumed and evaluated."""

import math
import pathlib

import jax
import numpy as np
import pytest

from resume_helpers import StopAt, state_arrays
from zoo import experiment
from zoo.config import resolve
from zoo import train
from zoo.checkpoint import hook as checkpoint_hook
from zoo.train import divergence
from zoo.train import hooks as hooks_lib
from zoo.train import loop
from zoo.train import signals

BATCHNORM_MODEL = pathlib.Path(__file__).with_name("batchnorm_model.py")


class Closes(hooks_lib.Hook):
  """Records close(); optionally fails in on_chunk_end or in close()."""

  def __init__(self, fail_at_step=None, fail_on_close=False):
    self.fail_at_step, self.fail_on_close = fail_at_step, fail_on_close
    self.closed = 0

  def on_chunk_end(self, progress, chunk):
    if self.fail_at_step is not None and chunk.last_step >= self.fail_at_step:
      raise RuntimeError("a hook failed")

  def close(self):
    self.closed += 1
    if self.fail_on_close:
      raise OSError("close failed")


def test_every_hook_is_closed_after_an_error(base_config):
  base_config.train.steps_per_call = 5
  s = train.setup(resolve.resolve(base_config))
  hooks = [Closes(fail_on_close=True), Closes(fail_at_step=5), Closes()]
  with pytest.raises(RuntimeError, match="a hook failed"):
    train.train(s, hooks)
  assert [h.closed for h in hooks] == [1, 1, 1]  # A failing close too.


def test_every_hook_is_closed_after_a_stop_signal(base_config, tmp_path):
  base_config.train.steps_per_call = 5
  closing = Closes()
  with pytest.raises(signals.RunInterrupted, match="at step 5/20"):
    experiment.train_and_evaluate(base_config, str(tmp_path),
                                  [StopAt(3), closing])
  assert closing.closed == 1


def test_a_state_with_nan_is_never_saved(base_config, tmp_path):
  s = train.setup(resolve.resolve(base_config))
  progress = loop.start(s)
  progress.step = 3
  progress.state = progress.state._replace(params=jax.tree.map(
      lambda x: x.at[..., 0].set(math.nan), progress.state.params))
  hook = checkpoint_hook.CheckpointHook(str(tmp_path), s.spec)
  try:
    with pytest.raises(divergence.DivergedError,
                       match=r"train state holds NaN/Inf values \(params\."):
      hook.save(progress)
    assert hook.checkpointer.steps() == []
    assert "No checkpoint had been saved yet" in hook.describe_last()
  finally:
    hook.close()


def test_training_time_covers_every_piece_of_the_run(base_config, tmp_path):
  base_config.train.num_epochs = 2
  base_config.train.steps_per_call = 5
  base_config.checkpoint.min_interval_s = 0.0
  with pytest.raises(signals.RunInterrupted):
    experiment.train_and_evaluate(base_config, str(tmp_path), [StopAt(25)])
  first_piece = checkpoint_hook.latest_step(str(tmp_path))
  assert first_piece == 25
  ckpt = checkpoint_hook.CheckpointHook(
      str(tmp_path), resolve.resolve(base_config), read_only=True)
  try:
    saved = ckpt.checkpointer.read_meta(first_piece)
  finally:
    ckpt.close()
  assert saved["train_seconds"] > 0 and len(saved["history"]) == 1
  finished = experiment.train_and_evaluate(base_config, str(tmp_path))
  assert finished["train_seconds"] > saved["train_seconds"]  # Both pieces.
  assert finished["best_validation_epoch"] in (1, 2)  # Epoch 1 is known.
  again = experiment.train_and_evaluate(base_config, str(tmp_path))
  assert again["train_seconds"] == finished["train_seconds"]  # Nothing new.
  assert again["test_accuracy"] == finished["test_accuracy"]


def test_a_batchnorm_model_resumes_bitwise_and_evaluates(base_config,
                                                         tmp_path):
  base_config.model.module = str(BATCHNORM_MODEL)
  base_config.model.name = "bn_test_net"
  base_config.train.num_epochs = 2
  base_config.train.steps_per_call = 5
  base_config.checkpoint.min_interval_s = 0.0
  whole = experiment.train_and_evaluate(base_config, str(tmp_path / "whole"))
  with pytest.raises(signals.RunInterrupted, match="at step 15/40"):
    experiment.train_and_evaluate(base_config, str(tmp_path / "pieces"),
                                  [StopAt(12)])
  pieces = experiment.train_and_evaluate(base_config,
                                         str(tmp_path / "pieces"))
  got, want = (state_arrays(tmp_path / d) for d in ("pieces", "whole"))
  stats = [k for k in want if k.startswith("model_state.")
           and "batch_norm" in k and k.endswith("average")]
  assert len(stats) == 2  # The moving mean and variance.
  assert sorted(got) == sorted(want)
  for name in want:
    np.testing.assert_array_equal(got[name], want[name], err_msg=name)
  mean = next(k for k in stats if "mean" in k)
  assert np.any(want[mean] != 0)  # Trained: the moving mean starts at 0.
  assert pieces["test_accuracy"] == whole["test_accuracy"]
  evaluated = experiment.evaluate_checkpoint(base_config,
                                             str(tmp_path / "pieces"))
  assert evaluated["test_accuracy"] == whole["test_accuracy"]
  assert evaluated["test_loss"] == pytest.approx(whole["test_loss"],
                                                 rel=1e-6)
