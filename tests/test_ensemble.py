"""Ensembles (config.ensemble): each member trains the model of the single
run with its seed (and rate), on the 2 fake devices; members differ."""

import pathlib
import re

import chex
import jax
import numpy as np
import pytest

import zoo
from zoo.config import resolve
from zoo import report
from zoo import train
from zoo.data import batching
from zoo.runtime import parallel
from zoo.train import chunk_plan
from zoo.train import chunks
from zoo.train import ensemble
from zoo.train import evaluation
from zoo.train.state import TrainState

BATCHNORM_MODEL = pathlib.Path(__file__).with_name("batchnorm_model.py")
# Batched (vmapped) kernels round differently from one model's: members
# match their single runs to float rounding, grown over 20 Adam steps.
RTOL, ATOL = 1e-4, 1e-5


def _train(config):
  """(setup, progress) of `config` trained in-process, without a workdir."""
  s = train.setup(resolve.resolve(config))
  return s, train.train(s)


def _host(progress):
  """Device 0's params and model state (member-stacked), on the host."""
  state = jax.device_get(parallel.unreplicate(progress.state))
  return {"params": state.params, "model_state": state.model_state}


def _configure(config, model):
  config.model.name = model
  config.train.compilation_cache_dir = ""
  if model == "mlp":
    config.model.mlp.hidden_sizes = (32, 32)
    config.model.mlp.dropout_rate = 0.2  # The step keys must agree too.
  elif model == "cnn":
    config.model.cnn.channels = (4, 8)
    config.model.cnn.hidden_size = 16
    config.model.cnn.dropout_rate = 0.2
    config.train.steps_per_call = 5
  else:
    config.model.module = str(BATCHNORM_MODEL)
    # SGD: the Linear bias before the BatchNorm has a true gradient of 0, so
    # its gradient is rounding noise, which Adam scales up to steps of the
    # learning rate: it would drift apart (by ~1e-3 over 20 steps) between
    # any two programs that round differently, batched or not.
    config.optimizer.name = "sgd"
    config.optimizer.learning_rate = 0.1
  return config


@pytest.mark.parametrize("model,size", [("mlp", 3), ("cnn", 2),
                                        ("bn_test_net", 2)])
def test_member_equals_the_single_run_with_its_seed(base_config, model,
                                                    size):
  config = _configure(base_config, model)
  config.seed = 3
  config.ensemble.size = size
  s, progress = _train(config)
  assert s.members.seeds == tuple(range(3, 3 + size))
  members = _host(progress)
  for i in range(size):
    single = _configure(base_config.copy_and_resolve_references(), model)
    single.ensemble.size = 1
    single.seed = 3 + i
    single.data.split_seed = 3  # The ensemble's validation split.
    _, alone = _train(single)
    chex.assert_trees_all_close(ensemble.member(members, i, size),
                                ensemble.member(_host(alone), 0, 1),
                                rtol=RTOL, atol=ATOL)
    assert progress.test["member_accuracy"][i] == pytest.approx(
        alone.test["accuracy"], abs=1.5 / progress.test["count"])
    assert progress.test["member_loss"][i] == pytest.approx(
        alone.test["loss"], rel=1e-3)
    assert (progress.history[0]["member_validation_accuracy"][i]
            == pytest.approx(alone.history[0]["validation_accuracy"],
                             abs=1.5 / 130))
  with pytest.raises(AssertionError):  # Other seeds: other models.
    chex.assert_trees_all_close(ensemble.member(members["params"], 0, size),
                                ensemble.member(members["params"], 1, size),
                                rtol=1e-2)
  accuracies = progress.test["member_accuracy"]
  assert progress.test["accuracy"] == pytest.approx(np.mean(accuracies))


def test_members_are_every_seed_and_rate_pair(base_config):
  base_config.seed = 5
  base_config.ensemble.size = 2
  base_config.ensemble.learning_rates = (3e-3, 1e-2)
  members = resolve.resolve(base_config).members
  assert members.seeds == (5, 5, 6, 6) and members.data_seeds == (5, 5, 6, 6)
  assert members.learning_rates == (3e-3, 1e-2, 3e-3, 1e-2)
  base_config.ensemble.shared_data_order = True
  assert resolve.resolve(base_config).members.data_seeds == (5,) * 4


def test_rate_member_equals_the_single_run_at_that_rate(base_config):
  config = _configure(base_config, "mlp")
  config.optimizer.schedule = "cosine"
  config.optimizer.warmup_epochs = 0.5  # Warmup, then cosine: all traced.
  config.ensemble.learning_rates = (3e-3, 1e-2)
  s, progress = _train(config)
  assert s.members.learning_rates == (3e-3, 1e-2)
  members = _host(progress)
  single = _configure(base_config.copy_and_resolve_references(), "mlp")
  single.optimizer.learning_rate = 1e-2
  single.ensemble.learning_rates = ()
  _, alone = _train(single)
  chex.assert_trees_all_close(ensemble.member(members["params"], 1, 2),
                              ensemble.member(_host(alone)["params"], 0, 1),
                              rtol=RTOL, atol=ATOL)
  assert progress.test["member_accuracy"][1] == pytest.approx(
      alone.test["accuracy"], abs=1.5 / progress.test["count"])
  with pytest.raises(AssertionError):  # Same seed, other rate: other model.
    chex.assert_trees_all_close(ensemble.member(members["params"], 0, 2),
                                ensemble.member(members["params"], 1, 2),
                                rtol=1e-2)


