"""The model registry: a name maps to a builder of a Haiku module.

A builder is a Haiku module class, or any callable returning a module, called
inside `hk.transform` as `builder(num_classes=..., **hyperparameters)`. The
module it returns is called as `module(x, is_training=...)` and returns
logits of shape `[batch, num_classes]`.

    @zoo.register_model("my_net")
    class MyNet(hk.Module):
      def __init__(self, num_classes: int, width: int = 128, name=None): ...
      def __call__(self, x, is_training: bool) -> jax.Array: ...
"""

import difflib
import inspect
from typing import Any, Callable, NoReturn, TypeVar

import haiku as hk
import jax

from zoo import errors
from zoo.models import precision as precision_lib

Builder = Callable[..., Any]
B = TypeVar("B", bound=Builder)

_REGISTRY: dict[str, Builder] = {}

_CONTRACT = (
    "The contract (docs/models.md, section \"Register your own model\"): "
    "the builder is called inside hk.transform as builder(num_classes=..., "
    "**config.model.{name}), and the module as module(x, is_training=...) "
    "with x [batch, *input_shape], returning logits [batch, num_classes].")


def register_model(name: str, *, overwrite: bool = False) -> Callable[[B], B]:
  """Decorator registering a model builder under `name`; returns it unchanged."""
  if not isinstance(name, str) or not name.isidentifier():
    raise errors.ConfigError(
        f"register_model: name {name!r} must be a Python identifier such as "
        "'my_net' (it is also the config field holding the model's "
        "hyperparameters: config.model.<name>).")

  def decorator(builder: B) -> B:
    if not callable(builder):
      raise TypeError(f"register_model({name!r}) needs a class or function, "
                      f"got {builder!r}.")
    existing = _REGISTRY.get(name)
    if existing is not None and existing is not builder and not overwrite:
      if _qualname(existing) != _qualname(builder):
        raise errors.ConfigError(
            f"A model named {name!r} is already registered "
            f"({_qualname(existing)}). Pick another name or pass "
            "register_model(name, overwrite=True).")
    _REGISTRY[name] = builder
    return builder

  return decorator


def list_models() -> list[str]:
  """The registered model names, sorted."""
  return sorted(_REGISTRY)


def get_model(name: str) -> Builder:
  """The builder registered under `name`; unknown names name close matches."""
  try:
    return _REGISTRY[name]
  except KeyError:
    close = difflib.get_close_matches(name, _REGISTRY, n=3, cutoff=0.5)
    hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
    raise errors.ModelNotFoundError(
        f"Unknown model {name!r}.{hint} Registered models: "
        f"{', '.join(list_models())}. A model of your own must be registered "
        "with @zoo.register_model(...) in a module named by "
        "--config.model.module=path/to/file.py (or an importable module)."
    ) from None


def model_hyperparameters(name: str) -> dict[str, Any]:
  """Keyword arguments (besides `num_classes`) the builder accepts, with defaults."""
  params = inspect.signature(get_model(name)).parameters
  return {
      p.name: (None if p.default is inspect.Parameter.empty else p.default)
      for p in params.values()
      if p.name not in ("self", "num_classes", "name")
      and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
  }


def create_model(name: str, num_classes: int, **kwargs: Any) -> Any:
  """Builds the registered module. Call inside `hk.transform`.

  Unknown keyword arguments fail with the list of those the builder accepts.
  """
  builder = get_model(name)
  if not _accepts(builder, "num_classes"):
    _break_contract(name, f"its builder {_qualname(builder)} does not accept "
                    "num_classes.")
  accepted = model_hyperparameters(name)
  takes_var_kwargs = any(
      p.kind is p.VAR_KEYWORD
      for p in inspect.signature(builder).parameters.values())
  unknown = sorted(set(kwargs) - set(accepted))
  if unknown and not takes_var_kwargs:
    raise errors.ConfigError(
        f"Model {name!r} does not take {', '.join(unknown)} "
        f"(config.model.{name}.{unknown[0]}). It accepts: "
        f"{', '.join(sorted(accepted)) or 'no hyperparameters'}.")
  return builder(num_classes=num_classes, **kwargs)


def _qualname(obj: Any) -> str:
  return f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', obj)}"


def _accepts(fn: Callable[..., Any], keyword: str) -> bool:
  """Whether `fn` takes `keyword=...` (True if its signature is unknown)."""
  try:
    params = inspect.signature(fn).parameters.values()
  except (TypeError, ValueError):
    return True
  by_name = (inspect.Parameter.POSITIONAL_OR_KEYWORD,
             inspect.Parameter.KEYWORD_ONLY)
  return any(p.kind is p.VAR_KEYWORD
             or (p.name == keyword and p.kind in by_name) for p in params)


def _break_contract(name: str, problem: str) -> NoReturn:
  """Raises the ConfigError for a model `name` that breaks the contract."""
  raise errors.ConfigError(
      f"Model {name!r} breaks the registry contract: {problem} "
      f"{_CONTRACT.format(name=name)}")


def _checked_call(name: str, model: Any, x: jax.Array, is_training: bool,
                  num_classes: int) -> jax.Array:
  """`model(x, is_training=...)`, with the contract checked at trace time."""
  if not callable(model):
    _break_contract(name, f"its builder returned {type(model).__name__} "
                    f"{model!r:.60}, not a callable module.")
  if not _accepts(model, "is_training"):
    _break_contract(name, f"its module {_qualname(type(model))} takes no "
                    "is_training argument.")
  logits = model(x, is_training=is_training)
  expected = (x.shape[0], num_classes)
  shape = getattr(logits, "shape", None)
  if shape is None or tuple(shape) != expected:
    got = (f"logits of shape {tuple(shape)}" if shape is not None
           else f"a {type(logits).__name__}")
    _break_contract(name, f"for x of shape {tuple(x.shape)} it returned "
                    f"{got}, not [batch, num_classes] = {expected}.")
  return logits


def build_forward(name: str, num_classes: int, kwargs: dict[str, Any],
                  precision: str = "float32") -> hk.TransformedWithState:
  """`forward.apply(params, state, rng, x, is_training)` -> logits, state.

  `x` is `[batch, *input_shape]`; logits are `[batch, num_classes]` float32,
  computed in `precision` (zoo/models/precision.py; params stay float32).
  """
  get_model(name)  # Fail now, not inside the transform.
  precision_lib.check(precision)

  def forward(x: jax.Array, is_training: bool) -> jax.Array:
    model = create_model(name, num_classes=num_classes, **kwargs)
    with precision_lib.policies(precision, model):
      return _checked_call(name, model, x, is_training, num_classes)

  return hk.transform_with_state(forward)
