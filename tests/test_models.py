"""The image models: shapes, parameter counts, one-line errors, BatchNorm.

Registry-wide checks (every model, default hyperparameters) live in
tests/test_registry.py and tests/test_step.py; these add what is particular
to lenet5, the ResNets and vit_tiny, on tiny sizes where defaults are slow.
"""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import zoo
from zoo.models import common
from zoo.models import registry
from zoo.runtime import parallel
from zoo.train import state as state_lib
from zoo.train import step as step_lib

IMAGE_MODELS = ["lenet5", "resnet18", "resnet20", "resnet32", "resnet44",
                "resnet56", "vit_tiny"]
# Small enough to compile and run fast on 2 CPU cores.
TINY = {
    "lenet5": {},
    "resnet18": {"width": 2},
    "resnet20": {"depth": 8, "width": 4},
    "vit_tiny": {"width": 16, "depth": 1, "num_heads": 2, "mlp_dim": 16,
                 "dropout_rate": 0.1},
}
NUM_CLASSES = 10


def _param_count(name, input_shape, **kwargs):
  """Parameter count of the model on `input_shape`, without computing it."""
  forward = registry.build_forward(name, NUM_CLASSES, kwargs)
  params, _ = jax.eval_shape(
      lambda x: forward.init(jax.random.key(0), x, True),
      jax.ShapeDtypeStruct((1, *input_shape), jnp.float32))
  return state_lib.num_params(params)


def _init_error(name, kwargs, x):
  """The one-line ConfigError building `name` and initialising it on `x`."""
  forward = registry.build_forward(name, NUM_CLASSES, kwargs)
  with pytest.raises(zoo.ConfigError) as e:
    forward.init(jax.random.key(0), x, True)
  message = str(e.value)
  assert "\n" not in message, message
  return message


def test_image_models_are_registered():
  assert set(IMAGE_MODELS) <= set(zoo.list_models())


@pytest.mark.parametrize("input_shape", [(28, 28, 1), (32, 32, 3)])
@pytest.mark.parametrize("name", sorted(TINY))
def test_tiny_models_give_finite_logits(name, input_shape):
  # Op by op, as in test_registry.py: the compiled ops are shared between
  # tests, where jitting each model would compile it anew (~20 s each).
  forward = registry.build_forward(name, NUM_CLASSES, TINY[name])
  x = jax.random.uniform(jax.random.key(1), (4, *input_shape))
  params, state = forward.init(jax.random.key(0), x, True)
  for is_training in (True, False):
    logits, _ = forward.apply(params, state, jax.random.key(2), x, is_training)
    chex.assert_shape(logits, (4, NUM_CLASSES))
    chex.assert_tree_all_finite(logits)


# Defaults, 10 classes. The ResNets on 32x32x3 match the papers: He et al.
# 2016 (Table 6) give 0.27M, 0.46M, 0.66M and 0.85M parameters for ResNet-20,
# 32, 44 and 56 (option A shortcuts: none of their own); the CIFAR ResNet-18
# of kuangliu/pytorch-cifar has 11,173,962 (~11.2M; the ImageNet ResNet-18's
# 11.7M has a 7x7 stem and 1000 classes). LeNet-5 on 28x28x1: 61,706 against
# the 1998 paper's ~60,000 (its sparse C3 table and RBF output differ).
# vit_tiny is our own size.
@pytest.mark.parametrize("name,input_shape,count", [
    ("resnet20", (32, 32, 3), 269_722),
    ("resnet32", (32, 32, 3), 464_154),
    ("resnet44", (32, 32, 3), 658_586),
    ("resnet56", (32, 32, 3), 853_018),
    ("resnet18", (32, 32, 3), 11_173_962),
    ("lenet5", (28, 28, 1), 61_706),
    ("lenet5", (32, 32, 3), 83_126),
    ("vit_tiny", (28, 28, 1), 540_170),
])
def test_default_parameter_counts(name, input_shape, count):
  assert _param_count(name, input_shape) == count


def test_resnet_names_differ_only_in_default_depth():
  for depth in (20, 32, 44, 56):
    name = f"resnet{depth}"
    assert registry.model_hyperparameters(name) == {"depth": depth,
                                                    "width": 16}
    assert issubclass(registry.get_model(name), registry.get_model("resnet20"))
  assert (_param_count("resnet20", (32, 32, 3), depth=32)
          == _param_count("resnet32", (32, 32, 3)))


