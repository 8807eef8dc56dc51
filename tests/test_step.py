"""The pmapped steps: device equivalence, no recompiles, exact eval counts."""

import inspect
import types

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import batchnorm_model  # noqa: F401  (registers bn_test_net)
import zoo
from zoo import data
from zoo.models import registry
from zoo.runtime import parallel
from zoo.train import state as state_lib
from zoo.train import step as step_lib

INPUT_SHAPE = (8, 8, 1)
NUM_CLASSES = 10


# Registry-wide overrides: the input shape of a model that rejects
# INPUT_SHAPE, smaller hyperparameters where the defaults are slow on 2 CPU
# cores (their defaults run in tests/test_registry.py), and models that only
# repeat another's code path here (~40 s each on 2 busy cores).
MODEL_INPUT_SHAPES = {"lenet5": (12, 12, 1)}  # LeNet-5 needs >= 12x12.
SMALL_HYPERPARAMETERS = {"resnet18": {"width": 8}}
SAME_CODE_AS = {"resnet32": "resnet20", "resnet44": "resnet20",
                "resnet56": "resnet20"}  # resnet20's class, deeper default.


def _deterministic_kwargs(name):
  """Default hyperparameters, with dropout off where the model has it."""
  params = inspect.signature(registry.get_model(name)).parameters
  kwargs = dict(SMALL_HYPERPARAMETERS.get(name, {}))
  return {"dropout_rate": 0.0, **kwargs} if "dropout_rate" in params else kwargs


def _setup(name, optimizer=None, input_shape=INPUT_SHAPE):
  forward = registry.build_forward(name, NUM_CLASSES,
                                   _deterministic_kwargs(name))
  optimizer = optimizer or optax.adam(1e-2)
  state = state_lib.init_state(forward, optimizer, input_shape, seed=0)
  return forward, optimizer, state


def _batch(n, seed=0, input_shape=INPUT_SHAPE):
  rng = np.random.default_rng(seed)
  return {"inputs": rng.random((n, *input_shape), np.float32),
          "labels": rng.integers(0, NUM_CLASSES, (n,)).astype(np.int32)}


def _pmapped_step(forward, optimizer, devices, input_shape=INPUT_SHAPE):
  step = step_lib.make_train_step(forward, optimizer, input_shape, NUM_CLASSES)
  return jax.pmap(step, axis_name=parallel.AXIS, devices=devices)


def test_two_fake_devices_exist():
  assert jax.local_device_count() == 2, "conftest must fake 2 CPU devices"


# A model whose BatchNorm keeps per-device statistics normalises each device's
# half of the batch on its own, so by design its 2-device step differs from a
# 1-device step; the model-state tests below cover it instead.
def _two_device_cases():
  for name in zoo.list_models():
    if name in SAME_CODE_AS:
      reason = f"same code as {SAME_CODE_AS[name]}"
      yield pytest.param(name, marks=pytest.mark.skip(reason=reason))
    elif name != "bn_test_net":
      yield name


@pytest.mark.parametrize("name", list(_two_device_cases()))
def test_two_device_step_equals_one_device_step(name):
  # Plain SGD: the update is the averaged gradient itself (Adam's first step
  # is ~sign(grad), which would amplify float rounding in near-zero grads).
  input_shape = MODEL_INPUT_SHAPES.get(name, INPUT_SHAPE)
  forward, optimizer, state = _setup(name, optax.sgd(0.1), input_shape)
  batch = _batch(16, input_shape=input_shape)
  results = []
  for devices in (jax.local_devices()[:1], jax.local_devices()[:2]):
    n = len(devices)
    p_step = _pmapped_step(forward, optimizer, devices, input_shape)
    new_state, metrics = p_step(parallel.replicate(state, devices),
                                parallel.shard(batch, n))
    results.append((parallel.unreplicate(new_state.params),
                    parallel.unreplicate(metrics)))
  chex.assert_trees_all_close(results[0], results[1], rtol=1e-5, atol=1e-6)
  # The step really changed the parameters.
  with pytest.raises(AssertionError):
    chex.assert_trees_all_close(results[1][0], state.params)


def test_dropout_keys_differ_per_device_and_per_step():
  devices = jax.local_devices()[:2]
  _, _, state = _setup("mlp")

  def keys(state):
    return jax.random.key_data(step_lib.step_rng(state))

  p_keys = jax.pmap(keys, axis_name=parallel.AXIS, devices=devices)
  replicated = parallel.replicate(state, devices)
  k0 = np.asarray(p_keys(replicated))
  assert not np.array_equal(k0[0], k0[1])
  later = replicated._replace(step=replicated.step + 1)
  assert not np.array_equal(k0, np.asarray(p_keys(later)))
  # A fresh state from the same seed gives the same keys; another seed not.
  forward, optimizer, again = _setup("mlp")
  np.testing.assert_array_equal(
      k0, np.asarray(p_keys(parallel.replicate(again, devices))))
  other = state_lib.init_state(forward, optimizer, INPUT_SHAPE, seed=1)
  assert not np.array_equal(
      k0, np.asarray(p_keys(parallel.replicate(other, devices))))


def test_train_step_compiles_once():
  forward, optimizer, state = _setup("mlp")
  devices = jax.local_devices()[:2]
  step = chex.assert_max_traces(
      step_lib.make_train_step(forward, optimizer, INPUT_SHAPE, NUM_CLASSES),
      n=1)
  p_step = jax.pmap(step, axis_name=parallel.AXIS, devices=devices,
                    donate_argnums=(0,))
  replicated = parallel.replicate(state, devices)
  for i in range(3):
    replicated, metrics = p_step(replicated, parallel.shard(_batch(8, i), 2))
  assert int(parallel.unreplicate(replicated.step)) == 3
  assert np.isfinite(float(parallel.unreplicate(metrics)["loss"]))


