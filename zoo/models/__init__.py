"""The model registry and the built-in models (importing this registers them).

registry.py      register_model / get_model / list_models / create_model, and
                 build_forward: a registered name -> hk.transform_with_state
user_modules.py  imports the user's files named by config.model.module
"""

from zoo.models import registry
from zoo.models import user_modules
from zoo.models import cnn  # noqa: E402  (each registers itself)
from zoo.models import lenet
from zoo.models import logistic
from zoo.models import mlp
from zoo.models import resnet
from zoo.models import vit

__all__ = ["cnn", "lenet", "logistic", "mlp", "registry", "resnet",
           "user_modules", "vit"]
