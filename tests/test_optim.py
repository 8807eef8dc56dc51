"""The training recipe: warmup, Nesterov, clipping, label smoothing."""

import math

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import zoo
from zoo import inference
from zoo import report
from zoo import train
from zoo.config import resume_rules
from zoo.config import serialize
from zoo.config import resolve
from zoo.config import spec as spec_lib
from zoo.models import registry
from zoo.report import schedule
from zoo.runtime import parallel
from zoo.train import optim
from zoo.train import state as state_lib
from zoo.train import step as step_lib

INPUT_SHAPE = (8, 8, 1)
NUM_CLASSES = 10


def _optimizer(**fields):
  return spec_lib.OptimizerSpec(**fields)


# --- Warmup and schedules -------------------------------------------------

# 10 steps per epoch, 10 epochs, 2 warmup epochs: 20 warmup steps of 100.
@pytest.mark.parametrize("name,expected", [
    # step: 0, mid-warmup, end of warmup, middle of the decay, end.
    ("cosine", {0: 0.0, 10: 0.05, 20: 0.1, 60: 0.05, 100: 0.0}),
    ("constant", {0: 0.0, 10: 0.05, 20: 0.1, 60: 0.1, 100: 0.1}),
])
def test_warmup_schedule_values(name, expected):
  cfg = _optimizer(learning_rate=0.1, schedule=name, warmup_epochs=2.0)
  rate = schedule.learning_rate_fn(cfg, total_steps=100, steps_per_epoch=10)
  for count, value in expected.items():
    assert rate(count) == pytest.approx(value, abs=1e-7), count


def test_fractional_warmup_rounds_to_whole_steps_at_least_one():
  assert optim.warmup_steps(_optimizer(warmup_epochs=0.25), 100, 10) == 2
  assert optim.warmup_steps(_optimizer(warmup_epochs=0.01), 100, 10) == 1
  assert optim.warmup_steps(_optimizer(warmup_epochs=0.0), 100, None) == 0
  with pytest.raises(ValueError, match="steps_per_epoch"):
    optim.warmup_steps(_optimizer(warmup_epochs=1.0), 100, None)


def test_without_warmup_the_schedules_are_unchanged():
  cfg = _optimizer(learning_rate=0.1, schedule="cosine")
  rate = schedule.learning_rate_fn(cfg, 100, 10)
  assert rate(0) == pytest.approx(0.1) and rate(50) == pytest.approx(0.05)


@pytest.mark.parametrize("name", ["cosine", "constant"])
def test_logged_rate_is_the_rate_the_optimizer_uses(tmp_path, base_config,
                                                    name):
  # SGD without momentum on a gradient of 1: update k is -rate(k).
  base_config.optimizer.update(dict(name="sgd", momentum=0.0,
                                    learning_rate=0.1, schedule=name,
                                    warmup_epochs=1.5))
  base_config.train.num_epochs = 4
  base_config.report.tensorboard = False
  spec = resolve.resolve(base_config)
  shape = spec_lib.RunShape(batch_size=64, steps_per_epoch=10,
                            input_shape=INPUT_SHAPE, num_classes=NUM_CLASSES)
  tracker = report.build_hooks(spec, shape, str(tmp_path))[0]
  tx = optim.make_optimizer(spec.optimizer, 40, 10)
  params = jnp.zeros(())
  opt_state = tx.init(params)
  for count in range(41):
    update, opt_state = tx.update(jnp.ones(()), opt_state, params)
    assert -float(update) == pytest.approx(tracker.learning_rate_fn(count),
                                           abs=1e-7), count
  assert tracker.learning_rate_fn(15) == pytest.approx(0.1)  # Warmup ends.
  assert tracker.learning_rate_fn(7) == pytest.approx(0.1 * 7 / 15)


def test_warmup_as_long_as_the_run_is_one_config_error():
  cfg = _optimizer(warmup_epochs=2.0)
  with pytest.raises(zoo.ConfigError) as e:
    optim.make_optimizer(cfg, total_steps=20, steps_per_epoch=10)
  message = str(e.value)
  assert "\n" not in message
  assert "config.optimizer.warmup_epochs=2.0" in message
  assert "20 steps" in message
  optim.make_optimizer(cfg, total_steps=21, steps_per_epoch=10)


def test_setup_converts_warmup_with_its_steps_per_epoch(base_config,
                                                        monkeypatch):
  seen = {}
  make_optimizer = optim.make_optimizer
  make_train_step = step_lib.make_train_step

  def spy_optimizer(cfg, total_steps, steps_per_epoch=None, **kwargs):
    seen["optimizer"] = (total_steps, steps_per_epoch)
    return make_optimizer(cfg, total_steps, steps_per_epoch, **kwargs)

  def spy_step(*args, **kwargs):
    seen["label_smoothing"] = kwargs.get("label_smoothing")
    return make_train_step(*args, **kwargs)

  monkeypatch.setattr(optim, "make_optimizer", spy_optimizer)
  monkeypatch.setattr(step_lib, "make_train_step", spy_step)
  base_config.train.label_smoothing = 0.2
  base_config.train.num_epochs = 2
  base_config.optimizer.warmup_epochs = 1.0
  s = train.setup(resolve.resolve(base_config))
  assert seen["optimizer"] == (2 * s.steps_per_epoch, s.steps_per_epoch)
  assert seen["label_smoothing"] == 0.2
  # Valid in epochs, but all the run's steps once rounded: setup refuses.
  base_config.train.num_epochs = 1
  base_config.optimizer.warmup_epochs = 0.999
  resolve.validate(base_config)
  with pytest.raises(zoo.ConfigError, match="not shorter than the run"):
    train.setup(resolve.resolve(base_config))


