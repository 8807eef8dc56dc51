"""Shared by the resume tests: one uninterrupted reference run per session.

Import the fixture into a test module with
`from resume_helpers import reference  # noqa: F401`.
"""

import dataclasses
import json
import os
import pathlib
import re
import shutil
import signal
import subprocess
import sys
from typing import Any

import numpy as np
import pytest

import resume_config
from zoo import checkpoint
from zoo import experiment
from zoo import inference
from zoo.train import hooks as hooks_lib
from zoo.train import signals

REPO = pathlib.Path(__file__).resolve().parents[1]
CONFIG_FILE = REPO / "tests" / "resume_config.py"
# 1,797 digits - 20% test - 10% validation = 1,295 train: 20 batches of 64.
STEPS_PER_EPOCH = 20
TOTAL_STEPS = 3 * STEPS_PER_EPOCH


class StopAt(hooks_lib.Hook):
  """Requests a stop in the chunk holding `step`, as a SIGTERM arriving
  then would (the run stops at that chunk's end)."""

  def __init__(self, step: int):
    self.step = step

  def on_chunk_end(self, progress, chunk):
    if chunk.first_step < self.step <= chunk.last_step:
      signals.request_stop(signal.SIGTERM)


@dataclasses.dataclass(frozen=True)
class Reference:
  workdir: pathlib.Path
  results: dict[str, Any]

  def copy_to(self, target: pathlib.Path) -> pathlib.Path:
    """A copy of the reference workdir (checkpoints, config, results)."""
    shutil.copytree(self.workdir, target)
    return target


_CACHE: dict[str, Reference] = {}


@pytest.fixture(scope="session")
def reference(tmp_path_factory) -> Reference:
  """resume_config trained without interruption, on the 2 fake devices.

  Trained once per session, even though each module that imports this
  fixture gets its own copy of it.
  """
  if "run" not in _CACHE:
    workdir = tmp_path_factory.mktemp("reference")
    results = experiment.train_and_evaluate(resume_config.get_config(),
                                            str(workdir))
    assert results["steps"] == TOTAL_STEPS and results["num_devices"] == 2
    _CACHE["run"] = Reference(workdir, results)
  return _CACHE["run"]


def state_arrays(workdir: pathlib.Path) -> dict[str, np.ndarray]:
  """Every array of the latest checkpoint's train state, by path."""
  ckpt = checkpoint.Checkpointer(str(workdir), read_only=True)
  step = ckpt.steps()[-1]
  meta = ckpt.read_meta(step)
  fresh = inference.build_from_meta(meta)[2]
  return checkpoint.flatten_state(ckpt.restore(step, fresh, meta).state)


def checkpoint_steps(workdir: pathlib.Path) -> list[int]:
  """Steps of the whole checkpoints (orbax renames a finished save into
  place, so an integer-named directory is complete)."""
  folder = workdir / checkpoint.SUBDIR
  if not folder.is_dir():
    return []
  return sorted(int(p.name) for p in folder.iterdir() if p.name.isdigit())


def metric_rows(workdir: pathlib.Path) -> list[dict[str, Any]]:
  """metrics.jsonl's rows, without the fields that depend on timing or on
  where the run was interrupted (train means over a window cut by the
  resume)."""
  keep = ("kind", "step", "epoch", "validation_loss", "validation_accuracy",
          "test_loss", "test_accuracy")
  lines = (workdir / "metrics.jsonl").read_text().splitlines()
  return [{k: r.get(k) for k in keep} for r in map(json.loads, lines)]


def assert_same_as_reference(workdir: pathlib.Path, results: dict[str, Any],
                             ref: Reference) -> None:
  """Bitwise: same test and validation metrics, same final train state, and
  the metric records of one uninterrupted run."""
  for key in ("test_accuracy", "test_loss", "steps", "num_test_examples",
              "best_validation_epoch", "best_validation_accuracy",
              "final_validation_accuracy", "final_validation_loss"):
    assert results[key] == ref.results[key], key
  assert results["best_validation_epoch"] is not None
  got, want = metric_rows(workdir), metric_rows(ref.workdir)
  assert got == want, "\n".join(map(str, got + ["--- want:"] + want))
  got, want = state_arrays(workdir), state_arrays(ref.workdir)
  assert sorted(got) == sorted(want)
  assert any(k.startswith("params.") for k in got)
  for name in want:
    np.testing.assert_array_equal(got[name], want[name], err_msg=name)


def eval_on_one_device(workdir: pathlib.Path, *flags: str
                      ) -> tuple[dict[str, Any], subprocess.CompletedProcess]:
  """`launch.py --mode=eval` of `workdir` (CONFIG_FILE plus `flags`) in a
  process with one CPU device: (its results.json, the finished process)."""
  env = dict(os.environ)
  env["XLA_FLAGS"] = re.sub(r"--xla_force_host_platform_device_count=\d+", "",
                            env.get("XLA_FLAGS", ""))
  proc = subprocess.run(
      [sys.executable, "launch.py", f"--config={CONFIG_FILE}", *flags,
       f"--workdir={workdir}", "--mode=eval"],
      cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
  assert proc.returncode == 0, proc.stderr[-3000:]
  return json.loads((workdir / "results.json").read_text()), proc