def _bn_step_on_two_halves():
  """One 2-device step of `bn_test_net` on halves with other statistics.

  Returns the model state after the step (`[2, ...]` leaves) and the state
  each half alone gives the unpmapped training forward pass.
  """
  forward, optimizer, state = _setup("bn_test_net", optax.sgd(0.1))
  devices = jax.local_devices()[:2]
  batch = _batch(16, seed=5)
  batch["inputs"][8:] = batch["inputs"][8:] * 3.0 + 2.0
  new_state, _ = _pmapped_step(forward, optimizer, devices)(
      parallel.replicate(state, devices), parallel.shard(batch, 2))
  per_half = [forward.apply(state.params, state.model_state, None,
                            batch["inputs"][i:i + 8], is_training=True)[1]
              for i in (0, 8)]
  return new_state.model_state, per_half


def _on_device(tree, i):
  return jax.tree.map(lambda x: np.asarray(x[i]), tree)


def test_model_state_is_the_mean_of_the_devices_updates():
  model_state, per_half = _bn_step_on_two_halves()
  # The halves alone would leave other moving statistics.
  with pytest.raises(AssertionError):
    chex.assert_trees_all_close(per_half[0], per_half[1], rtol=1e-3)
  expected = jax.tree.map(
      lambda a, b: (a + b) / 2 if jnp.issubdtype(a.dtype, jnp.floating)
      else a, *per_half)
  chex.assert_trees_all_equal(_on_device(model_state, 0),
                              _on_device(model_state, 1))
  chex.assert_trees_all_close(_on_device(model_state, 0), expected,
                              rtol=1e-5, atol=1e-6)


def test_integer_model_state_is_not_averaged():
  model_state, _ = _bn_step_on_two_halves()
  counters = {k: v["counter"] for k, v in model_state.items()}
  assert len(counters) == 2  # The moving mean's and the moving variance's.
  for name, counter in counters.items():
    assert counter.dtype == jnp.int32, name
    np.testing.assert_array_equal(counter, [1, 1], err_msg=name)


def test_wrong_input_shape_is_caught_by_chex():
  forward, optimizer, state = _setup("logistic")
  devices = jax.local_devices()[:1]
  p_step = _pmapped_step(forward, optimizer, devices)
  bad = {"inputs": np.zeros((1, 4, 7, 7, 1), np.float32),
         "labels": np.zeros((1, 4), np.int32)}
  with pytest.raises(AssertionError, match="shape"):
    p_step(parallel.replicate(state, devices), bad)


@pytest.mark.parametrize("num_examples,eval_batch,num_devices",
                         [(37, 10, 2), (37, 64, 2), (10, 10, 1), (5, 3, 2)])
def test_eval_counts_every_example_once(num_examples, eval_batch, num_devices):
  forward, _, state = _setup("logistic")
  devices = jax.local_devices()[:num_devices]
  split = data.Split(**_batch(num_examples, seed=3))
  eval_step = step_lib.make_eval_step(forward, INPUT_SHAPE, NUM_CLASSES)
  p_eval = jax.pmap(eval_step, axis_name=parallel.AXIS, devices=devices)
  setup = types.SimpleNamespace(devices=devices, p_eval_step=p_eval)
  from zoo.train import evaluation  # pylint: disable=g-import-not-at-top
  result = evaluation.evaluate(setup, parallel.replicate(state, devices), split,
                         eval_batch)
  logits, _ = forward.apply(state.params, state.model_state, None,
                            split.inputs, False)
  expected_preds = np.asarray(logits).argmax(-1)
  assert result["count"] == num_examples
  np.testing.assert_array_equal(result["predictions"], expected_preds)
  expected_acc = float(np.mean(expected_preds == split.labels))
  assert result["accuracy"] == pytest.approx(expected_acc)
  expected_loss = float(optax.softmax_cross_entropy_with_integer_labels(
      logits, split.labels).mean())
  assert result["loss"] == pytest.approx(expected_loss, rel=1e-5)


def test_a_long_evaluation_logs_its_progress(monkeypatch):
  from absl import logging as absl_logging  # pylint: disable=g-import-not-at-top
  from zoo.train import evaluation  # pylint: disable=g-import-not-at-top
  monkeypatch.setattr(evaluation, "LOG_EVERY_S", 0.0)  # Every batch is late.
  lines = []
  monkeypatch.setattr(absl_logging, "info",
                      lambda fmt, *args: lines.append(fmt % args))
  devices = jax.local_devices()[:2]
  forward = registry.build_forward("mlp", NUM_CLASSES, {"hidden_sizes": (8,)})
  state = state_lib.init_state(forward, optax.sgd(0.1), INPUT_SHAPE, seed=0)
  split = data.Split(**_batch(10))
  setup = types.SimpleNamespace(devices=devices, p_eval_step=jax.pmap(
      step_lib.make_eval_step(forward, INPUT_SHAPE, NUM_CLASSES),
      axis_name=parallel.AXIS, devices=devices))
  evaluation.evaluate(setup, parallel.replicate(state, devices), split, 4,
                      "test")
  assert lines[0].startswith("evaluating the test split: 4/10 examples")
  assert lines[-1].startswith("evaluating the test split: 10/10 examples")
