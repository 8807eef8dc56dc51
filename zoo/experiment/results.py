"""results.json: built in one place, for a training run and --mode=eval."""

import os
from typing import Any

import chex
import haiku as hk
import jax
import jmp
import numpy as np
import optax

from zoo.report import classification
from zoo.runtime import parallel
from zoo.train import ensemble
from zoo.train.loop import Progress
from zoo.train.state import num_params

RESULTS_FILE = "results.json"


def build(progress: Progress) -> dict[str, Any]:
  """The results of the run `progress` describes, after its test evaluation.

  Training facts (time, history, the best validation epoch) cover every
  piece of a resumed run; the test fields are `progress.test`'s.
  """
  setup, test, spec = progress.setup, progress.test, progress.spec
  ds = setup.dataset
  last = progress.history[-1] if progress.history else {}
  best = progress.best_epoch() or {}
  state = parallel.unreplicate(progress.state)
  results = {
      "model": spec.model.name,
      "dataset": ds.name,
      "dataset_source": ds.source,
      "num_devices": len(setup.devices),
      "num_processes": jax.process_count(),
      "platform": setup.devices[0].platform,
      "device_kind": setup.devices[0].device_kind,
      "host_cpu_count": os.cpu_count(),
      # Compute precision; params and checkpoints are float32 regardless.
      "precision": spec.train.precision,
      # The global batch trained with (a full-batch run's: the training set
      # rounded down to a multiple of the device count).
      "batch_size": setup.shape.batch_size,
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
      "num_params": num_params(ensemble.member(state.params, 0,
                                               setup.members.size)),
      "seed": spec.seed,
      "warnings": list(ds.warnings),
      "versions": {"jax": jax.__version__, "haiku": hk.__version__,
                   "optax": optax.__version__, "chex": chex.__version__,
                   "jmp": jmp.__version__},
      "config": spec.config,
  }
  results.update(member_fields(progress))
  results.update(classification.report_fields(
      ds.test.labels, test["predictions"], ds.class_names))
  if progress.files:
    results["files"] = dict(progress.files)
  return results


def member_fields(progress: Progress) -> dict[str, Any]:
  """The ensemble's results (a single run: one member).

  `members`: per member `seed`, `learning_rate`, `test_accuracy`,
  `test_loss`, `best_validation_accuracy`, `best_validation_epoch`;
  `test_accuracy_mean` (= `test_accuracy`) and `test_accuracy_std` (over
  members, ddof=1; 0 for one); `ensemble_test_accuracy` and
  `ensemble_test_loss` of the averaged probabilities.
  """
  members, test = progress.setup.members, progress.test
  rates = members.rates(progress.spec.optimizer.learning_rate)
  rows = []
  for i, (seed, rate) in enumerate(zip(members.seeds, rates)):
    best = _best_epoch(progress.history, i)
    rows.append({"seed": seed, "learning_rate": rate,
                 "test_accuracy": test["member_accuracy"][i],
                 "test_loss": test["member_loss"][i],
                 "best_validation_accuracy": best.get("accuracy"),
                 "best_validation_epoch": best.get("epoch")})
  accuracies = np.asarray(test["member_accuracy"])
  return {
      "num_members": members.size, "members": rows,
      "test_accuracy_mean": test["accuracy"],
      "test_accuracy_std": (float(np.std(accuracies, ddof=1))
                            if members.size > 1 else 0.0),
      "ensemble_test_accuracy": test["ensemble_accuracy"],
      "ensemble_test_loss": test["ensemble_loss"],
  }


def _best_epoch(history: list[dict[str, Any]], i: int) -> dict[str, Any]:
  """Member i's best validation accuracy and its epoch (earliest on ties);
  epochs recorded before ensembles existed hold one member's plain field."""
  scored = []
  for h in history:
    per_member = h.get("member_validation_accuracy")
    value = (per_member[i] if per_member is not None
             else h.get("validation_accuracy"))
    if value is not None:
      scored.append((value, -h["epoch"]))
  if not scored:
    return {}
  value, epoch = max(scored)
  return {"accuracy": value, "epoch": -epoch}


def _round(seconds):
  return None if seconds is None else round(seconds, 3)
