"""A serving artifact: the model as one `jax.export` file, params inside.

    zoo.export("runs/mlp", "mlp.jaxexport")   # or a pretrained name
    python launch.py --mode=export --workdir=runs/mlp  # runs/mlp/export/

The file maps float32 inputs `[batch, *input_shape]`, exactly as `zoo.load`
takes them (images in [0, 1], NHWC; a table's raw feature columns), to
probabilities `[batch, num_classes]`: the run's preprocessing is inside,
BatchNorm runs in inference mode, an ensemble averages its members'
probabilities, and the batch size is symbolic. Serving it needs only jax:

    exported = jax.export.deserialize(open(path, "rb").read())
    probabilities = exported.call(images)
"""

import os
from typing import Any, Callable, Optional, Sequence

import jax
from jax import export as jax_export
import jax.numpy as jnp
import numpy as np

from zoo import inference

SUFFIX = ".jaxexport"
# Serving on any of these with the same file (lowered for each); a platform
# jax cannot lower for here is left out.
PLATFORMS = ("cpu", "cuda", "tpu")


def preprocess_fn(preprocessing: Optional[dict[str, Any]]
                 ) -> Callable[[jax.Array], jax.Array]:
  """`zoo.data.apply_preprocessing` as a traceable float32 function."""
  if not preprocessing:
    return lambda x: x
  if "image_normalization" in preprocessing:
    mean, std = preprocessing["image_mean"], preprocessing["image_std"]
  elif "mean" in preprocessing:  # A CSV table's standardisation.
    mean, std = preprocessing["mean"], preprocessing["std"]
  else:
    return lambda x: x
  mean = np.asarray(mean, np.float32)
  std = np.asarray(std, np.float32)
  return lambda x: (x - mean) / std


def serving_fn(predictor: inference.Predictor
              ) -> Callable[[jax.Array], jax.Array]:
  """`x [b, *input_shape] -> probabilities [b, classes]`, params closed
  over (baked into the program as constants)."""
  preprocess = preprocess_fn(predictor.preprocessing)
  params, model_state = predictor.params, predictor.model_state

  def serve(x: jax.Array) -> jax.Array:
    x = preprocess(jnp.asarray(x, jnp.float32))
    # pylint: disable-next=protected-access
    return predictor._probabilities(params, model_state, x)

  return serve


def to_exported(predictor: inference.Predictor,
                platforms: Optional[Sequence[str]] = None
               ) -> jax_export.Exported:
  """The predictor lowered with a symbolic batch dimension `b`."""
  (batch,) = jax_export.symbolic_shape("b")
  spec = jax.ShapeDtypeStruct((batch, *predictor.input_shape), jnp.float32)
  fn = jax.jit(serving_fn(predictor))
  if platforms is not None:
    return jax_export.export(fn, platforms=tuple(platforms))(spec)
  try:
    return jax_export.export(fn, platforms=PLATFORMS)(spec)
  except Exception:  # pylint: disable=broad-except  (cannot lower for all)
    return jax_export.export(fn)(spec)  # This machine's platform only.


def export(name_or_workdir: str, path: str,
           platforms: Optional[Sequence[str]] = None) -> str:
  """Writes the model of a workdir or pretrained name to `path`
  (atomically); returns `path`."""
  exported = to_exported(inference.load(name_or_workdir), platforms)
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  tmp = f"{path}.tmp.{os.getpid()}"
  with open(tmp, "wb") as f:
    f.write(exported.serialize())
  os.replace(tmp, path)
  return path