def test_each_member_draws_its_own_data_order_unless_shared(base_config):
  base_config.ensemble.size = 3
  s = train.setup(resolve.resolve(base_config))
  n = s.chunk_runner.batches.num_examples
  assert not s.chunk_runner.batches.members_share_batches
  order = np.asarray(s.chunk_runner.batches.epoch_order(1))
  assert order.shape == (2, 3, n)  # [devices, members, examples]
  for i in range(3):
    np.testing.assert_array_equal(order[1, i], np.asarray(
        batching.device_epoch_permutation(n, i, 1)))
  base_config.ensemble.shared_data_order = True
  s = train.setup(resolve.resolve(base_config))
  assert s.chunk_runner.batches.members_share_batches  # Read once for all.
  order = np.asarray(s.chunk_runner.batches.epoch_order(1))
  assert order.shape == (2, n)  # No member axis: one order.
  np.testing.assert_array_equal(order[1], np.asarray(
      batching.device_epoch_permutation(n, 0, 1)))
  assert s.members.seeds == (0, 1, 2) and s.members.data_seeds == (0, 0, 0)


def test_a_single_run_has_the_member_axis_too(base_config):
  s = train.setup(resolve.resolve(base_config))
  assert s.members.size == 1
  leaf = jax.tree.leaves(s.state.params)[0]  # [devices, members, ...]
  assert leaf.shape[:2] == (2, 1)
  base_config.ensemble.size = 2
  two = train.setup(resolve.resolve(base_config))
  assert jax.tree.leaves(two.state.params)[0].shape == (
      2, 2, *leaf.shape[2:])
  assert s.state.step.shape == (2,)  # The step is shared: no member axis.


def test_evaluation_gives_each_member_and_the_averaged_probabilities(
    base_config):
  base_config.ensemble.size = 3
  s = train.setup(resolve.resolve(base_config))
  split = s.dataset.test
  got = evaluation.evaluate(s, s.state, split, 100, "test")
  state = jax.device_get(parallel.unreplicate(s.state))
  probs = []
  for i in range(3):
    member = ensemble.member(state, i, 3)
    logits, _ = s.forward.apply(member.params, member.model_state, None,
                                split.inputs, is_training=False)
    logits = np.asarray(logits, np.float64)
    assert got["member_accuracy"][i] == pytest.approx(
        np.mean(logits.argmax(-1) == split.labels), abs=1e-12)
    probs.append(np.exp(logits - logits.max(-1, keepdims=True)))
    probs[-1] /= probs[-1].sum(-1, keepdims=True)
    loss = -np.log(probs[-1][np.arange(len(split)), split.labels]).mean()
    assert got["member_loss"][i] == pytest.approx(loss, rel=1e-5)
  mean = np.mean(probs, axis=0)
  np.testing.assert_array_equal(got["predictions"], mean.argmax(-1))
  assert got["ensemble_accuracy"] == pytest.approx(
      np.mean(mean.argmax(-1) == split.labels), abs=1e-12)
  assert got["ensemble_loss"] == pytest.approx(
      -np.log(mean[np.arange(len(split)), split.labels]).mean(), rel=1e-5)
  assert got["accuracy"] == pytest.approx(np.mean(got["member_accuracy"]))
  assert len(set(got["member_accuracy"])) > 1  # Three other models.


def test_out_of_memory_of_an_ensemble_names_its_size(base_config):
  base_config.ensemble.size = 8
  oom = RuntimeError("RESOURCE_EXHAUSTED: Out of memory while trying to "
                     "allocate 123 bytes.\nmore detail")
  with pytest.raises(zoo.ConfigError) as e:
    with ensemble.out_of_memory_hint(resolve.resolve(base_config).members):
      raise oom
  assert "config.ensemble.size=8" in str(e.value) and "\n" not in str(e.value)
  assert "--config.ensemble.size=4" in str(e.value)
  base_config.ensemble.size = 1  # A single run's error stays as it is.
  with pytest.raises(RuntimeError, match="RESOURCE_EXHAUSTED"):
    with ensemble.out_of_memory_hint(resolve.resolve(base_config).members):
      raise oom