def test_lenet5_feature_maps_follow_the_paper_on_28x28():
  """'SAME' on C1 is the paper's padding of 28x28 digits to 32x32."""
  forward = registry.build_forward("lenet5", NUM_CLASSES, {})
  for size, flat in ((28, 16 * 5 * 5), (32, 16 * 6 * 6), (12, 16)):
    params, _ = jax.eval_shape(
        lambda x: forward.init(jax.random.key(0), x, True),
        jax.ShapeDtypeStruct((1, size, size, 1), jnp.float32))
    assert params["lenet5/linear"]["w"].shape == (flat, 120), size


@pytest.mark.parametrize("pool", ["cls", "mean"])
def test_vit_pooling(pool):
  kwargs = {**TINY["vit_tiny"], "pool": pool}
  forward = registry.build_forward("vit_tiny", NUM_CLASSES, kwargs)
  params, _ = jax.eval_shape(
      lambda x: forward.init(jax.random.key(0), x, True),
      jax.ShapeDtypeStruct((1, 28, 28, 1), jnp.float32))
  tokens = 7 * 7 + (pool == "cls")
  assert params["vit"]["position_embedding"].shape == (1, tokens, 16)
  assert ("cls_token" in params["vit"]) == (pool == "cls")


def test_vit_dropout_is_active_only_in_training():
  forward = registry.build_forward("vit_tiny", NUM_CLASSES, TINY["vit_tiny"])
  x = jax.random.uniform(jax.random.key(1), (2, 8, 8, 1))
  params, state = forward.init(jax.random.key(0), x, True)
  run = lambda key, training: forward.apply(params, state, key, x, training)[0]
  assert not jnp.allclose(run(jax.random.key(1), True),
                          run(jax.random.key(2), True))
  chex.assert_trees_all_equal(run(jax.random.key(1), False),
                              run(jax.random.key(2), False))


@pytest.mark.parametrize("name,kwargs,field", [
    ("resnet20", {"depth": 21}, "resnet20.depth"),
    ("resnet20", {"depth": 2}, "resnet20.depth"),
    ("resnet32", {"depth": 30}, "resnet32.depth"),
    ("resnet20", {"width": 0}, "resnet20.width"),
    ("resnet18", {"width": 1.5}, "resnet18.width"),
    ("lenet5", {"activation": "sigmoid"}, "lenet5.activation"),
    ("vit_tiny", {"num_heads": 3}, "vit_tiny.width"),
    ("vit_tiny", {"depth": 0}, "vit_tiny.depth"),
    ("vit_tiny", {"pool": "max"}, "vit_tiny.pool"),
    ("vit_tiny", {"dropout_rate": 1.0}, "vit_tiny.dropout_rate"),
    ("vit_tiny", {"patch_size": 5}, "vit_tiny.patch_size"),
])
def test_bad_hyperparameters_fail_in_one_line(name, kwargs, field):
  message = _init_error(name, kwargs, jnp.zeros((1, 28, 28, 1)))
  assert f"config.model.{field}" in message


@pytest.mark.parametrize("name", IMAGE_MODELS)
def test_feature_vectors_are_refused_in_one_line(name):
  message = _init_error(name, {}, jnp.zeros((2, 20)))
  assert message.startswith(f"Model '{name}' needs images [batch, height, ")
  assert "got inputs of shape (2, 20)" in message
  assert "mlp or logistic" in message


def test_lenet5_says_how_large_images_must_be():
  message = _init_error("lenet5", {}, jnp.zeros((2, 8, 8, 1)))
  assert "at least 12x12 pixels" in message and "(2, 8, 8, 1)" in message


def test_bound_axis_is_the_pmap_axis_only_inside_the_pmap():
  seen = []

  def record(x):
    seen.append(common.bound_axis(parallel.AXIS))
    return x

  jax.jit(record)(jnp.zeros(()))
  jax.pmap(record, axis_name=parallel.AXIS)(jnp.zeros((2,)))
  assert seen == [None, parallel.AXIS]


