"""The Fashion-MNIST models the package ships: each loads by name offline and
scores its card's test accuracy; the export of one scores it with jax and
numpy alone; fine-tuning one on MNIST beats training from scratch."""

import gzip
import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from conftest import REPO
import zoo
from zoo.pretrained import manifest

pytestmark = pytest.mark.slow  # Six models over 10,000 test images.

SHIPPED = json.loads(manifest.PACKAGE_MANIFEST.read_text("utf-8"))
CATALOGUE = ("logistic", "mlp", "cnn", "lenet5", "resnet20", "vit_tiny")


def _idx(path) -> np.ndarray:
  """An IDX file's array (the original Fashion-MNIST / MNIST format)."""
  with gzip.open(path, "rb") as f:
    data = f.read()
  dims = data[3]
  shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big")
           for i in range(dims)]
  return np.frombuffer(data, np.uint8, offset=4 + 4 * dims).reshape(shape)


def _test_split(folder):
  """Fashion-MNIST's 10,000 test images as zoo.load takes them (float32 in
  [0, 1], NHWC) and their labels."""
  images = _idx(folder / "t10k-images-idx3-ubyte.gz")
  labels = _idx(folder / "t10k-labels-idx1-ubyte.gz")
  return (images[..., None] / np.float32(255)).astype(np.float32), labels


def test_every_fashion_mnist_card_ships():
  assert sorted(f"fashion_mnist/{m}" for m in CATALOGUE) == sorted(SHIPPED)
  assert set(SHIPPED) <= set(zoo.list_pretrained())


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_a_shipped_model_scores_its_card(name, fashion_mnist_dir, tmp_path,
                                         monkeypatch):
  # Offline: no cache, no other manifest, nothing to download.
  monkeypatch.setenv("ZOO_CACHE_DIR", str(tmp_path / "empty-cache"))
  monkeypatch.delenv("ZOO_PRETRAINED_MANIFEST", raising=False)
  images, labels = _test_split(fashion_mnist_dir)
  predictor = zoo.load(name)
  predicted = np.concatenate([predictor.predict(images[i:i + 1000])
                              for i in range(0, len(images), 1000)])
  accuracy = float(np.mean(predicted == labels))
  assert round(accuracy, 4) == SHIPPED[name]["card"]["test_accuracy"]
  assert not (tmp_path / "empty-cache").exists()  # Read in place.


SERVE = textwrap.dedent("""
    import sys
    import jax
    import numpy as np
    with open(sys.argv[1], "rb") as f:
      exported = jax.export.deserialize(f.read())
    data = np.load(sys.argv[2])
    images, labels = data["images"], data["labels"]
    predicted = np.concatenate([
        np.argmax(np.asarray(exported.call(images[i:i + 1000])), axis=-1)
        for i in range(0, len(images), 1000)])
    leaked = sorted(m for m in ("zoo", "haiku") if m in sys.modules)
    assert not leaked, leaked
    print(f"accuracy {np.mean(predicted == labels):.4f}")
""")


def test_an_exported_model_scores_its_card_with_jax_and_numpy(
    fashion_mnist_dir, tmp_path):
  name = "fashion_mnist/lenet5"
  path = zoo.export(name, str(tmp_path / "lenet5.jaxexport"))
  images, labels = _test_split(fashion_mnist_dir)
  np.savez(tmp_path / "test.npz", images=images, labels=labels)
  out = subprocess.run([sys.executable, "-c", SERVE, path,
                        str(tmp_path / "test.npz")], capture_output=True,
                       text=True, timeout=600, check=False)
  assert out.returncode == 0, out.stderr[-2000:]
  card = SHIPPED[name]["card"]["test_accuracy"]
  assert f"accuracy {card:.4f}" in out.stdout


def test_fine_tuning_a_shipped_model_beats_scratch_after_one_epoch(
    mnist_dir, tmp_path):
  """fashion_mnist/lenet5 fine-tuned on mnist-5k for 1 epoch (batch 32, a
  constant rate), against the same recipe from a fresh init
  (docs/pretrained.md shows both, and the recipes that did worse)."""
  from configs import fashion_mnist  # pylint: disable=g-import-not-at-top
  from zoo import experiment  # pylint: disable=g-import-not-at-top
  accuracy = {}
  for start in ("", "fashion_mnist/lenet5"):
    config = fashion_mnist.get_config("lenet5")
    config.data.name, config.data.dir = "mnist", str(mnist_dir)
    config.data.augment = ()
    config.train.batch_size, config.optimizer.schedule = 32, "constant"
    config.train.num_epochs = 1
    config.report.plots = config.report.tensorboard = False
    config.report.progress_bar = False
    config.init["from"] = start
    results = experiment.train_and_evaluate(
        config, str(tmp_path / (start.replace("/", "-") or "scratch")))
    assert results["config"]["init"]["from"] == start  # Recorded.
    accuracy[start or "scratch"] = results["test_accuracy"]
  assert accuracy["fashion_mnist/lenet5"] >= accuracy["scratch"], accuracy


def test_models_md_is_the_shipped_cards():
  """docs/MODELS.md comes from the published files (scripts/model_cards.py
  --pretrained): each shipped model's row and command."""
  page = (REPO / "docs" / "MODELS.md").read_text(encoding="utf-8")
  assert "model_cards.py --pretrained" in page
  for name, entry in SHIPPED.items():
    card = entry["card"]
    (row,) = [l for l in page.splitlines()
              if l.startswith(f"| `{entry['model']['name']}` |")]
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[1] == f"{card['num_params']:,}"
    assert cells[3] == f"{card['test_accuracy']:.4f}", name
    assert f'(`zoo.load("{name}")`): `{card["command"]}`' in page
