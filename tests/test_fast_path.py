"""Chunks of train steps: any chunk length trains the same model, hooks see
each chunk, resume at chunk ends; on the 2 fake CPU devices of conftest."""

import subprocess
import sys
import textwrap

import chex
import jax
import numpy as np
import pytest

import resume_config
from resume_helpers import (StopAt, assert_same_as_reference,
                            checkpoint_steps, reference)  # noqa: F401  (a fixture)
from zoo import data
from zoo.config import resolve
from zoo import experiment
from zoo import train
from zoo.train import chunk_plan
from zoo.train import hooks as hooks_lib
from zoo.train import signals


class Recorder(hooks_lib.Hook):
  """Every chunk and epoch summary the loop hands to hooks, and the step of
  the state each chunk comes with."""

  def __init__(self):
    self.chunks, self.epochs, self.state_steps = [], [], []

  def on_chunk_end(self, progress, chunk):
    self.chunks.append(chunk)
    self.state_steps.append(int(jax.device_get(progress.state.step)[0]))

  def on_epoch_end(self, progress, epoch):
    self.epochs.append(epoch)


def _train(config, steps_per_call):
  config.train.steps_per_call = steps_per_call
  s = train.setup(resolve.resolve(config))
  recorder = Recorder()
  progress = train.train(s, [recorder])
  return s, progress, recorder