def test_summary_of_a_rate_sweep_marks_the_best_member():
  members = [{"seed": 0, "learning_rate": r, "test_accuracy": a,
              "test_loss": 0.3, "best_validation_accuracy": v,
              "best_validation_epoch": 2}
             for r, a, v in ((3e-3, 0.91, 0.90), (1e-3, 0.93, 0.95),
                             (3e-4, 0.94, 0.92))]
  results = {"model": "mlp", "num_params": 10, "dataset": "mnist",
             "num_train_examples": 90, "num_validation_examples": 10,
             "num_test_examples": 100, "num_devices": 2, "platform": "cpu",
             "steps": 7, "train_seconds": 1.0, "test_accuracy": 0.9267,
             "test_loss": 0.3, "best_validation_epoch": None,
             "num_members": 3, "members": members,
             "test_accuracy_mean": 0.9267, "test_accuracy_std": 0.0153,
             "ensemble_test_accuracy": 0.95}
  text = report.format_summary(results, "runs/x")
  assert "accuracy 0.9267 ± 0.0153 over 3 members; ensemble of 3: 0.9500" in (
      text)
  marked = [line for line in text.splitlines() if line.lstrip().startswith(
      "*")]
  assert len(marked) == 1 and "0.001" in marked[0] and "0.9300" in marked[0]
  assert "(*: best validation accuracy)" in text


def test_unrolled_members_equal_vmapped_members():
  """map_members(unrolled=True) (CPU convolutions) gives vmap's outputs,
  shared (None) and stacked (0) axes alike, NamedTuple fields included."""
  state = TrainState(
      params={"w": np.arange(6.0).reshape(3, 2)}, model_state={},
      opt_state=(), step=np.int32(4), rng=np.arange(3.0))

  def fn(member_state, x, scale):
    out = member_state._replace(params={"w": member_state.params["w"] * x})
    return out, {"sum": member_state.params["w"].sum() * scale + x}

  args = (state, np.array([1.0, 2.0, 3.0]), np.float32(0.5))
  axes = ((ensemble.STATE_AXES, 0, None), (ensemble.STATE_AXES, 0))
  vmapped = ensemble.map_members(fn, 3, *axes)(*args)
  unrolled = ensemble.map_members(fn, 3, *axes, unrolled=True)(*args)
  chex.assert_trees_all_close(unrolled, vmapped)
  assert unrolled[0].step == 4 and unrolled[0].params["w"].shape == (3, 2)


@pytest.mark.parametrize("unroll,k,unrolled,steps", [
    (0, 1, True, 10), (0, 4, True, 2), (0, 8, True, 2), (0, 2, True, 5),
    (0, 17, False, 10), (1, 8, False, 50)])
def test_which_chunks_unroll_members(unroll, k, unrolled, steps):
  plan = chunk_plan.plan(steps_per_epoch=100, steps_per_call=50,
                         unroll=unroll, num_members=k)
  assert plan.unrolled_members == unrolled
  assert plan.steps_per_call == steps


def test_an_ensemble_too_large_for_the_device_stops_first(base_config,
                                                         monkeypatch):
  """One line naming ensemble.size, one member's need and the device's
  memory, before anything is allocated."""
  monkeypatch.setattr(ensemble, "device_memory_bytes",
                      lambda device: 3 * 2**20)  # A 3 MB device.
  base_config.model.mlp.hidden_sizes = (512, 512)  # ~2.6 MB of params.
  base_config.ensemble.size = 4
  with pytest.raises(zoo.ConfigError) as e:
    train.setup(resolve.resolve(base_config))
  text = str(e.value)
  assert "config.ensemble.size=4" in text and "\n" not in text
  assert re.search(r"each member needs about [\d,]+ MB", text), text
  assert "has 3 MB" in text and "--config.ensemble.size=1" in text
  base_config.ensemble.size = 1  # A single run is never refused.
  train.setup(resolve.resolve(base_config))


def test_unrolled_chunks_never_get_a_one_step_chunk():
  """35 steps per epoch (mnist-5k's) in chunks of 2 would leave one step,
  a 20x slower program for a CNN on CPU: it joins the chunk before it, for
  unrolled members and unrolled single runs alike."""
  runner = chunks.ChunkRunner(None, None, jax.devices()[:1], 0,
                              steps_per_epoch=35, steps_per_call=50,
                              num_members=8)
  assert runner.chunk_sizes(0) == [2] * 16 + [3]
  single = chunks.ChunkRunner(None, None, jax.devices()[:1], 0,
                              steps_per_epoch=35, steps_per_call=50)
  assert single.chunk_sizes(0) == [7] * 5  # 35 splits evenly.
  fashion = chunks.ChunkRunner(None, None, jax.devices()[:1], 0,
                               steps_per_epoch=421, steps_per_call=200)
  assert fashion.chunk_sizes(0) == [10] * 41 + [11]  # Unrolled: no 1-step
  # tail for a single run either (a prime epoch, Fashion-MNIST's).


def test_skipped_steps_count_every_member():
  from zoo.train import loop  # pylint: disable=g-import-not-at-top
  skipped = np.array([[1, 0], [1, 1], [0, 0]])  # [steps, K]
  np.testing.assert_array_equal(loop._over_members("skipped", skipped),
                                [1, 2, 0])
  np.testing.assert_allclose(loop._over_members("loss", skipped * 1.0),
                             [0.5, 1.0, 0.0])
