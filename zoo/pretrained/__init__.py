"""Pretrained models: publish a run, load it by name, fine-tune from it,
export it for serving (docs/pretrained.md).

manifest.py  the manifests: names -> weights file, sha256, card
store.py     the weights file: from the package, the cache or a download
weights.py   the safetensors file, keyed by Haiku module/param paths
loading.py   `zoo.load(NAME)`: a name's weights as a Predictor
publish.py   a finished run -> weights file + manifest entry
finetune.py  `config.init.from`: start training from other weights
export.py    a `jax.export` serving artifact with the params inside
"""

from zoo.pretrained.manifest import list_pretrained

__all__ = ["list_pretrained"]
