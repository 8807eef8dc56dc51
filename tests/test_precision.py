"""Mixed precision inside the step: compute dtypes, float32 params, logits
and loss, scoped policies, and float16's dynamic loss scaling."""

import chex
import haiku as hk
import jax
import jax.numpy as jnp
import jmp
import numpy as np
import optax
import pytest

import batchnorm_model  # noqa: F401  (registers bn_test_net)
import zoo
from zoo.config import resolve
from zoo.config import spec as spec_lib
from zoo.models import precision as precision_lib
from zoo.models import registry
from zoo.runtime import parallel
from zoo.train import build
from zoo.train import ensemble
from zoo.train import loss_scale
from zoo.train import state as state_lib
from zoo.train import step as step_lib

INPUT_SHAPE = (6,)
NUM_CLASSES = 4
NUM_DEVICES = 2  # conftest's fake CPU devices.
FIRST_LAYER = "batch_norm_net/linear"


def _setup(precision, scale=None, period=None, name="bn_test_net"):
  """A replicated state and the pmapped train step of a tiny model."""
  forward = registry.build_forward(name, NUM_CLASSES, {}, precision)
  optimizer = optax.sgd(0.1)
  state = state_lib.init_state(forward, optimizer, INPUT_SHAPE, seed=0,
                               loss_scale=loss_scale.initial(
                                   precision, scale, period))
  step = step_lib.make_train_step(forward, optimizer, INPUT_SHAPE,
                                  NUM_CLASSES)
  devices = jax.local_devices()[:NUM_DEVICES]
  return (parallel.replicate(state, devices),
          jax.pmap(step, axis_name=parallel.AXIS, devices=devices))


def _batch(seed=0, inject_inf=False):
  """`[devices, 4, *INPUT_SHAPE]`; `inject_inf`: one inf on device 0 only."""
  rng = np.random.default_rng(seed)
  inputs = rng.normal(size=(NUM_DEVICES, 4, *INPUT_SHAPE)).astype(np.float32)
  if inject_inf:
    inputs[0, 0, 0] = np.inf
  labels = rng.integers(0, NUM_CLASSES, (NUM_DEVICES, 4)).astype(np.int32)
  return {"inputs": inputs, "labels": labels}


def _floats(tree):
  return [x.dtype for x in jax.tree.leaves(tree)
          if hasattr(x, "dtype") and jnp.issubdtype(x.dtype, jnp.floating)]


def _eqns(jaxpr):
  """Every equation of `jaxpr` and of the jaxprs nested in it (pmap, ...)."""
  for eqn in jaxpr.eqns:
    yield eqn
    for value in eqn.params.values():
      for sub in value if isinstance(value, (tuple, list)) else (value,):
        inner = getattr(sub, "jaxpr", sub)
        if hasattr(inner, "eqns"):
          yield from _eqns(inner)


@pytest.mark.parametrize("precision", ["bfloat16", "float16", "float32"])
def test_compute_dtype_inside_the_step(precision):
  # float32 last: it also shows that the low-precision policies traced just
  # before did not leak into a later float32 model.
  calls = []

  def record(next_f, args, kwargs, context):
    out = next_f(*args, **kwargs)  # Inside the policy's casts.
    calls.append((type(context.module).__name__, context.method_name,
                  _floats(args), _floats(out)))
    return out

  state, step = _setup(precision)
  with hk.intercept_methods(record):
    jaxpr = jax.make_jaxpr(step)(state, _batch())
  compute = jnp.dtype(precision)
  calls = {(c[0], c[1]): c[2:] for c in calls}
  # The model's logits are computed in `precision` (and cast to float32 on
  # the way out, which the step asserts with chex); its layers compute in
  # `precision`; BatchNorm computes in float32.
  assert calls["BatchNormNet", "__call__"] == ([compute], [compute])
  assert calls["Linear", "__call__"] == ([compute], [compute])
  assert calls["BatchNorm", "__call__"] == ([jnp.float32], [jnp.float32])
  # The loss (softmax cross-entropy: the only exp and log) is float32.
  loss_ops = [e for e in _eqns(jaxpr.jaxpr)
              if e.primitive.name in ("exp", "log")]
  assert loss_ops and all(v.aval.dtype == jnp.float32
                          for e in loss_ops for v in e.outvars)
  dtypes = {v.aval.dtype for e in _eqns(jaxpr.jaxpr) for v in e.outvars
            if hasattr(v.aval, "dtype")}
  assert compute in dtypes
  assert dtypes.isdisjoint({jnp.dtype(jnp.bfloat16),
                            jnp.dtype(jnp.float16)} - {compute})
  assert hk.mixed_precision.get_policy(batchnorm_model.BatchNormNet) is None
  assert hk.mixed_precision.get_policy(hk.BatchNorm) is None