def test_checkpoint_optimizer_rebuilds_with_warmup():
  from configs import default  # pylint: disable=g-import-not-at-top
  config = default.get_config()
  config.train.num_epochs = 2
  config.optimizer.warmup_epochs = 1.5  # 8 of 10 steps, not of 1.
  meta = {"config": serialize.to_jsonable(config),
          "dataset": {"num_classes": NUM_CLASSES,
                      "input_shape": list(INPUT_SHAPE), "steps_per_epoch": 5}}
  inference.build_from_meta(meta)
  # A config saved before these fields existed still loads.
  for field in ("warmup_epochs", "nesterov", "clip_norm"):
    del meta["config"]["optimizer"][field]
  del meta["config"]["train"]["label_smoothing"]
  inference.build_from_meta(meta)


# --- Nesterov ---------------------------------------------------------------

def _descend(tx, steps=5):
  """Parameters after `steps` updates on f(x) = 0.5 * x^T diag(1, 10) x."""
  scale = jnp.array([1.0, 10.0])
  x = jnp.array([1.0, 1.0])
  opt_state = tx.init(x)
  for _ in range(steps):
    update, opt_state = tx.update(scale * x, opt_state, x)
    x = optax.apply_updates(x, update)
  return x


def test_nesterov_differs_from_plain_momentum_and_matches_optax():
  nesterov = _descend(optim.make_optimizer(
      _optimizer(name="sgd", learning_rate=0.05, momentum=0.9,
                 nesterov=True), 5))
  plain = _descend(optim.make_optimizer(
      _optimizer(name="sgd", learning_rate=0.05, momentum=0.9), 5))
  assert not np.allclose(nesterov, plain, rtol=1e-4)
  np.testing.assert_array_equal(
      nesterov, _descend(optax.sgd(0.05, momentum=0.9, nesterov=True)))


# --- Clipping ---------------------------------------------------------------

def test_clipping_bounds_the_update_norm():
  tx = optim.make_optimizer(
      _optimizer(name="sgd", learning_rate=1.0, momentum=0.0, clip_norm=1.0),
      1)
  params = {"linear": {"w": jnp.zeros((2,)), "b": jnp.zeros(())}}
  grads = {"linear": {"w": jnp.array([3.0, 0.0]), "b": jnp.array(4.0)}}
  update, _ = tx.update(grads, tx.init(params), params)
  np.testing.assert_allclose(update["linear"]["w"], [-0.6, 0.0], rtol=1e-6)
  np.testing.assert_allclose(update["linear"]["b"], -0.8, rtol=1e-6)
  assert float(optax.tree.norm(update)) == pytest.approx(1.0)
  small = jax.tree.map(lambda g: g / 10, grads)  # Norm 0.5: unchanged.
  update, _ = tx.update(small, tx.init(params), params)
  chex.assert_trees_all_close(update, jax.tree.map(jnp.negative, small))


def test_clipping_comes_after_the_l2_term():
  tx = optim.make_optimizer(
      _optimizer(name="sgd", learning_rate=1.0, momentum=0.0, l2=1.0,
                 clip_norm=1.0), 1)
  params = {"linear": {"w": jnp.array([3.0, 4.0])}}
  zeros = {"linear": {"w": jnp.zeros((2,))}}
  update, _ = tx.update(zeros, tx.init(params), params)
  # The l2 gradient w = [3, 4] (norm 5) is clipped to norm 1.
  np.testing.assert_allclose(update["linear"]["w"], [-0.6, -0.8], rtol=1e-6)


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
    ("optimizer.warmup_epochs", -1.0, "number in"),
    ("optimizer.warmup_epochs", 1.0, "shorter than the run"),  # 1 epoch.
    ("optimizer.warmup_epochs", float("nan"), "number in"),
    ("train.label_smoothing", 1.0, "number in [0, 1)"),
    ("train.label_smoothing", -0.1, "number in [0, 1)"),
    ("optimizer.clip_norm", -1.0, "number in"),
    ("optimizer.nesterov", True, "optimizer.name='sgd'"),  # With adam.
])
def test_bad_recipe_values_name_the_field(base_config, field, value, message):
  section, key = field.split(".")
  base_config[section][key] = value
  with pytest.raises(zoo.ConfigError) as e:
    resolve.validate(base_config)
  assert f"config.{field}=" in str(e.value) and "\n" not in str(e.value)
  assert message in str(e.value)


def test_nesterov_needs_sgd_with_momentum(base_config):
  base_config.optimizer.name = "sgd"
  base_config.optimizer.nesterov = True
  resolve.validate(base_config)
  base_config.optimizer.momentum = 0.0
  with pytest.raises(zoo.ConfigError, match="optimizer.momentum > 0"):
    resolve.validate(base_config)


def test_label_smoothing_must_match_to_resume(base_config):
  saved = serialize.to_jsonable(base_config)
  base_config.train.label_smoothing = 0.1
  assert resume_rules.differences(saved, serialize.to_jsonable(base_config)) \
      == ["train.label_smoothing: 0.0 -> 0.1"]


def test_every_allowed_optimizer_name_has_a_base_optimizer():
  """The names are listed once (the field table); optim.py builds each."""
  from zoo.train import optim  # pylint: disable=g-import-not-at-top
  assert set(optim.BASE_OPTIMIZERS) == set(spec_lib.OPTIMIZERS)
