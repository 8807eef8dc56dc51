"""Installs the `zoo` package (haiku-zoo) and its tested dependency ranges.

The ranges are the ones CI installs and tests: the lower bound is the release
we test, the upper bound stops the next breaking minor release (JAX and Haiku
move fast) until it has been tried here.
"""

import setuptools

INSTALL_REQUIRES = [
    "jax>=0.10.2,<0.11",
    "jaxlib>=0.10.2,<0.11",
    "dm-haiku>=0.0.17,<0.1",
    "optax>=0.2.8,<0.3",
    "chex>=0.1.92,<0.2",
    # Mixed precision (train.precision): DeepMind's policies and loss scales,
    # which hk.mixed_precision takes. Haiku requires any jmp>=0.0.2; 0.0.4
    # is the release tested here with dm-haiku 0.0.17.
    "jmp>=0.0.4,<0.1",
    "ml-collections>=1.1.0,<2",
    "absl-py>=2.1,<3",
    "numpy>=1.26,<3",
    # TFDS reads MNIST through `tfds.data_source`, which needs no TensorFlow.
    # Preparing MNIST without TensorFlow also needs importlib_resources, which
    # TFDS does not declare itself.
    "tensorflow-datasets>=4.9.10,<4.10",
    "importlib_resources>=6",
    # The offline fallback dataset (8x8 `digits`) ships inside scikit-learn.
    "scikit-learn>=1.5,<2",
    # Showing the results (zoo/report): a progress bar per epoch (tqdm, which
    # TFDS installs anyway), TensorBoard event files without TensorFlow
    # (tensorboardX), and curves.png / confusion_matrix.png (matplotlib).
    "tqdm>=4.70,<5",
    "tensorboardX>=2.6.5,<2.7",
    "matplotlib>=3.11,<4",
    # Checkpoints (zoo/checkpoint/): the JAX ecosystem's checkpoint library,
    # atomic writes; 0.12.8 is tested with jax 0.10.2.
    "orbax-checkpoint>=0.12.8,<0.13",
    # Pretrained weights (zoo/pretrained/weights.py): one safetensors file of
    # named arrays that any framework reads, with no pickled code to execute
    # when loading a downloaded file; its numpy API needs no torch. 0.8.0 is
    # the release tested here.
    "safetensors>=0.8.0,<0.9",
    # `jax.export` serialisation (zoo.export, --mode=export) and its
    # deserialisation where the model is served: jax imports flatbuffers for
    # it but does not declare it. 25.12.19 is tested with jax 0.10.2.
    "flatbuffers>=25.12.19,<26",
]

EXTRAS_REQUIRE = {
    "test": ["pytest>=8,<10"],
    # The TensorBoard viewer for the event files every run writes
    # (`tensorboard --logdir runs/mlp`); 2.21.0 read them here (--inspect
    # lists the epoch and step scalars) without TensorFlow.
    "tensorboard": ["tensorboard>=2.20,<2.22"],
}

setuptools.setup(
    name="haiku-zoo",
    version="0.1.0",
    description="A modular JAX + Haiku model zoo with a pmapped training loop.",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    packages=setuptools.find_packages(include=["zoo", "zoo.*"]),
    # The zoo's own pretrained manifest (and any weights shipped beside it).
    package_data={"zoo.pretrained": ["weights/manifest.json",
                                     "weights/*.safetensors"]},
    python_requires=">=3.11",
    install_requires=INSTALL_REQUIRES,
    extras_require=EXTRAS_REQUIRE,
    license="Apache-2.0",
)