@pytest.mark.parametrize("precision", ["bfloat16", "float16"])
def test_params_opt_state_and_metrics_stay_float32(precision):
  state, step = _setup(precision)
  new, metrics = step(state, _batch())
  assert not np.array_equal(new.params[FIRST_LAYER]["w"],
                            state.params[FIRST_LAYER]["w"])  # It trained.
  for tree in (new.params, new.opt_state, new.model_state):
    assert set(_floats(tree)) <= {jnp.dtype(jnp.float32)}
  chex.assert_type([metrics["loss"], metrics["accuracy"]], jnp.float32)


def test_bfloat16_needs_no_loss_scale():
  state, step = _setup("bfloat16")
  assert isinstance(state.loss_scale, jmp.NoOpLossScale)
  assert not jax.tree.leaves(state.loss_scale)  # Nothing to checkpoint.
  _, metrics = step(state, _batch())
  np.testing.assert_array_equal(metrics["loss_scale"], [1.0, 1.0])
  np.testing.assert_array_equal(metrics["skipped"], [0, 0])


def _unchanged(before, after):
  for a, b in zip(jax.tree.leaves((before.params, before.model_state,
                                   before.opt_state)),
                  jax.tree.leaves((after.params, after.model_state,
                                   after.opt_state))):
    np.testing.assert_array_equal(a, b)


def test_float16_scale_rises_after_period_and_halves_on_nonfinite_step():
  state, step = _setup("float16", scale=4.0, period=3)
  scales = []
  for i in range(3):  # `period` finite steps in a row: the scale doubles.
    new, metrics = step(state, _batch(seed=i))
    assert not np.array_equal(new.params[FIRST_LAYER]["w"],
                              state.params[FIRST_LAYER]["w"])
    state = new
    np.testing.assert_array_equal(metrics["skipped"], [0, 0])
    scales.append(float(metrics["loss_scale"][0]))
  assert scales == [4.0, 4.0, 8.0]
  np.testing.assert_array_equal(state.loss_scale.counter, [0, 0])
  # An inf in device 0's batch: the averaged gradients are not finite on
  # every device, so both skip the update and halve the scale.
  new, metrics = step(state, _batch(seed=3, inject_inf=True))
  np.testing.assert_array_equal(metrics["skipped"], [1, 1])
  np.testing.assert_array_equal(metrics["loss_scale"], [4.0, 4.0])
  _unchanged(state, new)
  np.testing.assert_array_equal(new.step, state.step + 1)  # Data moved on.
  after, metrics = step(new, _batch(seed=4))  # And training goes on.
  np.testing.assert_array_equal(metrics["skipped"], [0, 0])
  assert not np.array_equal(after.params[FIRST_LAYER]["w"],
                            new.params[FIRST_LAYER]["w"])


def test_float16_gradients_overflow_under_too_large_a_scale():
  # The loss (float32) stays finite; its scaled gradient overflows float16
  # (max 65504) on the way back through the model: skipped, scale halved.
  state, step = _setup("float16", scale=2.0 ** 40)
  new, metrics = step(state, _batch())
  assert np.all(np.isfinite(metrics["loss"]))
  np.testing.assert_array_equal(metrics["skipped"], [1, 1])
  np.testing.assert_array_equal(metrics["loss_scale"], [2.0 ** 39] * 2)
  _unchanged(state, new)