def test_eval_uses_the_moving_statistics():
  """is_training=False: each example's logits ignore the rest of the batch."""
  forward = registry.build_forward("resnet20", NUM_CLASSES, TINY["resnet20"])
  x = jax.random.uniform(jax.random.key(1), (4, 8, 8, 3))
  x = x.at[2:].multiply(3.0)
  params, state = forward.init(jax.random.key(0), x, True)
  _, state = forward.apply(params, state, None, x, True)  # Moved once.
  eval_all, _ = forward.apply(params, state, None, x, False)
  eval_half, _ = forward.apply(params, state, None, x[:2], False)
  chex.assert_trees_all_close(eval_all[:2], eval_half, rtol=1e-5, atol=1e-5)
  # Training normalises with the batch's own statistics instead.
  train_all, _ = forward.apply(params, state, None, x, True)
  train_half, _ = forward.apply(params, state, None, x[:2], True)
  assert not np.allclose(train_all[:2], train_half, rtol=1e-3, atol=1e-3)


def _train(forward, optimizer, state, batches, devices):
  """`len(batches)` pmapped train steps on `devices`; compiles once."""
  chex.clear_trace_counter()  # Counts by code, not by closure.
  step = chex.assert_max_traces(
      step_lib.make_train_step(forward, optimizer, (8, 8, 3), NUM_CLASSES),
      n=1)
  p_step = jax.pmap(step, axis_name=parallel.AXIS, devices=devices)
  replicated = parallel.replicate(state, devices)
  for batch in batches:
    replicated, _ = p_step(replicated, parallel.shard(batch, len(devices)))
  return parallel.unreplicate(replicated)


def test_resnet_on_two_devices_equals_one_device(monkeypatch):
  """Cross-device BatchNorm: 2 devices train what 1 device trains.

  The two halves of each global batch have other statistics, so BatchNorm
  with per-device statistics would train another model (checked last).
  """
  forward = registry.build_forward("resnet20", NUM_CLASSES, TINY["resnet20"])
  optimizer = optax.sgd(0.05, momentum=0.9)
  state = state_lib.init_state(forward, optimizer, (8, 8, 3), seed=0)
  rng = np.random.default_rng(0)
  batches = []
  for _ in range(3):
    inputs = rng.random((16, 8, 8, 3), np.float32)
    inputs[8:] = inputs[8:] * 3.0 + 2.0
    batches.append({"inputs": inputs, "labels": rng.integers(
        0, NUM_CLASSES, (16,)).astype(np.int32)})
  one, two = (_train(forward, optimizer, state, batches,
                     jax.local_devices()[:n]) for n in (1, 2))
  assert int(two.step) == 3
  chex.assert_trees_all_close(two.params, one.params, rtol=1e-4, atol=1e-5)
  chex.assert_trees_all_close(two.model_state, one.model_state,
                              rtol=1e-4, atol=1e-5)
  moving_means = [v["average"] for k, v in two.model_state.items()
                  if k.endswith("mean_ema")]
  assert len(moving_means) == 1 + 3 * 2  # Stem, 3 stages x 1 block x 2.
  assert all(np.any(m != 0) for m in moving_means)  # They moved.
  # Control: with per-device statistics the 2-device model differs.
  monkeypatch.setattr(common, "bound_axis", lambda axis_name: None)
  local = _train(forward, optimizer, state, batches, jax.local_devices()[:2])
  with pytest.raises(AssertionError):
    chex.assert_trees_all_close(local.model_state, one.model_state,
                                rtol=1e-2, atol=1e-3)


def test_vit_with_dropout_trains_on_two_devices():
  forward = registry.build_forward("vit_tiny", NUM_CLASSES, TINY["vit_tiny"])
  optimizer = optax.adam(1e-3)
  state = state_lib.init_state(forward, optimizer, (8, 8, 3), seed=0)
  rng = np.random.default_rng(0)
  batches = [{"inputs": rng.random((8, 8, 8, 3), np.float32),
              "labels": rng.integers(0, NUM_CLASSES, (8,)).astype(np.int32)}
             for _ in range(3)]
  trained = _train(forward, optimizer, state, batches, jax.local_devices()[:2])
  assert int(trained.step) == 3
  chex.assert_tree_all_finite(trained.params)
  with pytest.raises(AssertionError):
    chex.assert_trees_all_close(trained.params, state.params)


def test_default_config_sections_match_the_models():
  """configs/default.py holds every built-in model's defaults."""
  from configs import default  # pylint: disable=g-import-not-at-top
  config = default.get_config()
  for name in ["cnn", "logistic", "mlp", *IMAGE_MODELS]:
    assert (config.model[name].to_dict()
            == registry.model_hyperparameters(name)), name
