"""Publishing a finished run: its weights file and its manifest entry.

    publish("runs/fm-lenet5", "fashion_mnist/lenet5", "dist/")   # scripts/publish.py

writes dist/fashion_mnist-lenet5.safetensors (params and model state of every member,
keyed by Haiku path; weights.py) and the entry `fashion_mnist/lenet5` of
dist/manifest.json (manifest.py lists its fields).
"""

import importlib.metadata
import os
from typing import Any

import jax

import zoo
from zoo import errors
from zoo import inference
from zoo.config import serialize
from zoo.pretrained import manifest
from zoo.pretrained import store
from zoo.pretrained import weights
from zoo.report import compare


def device(results: dict[str, Any]) -> str:
  """'1 × cpu (2 cores)': what the run trained on (as docs/MODELS.md)."""
  kind = results.get("device_kind") or results.get("platform", "?")
  text = f"{results.get('num_devices', 1)} × {kind}"
  if results.get("host_cpu_count") and results.get("platform") == "cpu":
    text += f" ({results['host_cpu_count']} cores)"
  return text


def _versions(results: dict[str, Any]) -> dict[str, str]:
  """The zoo's and the libraries' versions: those the run trained with, and
  those that wrote the file."""
  try:
    safetensors_version = importlib.metadata.version("safetensors")
  except importlib.metadata.PackageNotFoundError:
    safetensors_version = "?"
  return {"zoo": zoo.__version__, **results.get("versions", {}),
          "published_with": {"zoo": zoo.__version__, "jax": jax.__version__,
                             "safetensors": safetensors_version}}


def card(results: dict[str, Any], command: str) -> dict[str, Any]:
  """The entry's card: what `zoo.load(name)` scores and how it was made."""
  ensemble = results.get("num_members", 1) > 1
  out = {
      "dataset": results["dataset"],
      # zoo.load averages an ensemble's members: that is what it scores.
      "test_accuracy": (results["ensemble_test_accuracy"] if ensemble
                        else results["test_accuracy"]),
      "num_test_examples": results.get("num_test_examples"),
      "num_params": results.get("num_params"),
      "train_seconds": results.get("train_seconds"),
      "device": device(results),
      "command": command,
  }
  if ensemble:
    out["member_test_accuracy"] = [m["test_accuracy"]
                                   for m in results["members"]]
  return out


def publish(run_dir: str, name: str, out_dir: str,
            command: str = "") -> dict[str, Any]:
  """Writes OUT_DIR/NAME.safetensors and NAME's entry in
  OUT_DIR/manifest.json from the run's latest checkpoint and results.json;
  returns the entry. `command`: the recipe command that trains it again."""
  if not inference.NAME_PATTERN.fullmatch(name):
    raise errors.PretrainedError(
        f"--name={name!r}: a pretrained name is letters, digits, '.', '_', "
        "'/' and '-', starting with a letter or digit, e.g. "
        "fashion_mnist/lenet5.")
  results = compare.load_results(run_dir)
  predictor = inference.load_workdir(run_dir)
  if results.get("steps") not in (None, predictor.step):
    raise errors.PretrainedError(
        f"{run_dir}'s results.json describes step {results['steps']}, but its "
        f"latest checkpoint is step {predictor.step}. Re-evaluate it first: "
        f"python launch.py --config={run_dir}/config.json --mode=eval "
        f"--workdir={run_dir}.")
  os.makedirs(out_dir, exist_ok=True)
  filename = f"{store.file_stem(name)}.safetensors"
  path = os.path.join(out_dir, filename)
  num_members = len(predictor.members)
  spec = predictor.spec
  weights.save(path, weights.flatten(predictor.params, predictor.model_state),
               num_members, {"name": name, "model": spec.model.name,
                             "zoo_version": zoo.__version__})
  os.chmod(path, 0o644)  # Readable by all, as any installed package file.
  entry = {
      "url": filename,
      "sha256": store.file_sha256(path),
      "size": os.path.getsize(path),
      "model": {"name": spec.model.name,
                "hyperparameters": serialize.to_jsonable(spec.model.kwargs)},
      "input_shape": list(predictor.input_shape),
      "num_classes": predictor.num_classes,
      "class_names": list(predictor.class_names),
      # Done by zoo.load (and inside an export) to inputs as the data source
      # reads them (images in [0, 1]); None: none.
      "preprocessing": predictor.preprocessing,
      "num_members": num_members,
      "members": list(predictor.members),
      "step": predictor.step,
      "versions": _versions(results),
      "card": card(results, command),
      "config": spec.config,
  }
  manifest.write_entry(out_dir, name, entry)
  return entry
