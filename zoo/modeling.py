"""Turns a registered model name and its config into a Haiku transform."""

from typing import Any

import haiku as hk
import jax
import ml_collections

from zoo import registry


def hyperparameters(model_config: ml_collections.ConfigDict) -> dict[str, Any]:
  """The selected model's kwargs: `config.model.<name>`, or {} if absent."""
  section = model_config.get(model_config.name)
  if section is None:
    return {}
  kwargs = section.to_dict() if hasattr(section, "to_dict") else dict(section)
  return {k: tuple(v) if isinstance(v, list) else v for k, v in kwargs.items()}


def build_forward(name: str, num_classes: int,
                  kwargs: dict[str, Any]) -> hk.TransformedWithState:
  """`forward.apply(params, state, rng, x, is_training)` -> logits, state.

  `x` is `[batch, *input_shape]`; logits are `[batch, num_classes]`.
  """
  registry.get_model(name)  # Fail now, not inside the transform.

  def forward(x: jax.Array, is_training: bool) -> jax.Array:
    model = registry.create_model(name, num_classes=num_classes, **kwargs)
    return model(x, is_training=is_training)

  return hk.transform_with_state(forward)
