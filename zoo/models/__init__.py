"""Built-in models. Importing this package registers them."""

from zoo.models import cnn
from zoo.models import logistic
from zoo.models import mlp

__all__ = ["cnn", "logistic", "mlp"]
