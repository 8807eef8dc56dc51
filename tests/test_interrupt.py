"""Real interruptions of a training subprocess: SIGTERM, then kill -9.

The subprocess trains tests/resume_config.py with each step slowed down
(ZOO_TEST_STEP_SLEEP, see tests/slow_model.py) so that the signals land
mid-run; the numbers are those of the reference run, which is not slowed.
"""

import logging
import os
import re
import signal
import subprocess
import sys
import time

import resume_config
from resume_helpers import (REPO, CONFIG_FILE, TOTAL_STEPS,  # noqa: F401
                            assert_same_as_reference, checkpoint_steps,
                            reference)
from zoo.train import loop

SLEEP_S = "0.05"  # Per training step: >= 3 s for the whole run.


def _start(workdir):
  env = dict(os.environ, ZOO_TEST_STEP_SLEEP=SLEEP_S)
  return subprocess.Popen(
      [sys.executable, "launch.py", f"--config={CONFIG_FILE}",
       f"--workdir={workdir}"], cwd=REPO, env=env, text=True,
      stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _wait_for_checkpoint_after(proc, workdir, step, timeout_s=240.0):
  """Waits until a whole checkpoint newer than `step` exists; returns it."""
  deadline = time.monotonic() + timeout_s
  while time.monotonic() < deadline:
    steps = checkpoint_steps(workdir)
    if steps and steps[-1] > step:
      return steps[-1]
    if proc.poll() is not None:
      raise AssertionError("the run ended before it was interrupted:\n"
                           + proc.communicate()[1][-3000:])
    time.sleep(0.02)
  proc.kill()
  raise AssertionError(f"no checkpoint after step {step} in {timeout_s} s")


def test_sigterm_then_kill9_then_resume_equals_uninterrupted_run(
    reference, tmp_path, caplog):
  workdir = tmp_path / "run"
  # 1. SIGTERM: a checkpoint at the next step boundary and a clean exit.
  proc = _start(workdir)
  first = _wait_for_checkpoint_after(proc, workdir, 0)
  proc.send_signal(signal.SIGTERM)
  _, err = proc.communicate(timeout=120)
  assert proc.returncode == 128 + signal.SIGTERM, err[-3000:]
  stopped = int(re.search(r"Stopped by SIGTERM at step (\d+)/60", err)[1])
  assert first <= stopped < TOTAL_STEPS
  assert "Run the same command again" in err and "launch.py" in err
  assert checkpoint_steps(workdir)[-1] == stopped

  # 2. The same command resumes; kill -9 it once it saved a newer checkpoint.
  proc = _start(workdir)
  newer = _wait_for_checkpoint_after(proc, workdir, stopped)
  proc.kill()
  _, err = proc.communicate(timeout=60)
  assert proc.returncode == -signal.SIGKILL
  assert f"resumed from step {stopped} " in err
  latest = checkpoint_steps(workdir)[-1]
  assert stopped < newer <= latest < TOTAL_STEPS, (stopped, newer, latest)
  assert not (workdir / "results.json").exists()

  # 3. Resume once more (here, in-process): exactly the uninterrupted run.
  with caplog.at_level(logging.INFO, logger="absl"):
    results = loop.run(resume_config.get_config(), str(workdir))
  assert f"resumed from step {latest} " in caplog.text
  assert_same_as_reference(workdir, results, reference)
