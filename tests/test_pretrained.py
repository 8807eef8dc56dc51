"""Pretrained models: publish a run, then load it by name from a manifest,
through a download from a local HTTP server, the cache, and every failure
(wrong sha256, truncated body, offline, unknown name, shapes that do not
fit)."""

import importlib.util
import json
import re
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest
from safetensors import numpy as st_numpy

from conftest import REPO
import pretrained_helpers
import zoo
from zoo.pretrained import manifest
from zoo.pretrained import publish
from zoo.pretrained import store

NAME = "tiny-mlp"
X = np.random.default_rng(0).random((7, 8, 8, 1), dtype=np.float32)

_spec = importlib.util.spec_from_file_location(
    "publish_script", REPO / "scripts" / "publish.py")
publish_script = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(publish_script)


@pytest.fixture(scope="module")
def published(tmp_path_factory):
  """(workdir, dist folder, entry): a tiny digits MLP published as NAME by
  scripts/publish.py."""
  root = tmp_path_factory.mktemp("published")
  workdir = pretrained_helpers.train(root / "run")
  publish_script.main([workdir, "--name", NAME, "--out", str(root / "dist")])
  entry = json.loads((root / "dist" / "manifest.json").read_text())[NAME]
  return workdir, root / "dist", entry


@pytest.fixture
def env(tmp_path, monkeypatch):
  """An empty cache; returns a function that points ZOO_PRETRAINED_MANIFEST
  at a manifest holding the given entries."""
  monkeypatch.setenv(store.CACHE_ENV, str(tmp_path / "cache"))

  def use(entries: dict, folder: pathlib.Path = tmp_path) -> pathlib.Path:
    path = folder / "manifest.json"
    path.write_text(json.dumps(entries))
    monkeypatch.setenv(manifest.MANIFEST_ENV, str(path))
    return path

  return use


def _cached_files(tmp_path: pathlib.Path) -> list[str]:
  folder = tmp_path / "cache"
  return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")
                if p.is_file()) if folder.exists() else []


def test_publish_writes_weights_and_entry(published):
  workdir, dist, entry = published
  results = json.loads((pathlib.Path(workdir) / "results.json").read_text())
  path = dist / entry["url"]
  assert entry["url"] == f"{NAME}.safetensors"  # Beside the manifest.
  assert entry["size"] == path.stat().st_size
  assert entry["sha256"] == store.file_sha256(str(path))
  assert entry["model"] == {"name": "mlp", "hyperparameters": {
      "hidden_sizes": [16], "dropout_rate": 0.0}}
  assert entry["input_shape"] == [8, 8, 1] and entry["num_classes"] == 10
  assert entry["class_names"] == [str(i) for i in range(10)]
  assert "preprocessing" in entry and entry["preprocessing"] is None
  assert entry["versions"]["zoo"] == zoo.__version__
  assert entry["versions"]["jax"] == results["versions"]["jax"]
  card = entry["card"]
  assert card["test_accuracy"] == results["test_accuracy"]
  assert card["train_seconds"] == results["train_seconds"]
  assert card["device"].startswith(f"{results['num_devices']} × ")
  assert card["command"].startswith("python launch.py --config=configs/")
  assert "--config.data.name=digits" in card["command"]
  # Any safetensors reader opens it; the keys are Haiku's paths.
  arrays = st_numpy.load_file(str(path))
  predictor = zoo.load(workdir)
  assert set(arrays) == {f"params/mlp/mlp/~/linear_{i}/{p}"
                         for i in (0, 1) for p in "wb"}
  np.testing.assert_array_equal(arrays["params/mlp/mlp/~/linear_1/w"],
                                predictor.params["mlp/mlp/~/linear_1"]["w"][0])  # File: no member axis.


@pytest.fixture
def dist_manifest(published, monkeypatch, tmp_path):
  """Points the env at the published manifest (without rewriting it)."""
  _, dist, entry = published
  monkeypatch.setenv(store.CACHE_ENV, str(tmp_path / "cache"))
  monkeypatch.setenv(manifest.MANIFEST_ENV, str(dist / "manifest.json"))
  return entry


def test_a_name_loads_the_same_predictor_as_its_workdir(published,
                                                        dist_manifest):
  workdir = published[0]
  by_name, by_dir = zoo.load(NAME), zoo.load(workdir)
  np.testing.assert_array_equal(by_name(X), by_dir(X))
  assert by_name.class_names == by_dir.class_names
  assert by_name.input_shape == (8, 8, 1) and by_name.step == by_dir.step
  listed = zoo.list_pretrained()  # The package's names, then this one.
  assert listed[NAME] == dist_manifest["card"]["test_accuracy"]
  assert "fashion_mnist/lenet5" in listed
  # A local file is read in place, not copied into the cache.
  assert by_name.path == str(published[1] / f"{NAME}.safetensors")
  assert not pathlib.Path(os.environ[store.CACHE_ENV]).exists()


