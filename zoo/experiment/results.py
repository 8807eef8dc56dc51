"""results.json: built in one place, for a training run and --mode=eval."""

import os
from typing import Any

import chex
import haiku as hk
import jax
import jmp
import ml_collections
import optax

from zoo.report import classification
from zoo.runtime import parallel
from zoo.train.loop import Progress
from zoo.train.state import num_params

RESULTS_FILE = "results.json"


def build(config: ml_collections.ConfigDict,
          progress: Progress) -> dict[str, Any]:
  """The results of the run `progress` describes, after its test evaluation.

  Training facts (time, history, the best validation epoch) cover every
  piece of a resumed run; the test fields are `progress.test`'s.
  """
  setup, test = progress.setup, progress.test
  ds = setup.dataset
  last = progress.history[-1] if progress.history else {}
  best = progress.best_epoch() or {}
  state = parallel.unreplicate(progress.state)
  results = {
      "model": config.model.name,
      "dataset": ds.name,
      "dataset_source": ds.source,
      "num_devices": len(setup.devices),
      "num_processes": jax.process_count(),
      "platform": setup.devices[0].platform,
      "device_kind": setup.devices[0].device_kind,
      "host_cpu_count": os.cpu_count(),
      # Compute precision; params and checkpoints are float32 regardless.
      "precision": config.train.precision,
      "test_accuracy": test["accuracy"],
      "test_loss": test["loss"],
      "num_test_examples": test["count"],
      "num_train_examples": len(ds.train),
      "num_validation_examples": (
          len(ds.validation) if ds.validation is not None else 0),
      "train_seconds": round(progress.train_seconds, 3),
      "seconds_to_first_step": _round(progress.seconds_to_first_step),
      "final_train_loss": last.get("train_loss"),
      "final_train_accuracy": last.get("train_accuracy"),
      "best_validation_accuracy": best.get("validation_accuracy"),
      "best_validation_epoch": best.get("epoch"),
      "final_validation_accuracy": last.get("validation_accuracy"),
      "final_validation_loss": last.get("validation_loss"),
      "xla_flags": os.environ.get("XLA_FLAGS", ""),
      "steps": progress.step,
      "num_params": num_params(state.params),
      "seed": config.seed,
      "warnings": list(ds.warnings),
      "versions": {"jax": jax.__version__, "haiku": hk.__version__,
                   "optax": optax.__version__, "chex": chex.__version__,
                   "jmp": jmp.__version__},
      "config": config.to_dict(),
  }
  results.update(classification.report_fields(
      ds.test.labels, test["predictions"], ds.class_names))
  if progress.files:
    results["files"] = dict(progress.files)
  return results


def _round(seconds):
  return None if seconds is None else round(seconds, 3)
