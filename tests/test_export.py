"""Export for serving: the file runs in a fresh process that imports only
jax and numpy, and gives the Predictor's probabilities for any batch."""

import os
import pathlib
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from conftest import REPO
import pretrained_helpers
import zoo

pytest.importorskip(
    "flatbuffers", reason="jax.export serialisation needs flatbuffers "
    "(setup.py installs it: pip install -e .)")

BATCHES = (1, 7)

# Runs in a fresh interpreter: jax and numpy only.
SERVE = textwrap.dedent("""
    import sys
    import jax
    import numpy as np

    for path, expected in zip(sys.argv[1::2], sys.argv[2::2]):
      with open(path, "rb") as f:
        exported = jax.export.deserialize(f.read())
      want = np.load(expected)
      for batch in {batches}:
        x = want[f"x{{batch}}"]
        probabilities = np.asarray(exported.call(x))
        assert probabilities.shape == (batch, want["classes"]), path
        np.testing.assert_allclose(probabilities, want[f"p{{batch}}"],
                                   rtol=1e-5, atol=1e-7)
    leaked = sorted(m for m in ("zoo", "haiku", "optax", "orbax")
                    if m in sys.modules)
    assert not leaked, leaked
    print("served", len(sys.argv) // 2, "models")
""").format(batches=BATCHES)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
  """{'ensemble': a 2-member MLP with per-channel normalisation,
  'resnet': a width-4 resnet20 (BatchNorm)}, each a trained workdir."""
  root = tmp_path_factory.mktemp("export")
  return {
      "ensemble": pretrained_helpers.train(
          root / "ensemble", **{"ensemble.size": 2,
                                "data.image_normalization": "per_channel"}),
      "resnet": pretrained_helpers.train(
          root / "resnet", **{"model.name": "resnet20",
                              "model.resnet20.depth": 8,
                              "model.resnet20.width": 4,
                              "train.scan_unroll": 1}),
  }


def _expected(workdir: str, path: pathlib.Path) -> str:
  """The Predictor's probabilities for batches of 1 and 7, saved to `path`."""
  predictor = zoo.load(workdir)
  rng = np.random.default_rng(0)
  arrays = {"classes": predictor.num_classes}
  for batch in BATCHES:
    x = rng.random((batch, *predictor.input_shape), dtype=np.float32)
    arrays[f"x{batch}"], arrays[f"p{batch}"] = x, predictor(x)
  np.savez(path, **arrays)
  return str(path)


def test_exports_serve_in_a_process_without_the_zoo(runs, tmp_path):
  # The launcher's --mode=export for one, zoo.export for the other.
  proc = subprocess.run(
      [sys.executable, str(REPO / "launch.py"), "--mode=export",
       f"--workdir={runs['ensemble']}"], cwd=REPO, capture_output=True,
      text=True, timeout=300, check=False)
  assert proc.returncode == 0, proc.stderr[-3000:]
  launched = pathlib.Path(runs["ensemble"]) / "export" / "model.jaxexport"
  assert f"Wrote {launched}" in proc.stdout
  exported = zoo.export(runs["resnet"], str(tmp_path / "resnet.jaxexport"))
  assert zoo.load(runs["ensemble"]).preprocessing is not None
  assert len(zoo.load(runs["ensemble"]).members) == 2
  args = [str(launched), _expected(runs["ensemble"], tmp_path / "e.npz"),
          exported, _expected(runs["resnet"], tmp_path / "r.npz")]
  env = dict(os.environ)
  serve = subprocess.run([sys.executable, "-c", SERVE, *args],
                         cwd=tmp_path, env=env, capture_output=True,
                         text=True, timeout=300, check=False)
  assert serve.returncode == 0, serve.stderr[-3000:]
  assert "served 2 models" in serve.stdout


def test_export_needs_a_workdir():
  proc = subprocess.run(
      [sys.executable, str(REPO / "launch.py"), "--mode=export"], cwd=REPO,
      capture_output=True, text=True, timeout=120, check=False)
  assert proc.returncode == 2
  assert proc.stderr.strip() == (
      "error: --mode=export needs --workdir=W, a trained run; it writes "
      "W/export/model.jaxexport.")
