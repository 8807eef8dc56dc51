"""haiku-zoo: a registry of Haiku models and a pmapped training loop.

    import zoo
    zoo.list_models()                       # ['cnn', 'lenet5', 'logistic', ...]
    predictor = zoo.load("runs/mlp")        # a trained workdir
    probabilities = predictor(images)       # [b, *input_shape] -> [b, classes]

    @zoo.register_model("my_net")           # in your own file
    class MyNet(hk.Module): ...
"""

from zoo import models  # noqa: F401  (registers the built-in models)
from zoo.errors import (ConfigError, DataError, ModelNotFoundError,
                        UserModuleError, WorkdirError, ZooError)
from zoo.models.registry import (create_model, get_model, list_models,
                                 register_model)

__version__ = "0.1.0"


def load(workdir: str, step=None, member=None):
  """The trained model in `workdir` as a `zoo.inference.Predictor`.

  `load(workdir)(images)` maps `[b, *input_shape]` to probabilities
  `[b, num_classes]` (an ensemble's: averaged over its members; `member=i`:
  member i's alone); see zoo/inference.py.
  """
  from zoo import inference  # pylint: disable=g-import-not-at-top  (orbax)
  return inference.load(workdir, step, member)


__all__ = [
    "ConfigError", "DataError", "ModelNotFoundError", "UserModuleError",
    "WorkdirError", "ZooError", "create_model", "get_model", "list_models",
    "load", "register_model",
]
