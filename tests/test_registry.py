"""The registry, and every registered model (a new model is tested for free)."""

import haiku as hk
import jax
import jax.numpy as jnp
import chex
import pytest

import zoo
from zoo.models import registry

IMAGE_SHAPES = [(28, 28, 1), (8, 8, 1)]


def test_builtin_models_are_registered():
  assert {"logistic", "mlp", "cnn"} <= set(zoo.list_models())


def test_unknown_model_names_close_match_and_choices():
  with pytest.raises(zoo.ModelNotFoundError) as e:
    zoo.get_model("mpl")
  message = str(e.value)
  assert "'mlp'" in message and "Did you mean" in message
  assert "logistic" in message and "cnn" in message


def test_register_and_create_user_model():
  @zoo.register_model("tiny_test_net", overwrite=True)
  class Tiny(hk.Module):

    def __init__(self, num_classes, width=3, name=None):
      super().__init__(name=name)
      self.num_classes, self.width = num_classes, width

    def __call__(self, x, is_training):
      return hk.Linear(self.num_classes)(hk.Flatten()(x))

  assert "tiny_test_net" in zoo.list_models()
  assert registry.model_hyperparameters("tiny_test_net") == {"width": 3}
  forward = registry.build_forward("tiny_test_net", 4, {"width": 5})
  params, state = forward.init(jax.random.key(0), jnp.zeros((2, 6)), True)
  logits, _ = forward.apply(params, state, None, jnp.zeros((2, 6)), False)
  chex.assert_shape(logits, (2, 4))


def test_registering_a_different_builder_twice_is_an_error():
  def first(num_classes):
    del num_classes

  def second(num_classes):
    del num_classes

  zoo.register_model("twice_net", overwrite=True)(first)
  zoo.register_model("twice_net")(first)  # The same builder again is fine.
  with pytest.raises(zoo.ConfigError, match="already registered"):
    zoo.register_model("twice_net")(second)


def test_bad_registration_name():
  with pytest.raises(zoo.ConfigError, match="identifier"):
    zoo.register_model("my-net")


def test_unknown_hyperparameter_lists_accepted_ones():
  forward = registry.build_forward("mlp", 10, {"hidden": (4,)})
  with pytest.raises(zoo.ConfigError) as e:
    forward.init(jax.random.key(0), jnp.zeros((1, 5)), True)
  assert "config.model.mlp.hidden" in str(e.value)
  assert "hidden_sizes" in str(e.value) and "dropout_rate" in str(e.value)


@pytest.mark.parametrize("bad", [{"hidden_sizes": (0,)},
                                 {"dropout_rate": 1.5}])
def test_bad_hyperparameter_values(bad):
  forward = registry.build_forward("mlp", 10, bad)
  with pytest.raises(zoo.ConfigError, match="config.model.mlp"):
    forward.init(jax.random.key(0), jnp.zeros((1, 5)), True)


def test_cnn_on_feature_vectors_says_what_to_use():
  forward = registry.build_forward("cnn", 3, {})
  with pytest.raises(zoo.ConfigError, match="mlp or logistic"):
    forward.init(jax.random.key(0), jnp.zeros((1, 20)), True)


# Models that reject an image shape above by design (with a one-line
# ConfigError, which tests/test_models.py checks) skip it here.
TOO_SMALL = {"lenet5": (8, 8, 1)}  # LeNet-5 needs at least 12x12 images.


def _model_and_shape_cases():
  for name in zoo.list_models():
    for i, shape in enumerate(IMAGE_SHAPES):
      skip = pytest.mark.skip(reason=f"{name} rejects {shape} by design")
      yield pytest.param(name, shape, id=f"{name}-input_shape{i}",
                         marks=[skip] if TOO_SMALL.get(name) == shape else [])


@pytest.mark.parametrize("name,input_shape", list(_model_and_shape_cases()))
def test_every_model_gives_finite_logits_of_the_right_shape(name, input_shape):
  forward = registry.build_forward(name, 10, {})
  x = jax.random.uniform(jax.random.key(1), (3, *input_shape))
  params, state = forward.init(jax.random.key(0), x, True)
  for is_training in (True, False):
    logits, _ = forward.apply(params, state, jax.random.key(2), x,
                              is_training)
    chex.assert_shape(logits, (3, 10))
    chex.assert_tree_all_finite(logits)


