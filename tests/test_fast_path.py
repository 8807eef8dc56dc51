"""The chunked fast path (train.steps_per_call > 1) against the per-step path,
on the 2 fake CPU devices of conftest."""

import json
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
from zoo import train
from zoo.train import chunks
from zoo.train import hooks as hooks_lib
from zoo.train import loop
from zoo.train import signals


class Recorder(hooks_lib.Hook):
  """Every after_step call: step, state_step, epoch and host metrics."""

  def __init__(self):
    self.calls, self.epoch_ends = [], []

  def after_step(self, run, step):
    self.calls.append((step, run.state_step, run.epoch,
                       jax.device_get(run.metrics)))

  def on_epoch_end(self, run, epoch):
    self.epoch_ends.append((epoch, run.step, run.state_step))


def _train(config, steps_per_call):
  config.train.steps_per_call = steps_per_call
  s = train.setup(config)
  recorder = Recorder()
  run = train.train(s, config, [recorder])
  return s, run, recorder


@pytest.mark.parametrize("model,exact", [("mlp", True), ("cnn", False)])
def test_chunked_path_matches_per_step_path(base_config, model, exact):
  base_config.model.name = model
  base_config.train.num_epochs = 2
  base_config.train.batch_size = 56  # 1,293 train examples: 23 steps/epoch,
  base_config.train.compilation_cache_dir = ""  # a prime: chunks 7,7,7,2
  # (cnn: the same chunks, unrolled).
  if model == "mlp":
    base_config.model.mlp.dropout_rate = 0.3  # Per-step keys must agree too.
  per_step = _train(base_config, 1)
  chunked = _train(base_config, 7)
  assert chunked[0].chunk_runner.steps_per_call == 7
  assert per_step[0].chunk_runner is None
  params = [jax.device_get(r.state.params) for _, r, _ in (per_step, chunked)]
  losses = [[float(c[3]["loss"][0]) for c in rec.calls]
            for _, _, rec in (per_step, chunked)]
  assert len(losses[1]) == 46
  if exact:  # Same XLA programs per step: bitwise equal.
    chex.assert_trees_all_equal(params[0], params[1])
    assert losses[0] == losses[1]
  else:  # The unrolled chunk fuses differently: float rounding only.
    chex.assert_trees_all_close(params[0], params[1], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(losses[0], losses[1], rtol=1e-4)
  with pytest.raises(AssertionError):  # Training changed the parameters.
    chex.assert_trees_all_close(params[1], jax.device_get(
        train.setup(base_config).state.params))


def test_hooks_see_every_step_with_host_metrics(base_config):
  base_config.train.batch_size = 56
  base_config.train.compilation_cache_dir = ""
  _, run, rec = _train(base_config, 7)
  assert [c[0] for c in rec.calls] == list(range(1, 24))
  current = [c[0] for c in rec.calls if c[0] == c[1]]
  assert current == [7, 14, 21, 23]  # Chunk ends: the state is that step's.
  assert all(c[1] in current and c[1] >= c[0] for c in rec.calls)
  assert rec.epoch_ends == [(0, 23, 23)]
  first = rec.calls[0][3]
  assert isinstance(first["loss"], np.ndarray) and first["loss"].shape == (2,)
  assert int(jax.device_get(run.state.step)[0]) == 23 == run.state_step


def test_chunk_lengths_and_sizes():
  assert chunks.chunk_length(35, 50) == 35
  assert chunks.chunk_length(35, 10) == 7  # Divides the epoch: one compile.
  assert chunks.chunk_length(23, 7) == 7  # Prime: no even split.
  assert chunks.chunk_length(468, 50) == 39
  assert chunks.chunk_sizes(0, 23, 7) == [7, 7, 7, 2]
  assert chunks.chunk_sizes(7, 23, 7) == [7, 7, 2]  # Resume at a chunk end.
  assert chunks.chunk_sizes(9, 23, 7) == [5, 7, 2]  # Or anywhere.
  assert chunks.chunk_sizes(0, 5, 50) == [5]


def test_host_and_device_epoch_orders_agree():
  host = data.batching.epoch_permutation(1000, seed=3, epoch=2)
  device = data.batching.device_epoch_permutation(1000, 3, 2,
                                                  jax.local_devices()[1])
  np.testing.assert_array_equal(host, np.asarray(device))
  assert sorted(host.tolist()) == list(range(1000))
  assert not np.array_equal(
      host, data.batching.epoch_permutation(1000, seed=3, epoch=3))


def test_unroll_is_full_only_for_convolutions_on_cpu(base_config):
  base_config.train.compilation_cache_dir = ""
  for model, expected in (("cnn", 0), ("mlp", 1), ("logistic", 1)):
    base_config.model.name = model
    runner = train.setup(base_config).chunk_runner
    assert runner.unroll == expected, model
  assert runner.steps_per_call == 20  # min(200, epoch of 20 steps).
  base_config.model.name = "cnn"
  runner = train.setup(base_config).chunk_runner
  assert runner.steps_per_call == chunks.MAX_UNROLLED_STEPS == 10  # Capped.
  assert chunks.choose_unroll(0, True, "gpu") == 1
  assert chunks.choose_unroll(4, True, "cpu") == 4


def test_two_device_chunks_finish(tmp_path):
  # Queued multi-device CPU collectives can deadlock ("Termination timeout
  # for all reduce") and abort the process: run many small chunks on 2
  # devices in a child process that must finish in time.
  script = textwrap.dedent("""
      import chex
      chex.set_n_cpu_devices(2)
      from configs import default
      from zoo import train
      config = default.get_config()
      config.data.name = "digits"
      config.train.batch_size = 32
      config.train.num_epochs = 3
      config.train.steps_per_call = 2
      config.train.compilation_cache_dir = ""
      s = train.setup(config)
      run = train.train(s, config)
      print("steps", run.step, len(s.devices))
  """)
  out = subprocess.run([sys.executable, "-c", script], capture_output=True,
                       text=True, timeout=300, check=False)
  assert out.returncode == 0, out.stderr[-2000:]
  assert "steps 120 2" in out.stdout  # 1,293 // 32 = 40 steps x 3 epochs.


def test_chunked_run_checkpoints_at_chunk_ends_and_resumes(reference,
                                                           tmp_path):
  # The per-step reference (resume_config: 20 steps/epoch, a checkpoint
  # every 10 steps) redone in chunks of 5 steps on the fast path.
  config = resume_config.get_config()
  config.train.steps_per_call = 5
  workdir = tmp_path / "run"
  with pytest.raises(signals.RunInterrupted, match="at step 15/60"):
    loop.run(config, str(workdir), [StopAt(13)])  # Mid-chunk: its end.
  assert checkpoint_steps(workdir) == [10, 15]
  config.checkpoint.every_steps = 7  # Due at 21, 28, ...: saved at 25, 30.
  with pytest.raises(signals.RunInterrupted, match="at step 25/60"):
    loop.run(config, str(workdir), [StopAt(24)])
  assert checkpoint_steps(workdir)[-1] == 25
  config.checkpoint.every_steps = 10
  results = loop.run(config, str(workdir))
  assert_same_as_reference(workdir, results, reference)  # Bitwise.


def test_logged_rates_stay_right_when_steps_arrive_in_bursts(base_config,
                                                             tmp_path):
  # Chunks of 20 steps reach the hooks at once; the logged examples/s must
  # still spread each chunk's time over its steps (not ~0 s per window).
  base_config.train.num_epochs = 2
  base_config.train.compilation_cache_dir = ""
  base_config.report.plots = base_config.report.tensorboard = False
  loop.run(base_config, str(tmp_path))
  rows = [json.loads(l) for l in (tmp_path / "metrics.jsonl").open()]
  rates = [r["examples_per_second"] for r in rows if r["kind"] == "step"]
  assert [r["step"] for r in rows if r["kind"] == "step"] == [10, 20, 30, 40]
  assert max(rates) / min(rates) < 20, rates  # Compile time is in the first.
