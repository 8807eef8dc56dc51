"""Fashion-MNIST, one recipe per model (big_vision style: the model after a
colon):

  python launch.py --config=configs/fashion_mnist.py:resnet20 \
      --config.data.dir=../shared/data/fashion-mnist --workdir=runs/fm-resnet20

Models: logistic, mlp, cnn, lenet5, resnet20, resnet18, vit_tiny (see
configs/_image_recipes.py). Without --config.data.dir the data comes from
TensorFlow Datasets. Crops pad by 2 pixels; clothes may be mirrored; the
ViT trains without augmentation.
"""

from configs import default
from configs import _image_recipes as image_recipes


def get_config(model: str = "cnn"):
  config = default.get_config()
  config.data.name = "fashion_mnist"
  config.data.crop_padding = 2
  config = image_recipes.apply(config, model, flips=True)
  if model == "vit_tiny":
    # In 12 epochs with crops and flips the ViT underfit Fashion-MNIST (train
    # accuracy 0.869, test 0.8696): it has no translation equivariance to
    # build on, and a CPU-sized schedule is too short to learn it from crops.
    config.data.augment = ()
  return config