def test_float32_and_bfloat16_never_skip():
  # No dynamic scale: a non-finite step is applied (the divergence guard
  # then stops the run on its loss), as before mixed precision existed.
  for precision in ("float32", "bfloat16"):
    state, step = _setup(precision)
    new, metrics = step(state, _batch(inject_inf=True))
    np.testing.assert_array_equal(metrics["skipped"], [0, 0])
    assert not np.all(np.isfinite(new.params[FIRST_LAYER]["w"]))


def test_bad_precision_in_the_config_is_a_one_line_error(base_config):
  base_config.train.precision = "float64"
  with pytest.raises(zoo.ConfigError) as e:
    resolve.validate(base_config)
  assert "config.train.precision='float64' is invalid" in str(e.value)
  assert "float32, bfloat16, float16" in str(e.value)
  assert "\n" not in str(e.value)


def test_unknown_precision_is_a_config_error():
  with pytest.raises(zoo.ConfigError, match="config.train.precision='f8'"):
    registry.build_forward("mlp", NUM_CLASSES, {}, "f8")


def test_low_precision_needs_a_haiku_module():
  def plain_function(x, is_training):
    return x

  with pytest.raises(zoo.ConfigError, match="needs a model that is an "
                     "hk.Module"):
    with precision_lib.policies("bfloat16", plain_function):
      pass
  with precision_lib.policies("float32", plain_function):
    pass  # float32 changes nothing, so any callable model works.


def test_policies_are_restored_after_the_trace():
  mine = jmp.get_policy("params=float32,compute=float32,output=float32")
  hk.mixed_precision.set_policy(hk.BatchNorm, mine)  # A user's own policy.
  try:
    state, step = _setup("bfloat16")
    jax.make_jaxpr(step)(state, _batch())
    assert hk.mixed_precision.get_policy(hk.BatchNorm) is mine
  finally:
    hk.mixed_precision.clear_policy(hk.BatchNorm)


def test_each_ensemble_member_has_its_own_loss_scale():
  forward = registry.build_forward("bn_test_net", NUM_CLASSES, {}, "float16")
  optimizer = optax.sgd(0.1)
  members = spec_lib.Members(seeds=(0, 1), data_seeds=(0, 1))
  state = build.initial_state(forward, optimizer, INPUT_SHAPE, members,
                              "float16")
  np.testing.assert_array_equal(state.loss_scale.loss_scale,
                                [loss_scale.INITIAL_SCALE] * 2)
  one_step = step_lib.make_train_step(forward, optimizer, INPUT_SHAPE,
                                      NUM_CLASSES)
  members_step = ensemble.map_members(one_step, 2, (ensemble.STATE_AXES, 0),
                                      (ensemble.STATE_AXES, 0))
  devices = jax.local_devices()[:NUM_DEVICES]
  step = jax.pmap(members_step, axis_name=parallel.AXIS, devices=devices)
  state = parallel.replicate(state, devices)
  # [devices, members, 4, ...]: an inf in member 0's batch only.
  batch = jax.tree.map(lambda a, b: np.stack([a, b], 1),
                       _batch(seed=0, inject_inf=True), _batch(seed=1))
  new, metrics = step(state, batch)
  np.testing.assert_array_equal(metrics["skipped"], [[1, 0]] * NUM_DEVICES)
  np.testing.assert_array_equal(
      new.loss_scale.loss_scale,
      [[loss_scale.INITIAL_SCALE / 2, loss_scale.INITIAL_SCALE]] * NUM_DEVICES)
  w_before = state.params[FIRST_LAYER]["w"]
  w_after = new.params[FIRST_LAYER]["w"]
  np.testing.assert_array_equal(w_after[:, 0], w_before[:, 0])  # Skipped.
  assert not np.array_equal(w_after[:, 1], w_before[:, 1])  # Trained.
