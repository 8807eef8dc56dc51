"""The training recipe: label smoothing."""

import math

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import zoo
from zoo.config import resume_rules
from zoo.config import serialize
from zoo.config import validation
from zoo.models import registry
from zoo.runtime import parallel
from zoo.train import state as state_lib
from zoo.train import step as step_lib

INPUT_SHAPE = (8, 8, 1)
NUM_CLASSES = 10


# --- Label smoothing --------------------------------------------------------

def test_smoothed_loss_equals_hand_computed_value():
  logits = jnp.array([[2.0, 0.0, 0.0], [0.0, 1.0, 3.0]])
  labels = jnp.array([0, 2])
  a = 0.3
  loss = step_lib.train_loss(logits, labels, label_smoothing=a)
  expected = []
  for row, label in zip(np.asarray(logits, np.float64), [0, 2]):
    log_z = math.log(sum(math.exp(v) for v in row))
    targets = [(1 - a) * (i == label) + a / 3 for i in range(3)]
    expected.append(-sum(t * (v - log_z) for t, v in zip(targets, row)))
  np.testing.assert_allclose(loss, expected, rtol=1e-6)


def test_smoothing_raises_the_loss_of_confident_logits():
  logits = jnp.array([[10.0, 0.0, 0.0, 0.0]])
  labels = jnp.array([0])
  plain = step_lib.train_loss(logits, labels)
  smoothed = step_lib.train_loss(logits, labels, label_smoothing=0.1)
  assert float(smoothed[0]) > float(plain[0]) + 0.5


def _one_step(forward, optimizer, state, batch, **kwargs):
  devices = jax.local_devices()[:1]
  p_step = jax.pmap(
      step_lib.make_train_step(forward, optimizer, INPUT_SHAPE, NUM_CLASSES,
                               **kwargs),
      axis_name=parallel.AXIS, devices=devices)
  new_state, metrics = p_step(parallel.replicate(state, devices),
                              parallel.shard(batch, 1))
  return parallel.unreplicate(new_state), parallel.unreplicate(metrics)


def test_train_step_without_smoothing_is_the_integer_label_step():
  forward = registry.build_forward("mlp", NUM_CLASSES, {"dropout_rate": 0.0})
  optimizer = optax.sgd(0.1)
  state = state_lib.init_state(forward, optimizer, INPUT_SHAPE, seed=0)
  rng = np.random.default_rng(0)
  batch = {"inputs": rng.random((8, *INPUT_SHAPE), np.float32),
           "labels": rng.integers(0, NUM_CLASSES, (8,)).astype(np.int32)}

  def reference_step(state, batch):  # The step before label smoothing.
    def loss_fn(params):
      logits, _ = forward.apply(params, state.model_state,
                                step_lib.step_rng(state), batch["inputs"],
                                is_training=True)
      return optax.softmax_cross_entropy_with_integer_labels(
          logits, batch["labels"]).mean()
    grads = jax.lax.pmean(jax.grad(loss_fn)(state.params), parallel.AXIS)
    updates, _ = optimizer.update(grads, state.opt_state, state.params)
    return optax.apply_updates(state.params, updates)

  devices = jax.local_devices()[:1]
  expected = parallel.unreplicate(jax.pmap(
      reference_step, axis_name=parallel.AXIS, devices=devices)(
          parallel.replicate(state, devices), parallel.shard(batch, 1)))
  plain, plain_metrics = _one_step(forward, optimizer, state, batch,
                                   label_smoothing=0.0)
  chex.assert_trees_all_equal(plain.params, expected)
  smoothed, smoothed_metrics = _one_step(forward, optimizer, state, batch,
                                         label_smoothing=0.2)
  with pytest.raises(AssertionError):
    chex.assert_trees_all_close(smoothed.params, plain.params)
  assert float(smoothed_metrics["loss"]) != float(plain_metrics["loss"])


# --- Validation and resume rules --------------------------------------------

@pytest.mark.parametrize("field,value,message", [
    ("train.label_smoothing", 1.0, "number in [0, 1)"),
    ("train.label_smoothing", -0.1, "number in [0, 1)"),
])
def test_bad_recipe_values_name_the_field(base_config, field, value, message):
  section, key = field.split(".")
  base_config[section][key] = value
  with pytest.raises(zoo.ConfigError) as e:
    validation.validate(base_config)
  assert f"config.{field}=" in str(e.value) and "\n" not in str(e.value)
  assert message in str(e.value)


def test_label_smoothing_must_match_to_resume(base_config):
  saved = serialize.to_jsonable(base_config)
  base_config.train.label_smoothing = 0.1
  assert resume_rules.differences(saved, serialize.to_jsonable(base_config)) \
      == ["train.label_smoothing: 0.0 -> 0.1"]
