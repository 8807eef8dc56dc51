"""CIFAR-10, one recipe per model (big_vision style: the model after a
colon):

  python launch.py --config=configs/cifar10.py:resnet20 \
      --config.data.dir=PATH/cifar-10-batches-py --workdir=runs/c10-resnet20

Models: logistic, mlp, cnn, lenet5, resnet20, resnet18, vit_tiny (see
configs/_image_recipes.py). Pixels are standardised per channel with the
training split's statistics; crops pad by 4 pixels, images may be mirrored.
Without --config.data.dir the data comes from TensorFlow Datasets.
"""

from configs import default
from configs import _image_recipes as image_recipes


def get_config(model: str = "resnet20"):
  config = default.get_config()
  config.data.name = "cifar10"
  config.data.image_normalization = "per_channel"
  config.data.crop_padding = 4
  return image_recipes.apply(config, model, flips=True)