@pytest.mark.parametrize("model,exact", [("mlp", True), ("cnn", False)])
def test_chunk_length_does_not_change_training(base_config, model, exact):
  base_config.model.name = model
  base_config.train.num_epochs = 2
  base_config.train.batch_size = 56  # 1,293 train examples: 23 steps/epoch,
  base_config.train.compilation_cache_dir = ""  # a prime: chunks 7,7,7,2
  # (cnn: the same chunks, unrolled).
  if model == "mlp":
    base_config.model.mlp.dropout_rate = 0.3  # Per-step keys must agree too.
  one = _train(base_config, 1)
  seven = _train(base_config, 7)
  assert seven[0].chunk_runner.steps_per_call == 7
  assert one[0].chunk_runner.steps_per_call == 1
  assert [c.num_steps for c in one[2].chunks] == [1] * 46
  params = [jax.device_get(p.state.params) for _, p, _ in (one, seven)]
  losses = [np.concatenate([c.metrics["loss"] for c in rec.chunks])
            for _, _, rec in (one, seven)]
  assert len(losses[1]) == 46
  if exact:  # Same XLA programs per step: bitwise equal.
    chex.assert_trees_all_equal(params[0], params[1])
    np.testing.assert_array_equal(losses[0], losses[1])
  else:  # The unrolled chunk fuses differently: float rounding only.
    chex.assert_trees_all_close(params[0], params[1], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(losses[0], losses[1], rtol=1e-4)
  with pytest.raises(AssertionError):  # Training changed the parameters.
    chex.assert_trees_all_close(params[1], jax.device_get(
        train.setup(resolve.resolve(base_config)).state.params))


def test_hooks_see_each_chunk_with_the_state_at_its_end(base_config):
  base_config.train.batch_size = 56
  base_config.train.compilation_cache_dir = ""
  _, progress, rec = _train(base_config, 7)
  assert [(c.first_step, c.last_step) for c in rec.chunks] == [
      (0, 7), (7, 14), (14, 21), (21, 23)]
  assert rec.state_steps == [7, 14, 21, 23]  # The state is at the chunk end.
  assert [c.ends_epoch for c in rec.chunks] == [False, False, False, True]
  assert [c.metrics["loss"].shape for c in rec.chunks] == [(7,)] * 3 + [(2,)]
  assert all(isinstance(c.metrics["accuracy"], np.ndarray)
             for c in rec.chunks)
  assert [(e.epoch, e.step) for e in rec.epochs] == [(1, 23)]
  mean = np.mean(np.concatenate([c.metrics["loss"] for c in rec.chunks]))
  assert rec.epochs[0].train_loss == pytest.approx(mean, rel=1e-6)
  assert rec.epochs[0].validation_accuracy is not None  # The loop's eval.
  assert progress.step == 23 and progress.test["count"] > 0
  assert progress.history == [rec.epochs[0].to_json()]


def test_crossed_answers_whether_a_multiple_was_passed():
  assert hooks_lib.crossed(7, 14, 10) and hooks_lib.crossed(9, 10, 10)
  assert not hooks_lib.crossed(10, 19, 10) and not hooks_lib.crossed(0, 9, 10)
  assert hooks_lib.crossed(0, 100, 50)
  assert not hooks_lib.crossed(0, 100, 0)  # 0: never.


def test_chunk_lengths_and_sizes():
  assert chunk_plan.chunk_length(35, 50) == 35
  assert chunk_plan.chunk_length(35, 10) == 7  # Divides the epoch: one compile.
  assert chunk_plan.chunk_length(23, 7) == 7  # Prime: no even split.
  assert chunk_plan.chunk_length(468, 50) == 39
  assert chunk_plan.chunk_sizes(0, 23, 7) == [7, 7, 7, 2]
  assert chunk_plan.chunk_sizes(7, 23, 7) == [7, 7, 2]  # Resume at a chunk end.
  assert chunk_plan.chunk_sizes(9, 23, 7) == [5, 7, 2]  # Or anywhere.
  assert chunk_plan.chunk_sizes(0, 5, 50) == [5]
  # Unrolled ensemble members: no 1-step chunk (a slow program on CPU).
  assert chunk_plan.chunk_length(35, 2, min_length=2) == 2
  assert chunk_plan.chunk_length(35, 2) == 1
  assert chunk_plan.chunk_sizes(0, 35, 2, min_size=2) == [2] * 16 + [3]
  assert chunk_plan.chunk_sizes(0, 7, 2, min_size=2) == [2, 2, 3]
  assert chunk_plan.chunk_sizes(0, 1, 2, min_size=2) == [1]


@pytest.mark.parametrize("unroll,members,sizes", [
    (0, 1, [10] * 41 + [11]),  # Unrolled CNN: no 1-step tail (20x slower).
    (0, 4, [2] * 209 + [3]),  # Unrolled members: the same rule.
    (1, 1, [200, 200, 21]),  # A loop: any length compiles alike.
])
def test_unrolled_chunks_fold_a_one_step_epoch_tail(unroll, members, sizes):
  """Fashion-MNIST's 421 steps per epoch (a prime) at the recipes'
  steps_per_call=200: a remainder shorter than min_chunk joins the chunk
  before it wherever chunks are fully unrolled."""
  plan = chunk_plan.plan(steps_per_epoch=421, steps_per_call=200,
                         unroll=unroll, num_members=members)
  got = chunk_plan.chunk_sizes(0, 421, plan.steps_per_call, plan.min_chunk)
  assert got == sizes and sum(got) == 421
  assert plan.min_chunk == (chunk_plan.MIN_UNROLLED_STEPS if unroll == 0
                            else 1)
  # Asked for 1 step per call, an unrolled run still gets exactly that.
  one = chunk_plan.plan(421, 1, unroll=unroll, num_members=members)
  assert chunk_plan.chunk_sizes(0, 421, one.steps_per_call,
                                one.min_chunk) == [1] * 421


def test_epoch_order_is_a_permutation_of_the_seed_and_epoch():
  perm = data.batching.device_epoch_permutation
  devices = jax.local_devices()
  first = np.asarray(perm(1000, 3, 2, devices[0]))
  np.testing.assert_array_equal(first, np.asarray(perm(1000, 3, 2,
                                                       devices[1])))
  assert sorted(first.tolist()) == list(range(1000))
  assert not np.array_equal(first, np.asarray(perm(1000, 3, 3)))  # Epoch.
  assert not np.array_equal(first, np.asarray(perm(1000, 4, 2)))  # Seed.


def test_unroll_is_full_only_for_convolutions_on_cpu(base_config):
  base_config.train.compilation_cache_dir = ""
  for model, expected in (("cnn", 0), ("mlp", 1), ("logistic", 1)):
    base_config.model.name = model
    runner = train.setup(resolve.resolve(base_config)).chunk_runner
    assert runner.unroll == expected, model
  assert runner.steps_per_call == 20  # min(200, epoch of 20 steps).
  base_config.model.name = "cnn"
  runner = train.setup(resolve.resolve(base_config)).chunk_runner
  assert runner.steps_per_call == chunk_plan.MAX_UNROLLED_STEPS == 10  # Capped.
  assert chunk_plan.choose_unroll(0, True, "gpu") == 1
  assert chunk_plan.choose_unroll(4, True, "cpu") == 4


def test_two_device_chunks_finish(tmp_path):
  # Queued multi-device CPU collectives can deadlock ("Termination timeout
  # for all reduce") and abort the process: run many small chunks on 2
  # devices in a child process that must finish in time.
  script = textwrap.dedent("""
      import chex
      chex.set_n_cpu_devices(2)
      from configs import default
      from zoo import train
      from zoo.config import resolve
      config = default.get_config()
      config.data.name = "digits"
      config.train.batch_size = 32
      config.train.num_epochs = 3
      config.train.steps_per_call = 2
      config.train.compilation_cache_dir = ""
      s = train.setup(resolve.resolve(config))
      progress = train.train(s)
      print("steps", progress.step, len(s.devices))
  """)
  out = subprocess.run([sys.executable, "-c", script], capture_output=True,
                       text=True, timeout=300, check=False)
  assert out.returncode == 0, out.stderr[-2000:]
  assert "steps 120 2" in out.stdout  # 1,293 // 32 = 40 steps x 3 epochs.


def test_chunked_run_checkpoints_at_chunk_ends_and_resumes(reference,
                                                           tmp_path):
  # The reference (resume_config: 20 steps/epoch, one step per chunk, a
  # checkpoint every 10 steps) redone in chunks of 5 steps.
  config = resume_config.get_config()
  config.train.steps_per_call = 5
  workdir = tmp_path / "run"
  with pytest.raises(signals.RunInterrupted, match="at step 15/60"):
    experiment.train_and_evaluate(
        config, str(workdir), [StopAt(13)])  # Mid-chunk: its end.
  assert checkpoint_steps(workdir) == [10, 15]
  config.checkpoint.every_steps = 7  # Due at 21, 28, ...: saved at 25, 30.
  with pytest.raises(signals.RunInterrupted, match="at step 25/60"):
    experiment.train_and_evaluate(config, str(workdir), [StopAt(24)])
  assert checkpoint_steps(workdir)[-1] == 25
  config.checkpoint.every_steps = 10
  results = experiment.train_and_evaluate(config, str(workdir))
  assert_same_as_reference(workdir, results, reference)  # Bitwise.