@pytest.mark.parametrize("name", ["logistic", "mlp"])
def test_vector_models_take_tables(name):
  forward = registry.build_forward(name, 4, {})
  x = jnp.ones((5, 20))
  params, state = forward.init(jax.random.key(0), x, True)
  logits, _ = forward.apply(params, state, None, x, False)
  chex.assert_shape(logits, (5, 4))


def test_cnn_dropout_is_active_only_in_training():
  forward = registry.build_forward("cnn", 10, {"dropout_rate": 0.5})
  x = jax.random.uniform(jax.random.key(1), (4, 8, 8, 1))
  params, state = forward.init(jax.random.key(0), x, True)
  train_a, _ = forward.apply(params, state, jax.random.key(1), x, True)
  train_b, _ = forward.apply(params, state, jax.random.key(2), x, True)
  eval_a, _ = forward.apply(params, state, jax.random.key(1), x, False)
  eval_b, _ = forward.apply(params, state, jax.random.key(2), x, False)
  assert not jnp.allclose(train_a, train_b)
  chex.assert_trees_all_equal(eval_a, eval_b)


CONTRACT = ('The contract (docs/models.md, '
            'section "Register your own model"): the builder is called '
            "inside hk.transform as builder(num_classes=..., "
            "**config.model.{name}), and the module as module(x, "
            "is_training=...) with x [batch, *input_shape], returning logits "
            "[batch, num_classes].")


@pytest.fixture
def scratch_registry(monkeypatch):
  """Models registered by the test are forgotten after it."""
  monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))  # pylint: disable=protected-access


class _Linear(hk.Module):
  """Meets the contract unless a test breaks it."""

  def __init__(self, num_classes, extra_classes=0, name=None):
    super().__init__(name=name)
    self.num_outputs = num_classes + extra_classes

  def __call__(self, x, is_training):
    del is_training
    return hk.Linear(self.num_outputs)(hk.Flatten()(x))


class _NoIsTraining(_Linear):

  def __call__(self, x):  # pylint: disable=arguments-differ
    return super().__call__(x, is_training=False)


def _contract_error(name, builder, hyperparameters=None):
  zoo.register_model(name)(builder)
  forward = registry.build_forward(name, 4, hyperparameters or {})
  with pytest.raises(zoo.ConfigError) as e:
    forward.init(jax.random.key(0), jnp.zeros((2, 3, 3, 1)), True)
  message = str(e.value)
  assert message.endswith(CONTRACT.format(name=name)), message
  assert "\n" not in message
  return message


def test_builder_without_num_classes_states_the_contract(scratch_registry):
  def no_num_classes(width=3):
    return hk.Linear(width)

  message = _contract_error("no_num_classes_net", no_num_classes)
  assert message.startswith(
      "Model 'no_num_classes_net' breaks the registry contract: its builder ")
  assert ".<locals>.no_num_classes does not accept num_classes. " in message


def test_module_without_is_training_states_the_contract(scratch_registry):
  message = _contract_error("no_is_training_net", _NoIsTraining)
  assert message.startswith(
      "Model 'no_is_training_net' breaks the registry contract: its module ")
  assert "._NoIsTraining takes no is_training argument. " in message


def test_wrong_logits_shape_fails_at_init(scratch_registry):
  message = _contract_error("wide_net", _Linear, {"extra_classes": 1})
  assert message.startswith(
      "Model 'wide_net' breaks the registry contract: for x of shape "
      "(2, 3, 3, 1) it returned logits of shape (2, 5), not [batch, "
      "num_classes] = (2, 4).")


def test_builder_returning_no_module_states_the_contract(scratch_registry):
  message = _contract_error("no_module_net", lambda num_classes: num_classes)
  assert "its builder returned int 4, not a callable module." in message


def test_contract_kept_with_var_kwargs(scratch_registry):
  zoo.register_model("kwargs_net")(lambda **kwargs: _Linear(**kwargs))
  forward = registry.build_forward("kwargs_net", 4, {"extra_classes": 0})
  x = jnp.zeros((2, 3, 3, 1))
  params, state = forward.init(jax.random.key(0), x, True)
  logits, _ = forward.apply(params, state, None, x, False)
  chex.assert_shape(logits, (2, 4))
