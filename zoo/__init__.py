"""haiku-zoo: a registry of Haiku models and a pmapped training loop.

    import zoo
    zoo.list_models()                       # ['cnn', 'lenet5', 'logistic', ...]
    predictor = zoo.load("runs/mlp")        # a trained workdir
    probabilities = predictor(images)       # [b, *input_shape] -> [b, classes]
    zoo.list_pretrained()                   # {name: test accuracy}
    predictor = zoo.load("fashion_mnist/lenet5")  # a pretrained name
    zoo.export("runs/mlp", "mlp.jaxexport") # a jax.export serving artifact

    @zoo.register_model("my_net")           # in your own file
    class MyNet(hk.Module): ...
"""

from zoo import models  # noqa: F401  (registers the built-in models)
from zoo.errors import (ConfigError, DataError, ModelNotFoundError,
                        PretrainedError, UserModuleError, WorkdirError,
                        ZooError)
from zoo.models.registry import (create_model, get_model, list_models,
                                 register_model)

__version__ = "0.1.0"


def load(name_or_workdir: str, step=None, member=None):
  """The trained model in a workdir, or a pretrained name's, as a
  `zoo.inference.Predictor`.

  `load(workdir)(images)` maps `[b, *input_shape]` to probabilities
  `[b, num_classes]` (an ensemble's: averaged over its members; `member=i`:
  member i's alone); see zoo/inference.py. An existing folder is a workdir;
  otherwise the name is looked up in the pretrained manifests
  (`list_pretrained()`, docs/pretrained.md).
  """
  from zoo import inference  # pylint: disable=g-import-not-at-top  (orbax)
  return inference.load(name_or_workdir, step, member)


def list_pretrained():
  """`{name: test accuracy}` of the pretrained names `load` accepts."""
  from zoo import pretrained  # pylint: disable=g-import-not-at-top
  return pretrained.list_pretrained()


def export(name_or_workdir: str, path: str) -> str:
  """Writes the model as a `jax.export` artifact at `path` (params and
  preprocessing inside, a symbolic batch): `[b, *input_shape]` float32 ->
  probabilities `[b, num_classes]`; returns `path`. See docs/pretrained.md.
  """
  from zoo.pretrained import export as export_lib  # pylint: disable=g-import-not-at-top
  return export_lib.export(name_or_workdir, path)


__all__ = [
    "ConfigError", "DataError", "ModelNotFoundError", "PretrainedError",
    "UserModuleError", "WorkdirError", "ZooError", "create_model", "export",
    "get_model", "list_models", "list_pretrained", "load", "register_model",
]
