"""`zoo.load(NAME)`: a pretrained name's weights as a `Predictor`.

The model is rebuilt from the entry's config, and every array of the
weights file is checked against the shapes of the model's own `init`
before use (a mismatch is a one-line error naming the parameter).
"""

from typing import Any, Optional

import jax

from zoo import inference
from zoo.pretrained import manifest
from zoo.pretrained import weights


def dataset_meta(fields: dict[str, Any]) -> dict[str, Any]:
  """The dataset facts of an entry, as a checkpoint's meta holds them."""
  return {"input_shape": list(fields["input_shape"]),
          "num_classes": fields["num_classes"],
          "class_names": list(fields.get("class_names") or ()),
          "preprocessing": fields.get("preprocessing"),
          "steps_per_epoch": 1}


def load(name: str, member: Optional[int] = None) -> inference.Predictor:
  """The Predictor of the pretrained `name` (downloaded if not cached)."""
  entry = manifest.find(name)
  path = entry.weights_file()
  flat, _ = weights.load(path)
  data = dataset_meta(entry.fields)
  spec, forward, fresh = inference.build_from_meta(
      {"config": entry.fields["config"], "dataset": data})
  weights.check_fits(flat, weights.flatten(fresh.params, fresh.model_state),
                     f"of pretrained {name!r} ({path})")
  params, model_state = jax.device_put(weights.unflatten(flat))
  return inference.make_predictor(spec, forward, params, model_state, data,
                                  entry.fields.get("step", 0), path, member)
