"""haiku-zoo: a registry of Haiku models and a pmapped training loop.

    import zoo
    zoo.list_models()                       # ['cnn', 'logistic', 'mlp']

    @zoo.register_model("my_net")           # in your own file
    class MyNet(hk.Module): ...
"""

from zoo import models  # noqa: F401  (registers the built-in models)
from zoo.errors import (ConfigError, DataError, ModelNotFoundError,
                        UserModuleError, ZooError)
from zoo import user_modules  # noqa: F401
from zoo.registry import create_model, get_model, list_models, register_model

__version__ = "0.1.0"

__all__ = [
    "ConfigError", "DataError", "ModelNotFoundError", "UserModuleError",
    "ZooError", "create_model", "get_model", "list_models", "register_model",
]