def test_download_then_cache(published, env, tmp_path):
  workdir, dist, entry = published
  with pretrained_helpers.serve(dist) as url:
    env({NAME: dict(entry, url=f"{url}/{entry['url']}")})
    downloaded = zoo.load(NAME)
  cached = store.cached_path(NAME, entry["sha256"])
  assert downloaded.path == str(cached)
  assert _cached_files(tmp_path) == [f"pretrained/{cached.name}"]
  np.testing.assert_array_equal(downloaded(X), zoo.load(workdir)(X))
  # The server is gone: the cache serves it.
  again = zoo.load(NAME)
  assert again.path == str(cached)
  np.testing.assert_array_equal(again(X), downloaded(X))


def test_a_wrong_sha256_is_refused_and_leaves_no_file(published, env,
                                                      tmp_path):
  _, dist, entry = published
  wrong = "0" * 64
  with pretrained_helpers.serve(dist) as url:
    env({NAME: dict(entry, url=f"{url}/{entry['url']}", sha256=wrong)})
    with pytest.raises(zoo.PretrainedError) as e:
      zoo.load(NAME)
  message = str(e.value)
  assert "\n" not in message
  assert f"has sha256 {entry['sha256']}" in message
  assert f"expects {wrong}" in message
  assert _cached_files(tmp_path) == []


def test_a_truncated_download_leaves_no_file(published, env, tmp_path):
  _, dist, entry = published
  with pretrained_helpers.serve(dist, truncate=(entry["url"],)) as url:
    env({NAME: dict(entry, url=f"{url}/{entry['url']}")})
    with pytest.raises(zoo.PretrainedError) as e:
      zoo.load(NAME)
  half = entry["size"] // 2
  assert f"stopped after {half} of {entry['size']} bytes" in str(e.value)
  assert "\n" not in str(e.value)
  assert _cached_files(tmp_path) == []


def test_offline_without_a_cached_copy(published, env, tmp_path):
  _, dist, entry = published
  with pretrained_helpers.serve(dist) as url:
    pass  # Stopped: nothing listens on that port any more.
  weights_url = f"{url}/{entry['url']}"
  env({NAME: dict(entry, url=weights_url)})
  with pytest.raises(zoo.PretrainedError) as e:
    zoo.load(NAME)
  message = str(e.value)
  assert "\n" not in message
  assert weights_url in message
  assert str(store.cached_path(NAME, entry["sha256"])) in message
  assert _cached_files(tmp_path) == []


def test_an_unknown_name_lists_close_matches(published, env):
  env({NAME: published[2], "tiny-cnn": published[2]})
  with pytest.raises(zoo.PretrainedError) as e:
    zoo.load("tiny-mpl")
  assert "Unknown pretrained model 'tiny-mpl'" in str(e.value)
  assert "Did you mean 'tiny-mlp'" in str(e.value)
  assert "\n" not in str(e.value)


def test_shapes_are_checked_against_the_model(published, env, tmp_path):
  _, dist, entry = published
  arrays = st_numpy.load_file(str(dist / entry["url"]))
  key = "params/mlp/mlp/~/linear_0/w"
  arrays[key] = arrays[key][:, :8]
  bad = tmp_path / "bad.safetensors"
  st_numpy.save_file(arrays, str(bad))
  env({NAME: dict(entry, url="bad.safetensors",
                  sha256=store.file_sha256(str(bad)),
                  size=bad.stat().st_size)})
  with pytest.raises(zoo.PretrainedError) as e:
    zoo.load(NAME)
  assert ("params/mlp/mlp/~/linear_0/w is (64, 8) float32 in the weights, "
          "(64, 16) float32 in the model") in str(e.value)
  assert "\n" not in str(e.value)


def test_the_package_manifest_ships_and_parses():
  assert manifest.PACKAGE_MANIFEST.is_file()
  assert isinstance(manifest.read(str(manifest.PACKAGE_MANIFEST)), dict)
  setup = (REPO / "setup.py").read_text()
  assert '"weights/manifest.json"' in setup and "safetensors>=" in setup


def test_launch_lists_pretrained_names(published, tmp_path):
  env = dict(os.environ, **{manifest.MANIFEST_ENV: str(published[1] /
                                                       "manifest.json"),
                            store.CACHE_ENV: str(tmp_path)})
  proc = subprocess.run(
      [sys.executable, str(REPO / "launch.py"), "--list_pretrained"],
      cwd=REPO, env=env, capture_output=True, text=True, timeout=120,
      check=False)
  assert proc.returncode == 0, proc.stderr[-2000:]
  accuracy = published[2]["card"]["test_accuracy"]
  assert re.search(rf"^{NAME} +test accuracy {accuracy:.4f}$", proc.stdout,
                   re.MULTILINE), proc.stdout


def test_a_scalar_array_keeps_its_shape_in_the_file(tmp_path):
  """A BatchNorm's EMA counter is 0-d per member: the file holds it 0-d."""
  from zoo.pretrained import weights  # pylint: disable=g-import-not-at-top
  flat = {"state/bn/~/mean_ema/counter": np.zeros((1,), np.int32),
          "params/lin/w": np.ones((1, 2, 3), np.float32)}
  weights.save(str(tmp_path / "w.safetensors"), flat, 1, {})
  loaded, metadata = weights.load(str(tmp_path / "w.safetensors"))
  assert metadata["num_members"] == "1"
  assert {k: v.shape for k, v in loaded.items()} == {
      k: v.shape for k, v in flat.items()}
