"""Real interruptions of training subprocesses: SIGTERM, then kill -9; and
SIGTERM to one process of a two-process run.

The subprocess trains tests/resume_config.py with each step slowed down
(ZOO_TEST_STEP_SLEEP, see tests/slow_model.py) so that the signals land
mid-run; the numbers are those of the reference run, which is not slowed.
"""

import json
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest

import resume_config
from resume_helpers import (REPO, CONFIG_FILE, TOTAL_STEPS,  # noqa: F401
                            assert_same_as_reference, checkpoint_steps,
                            reference)
from zoo import experiment
from zoo.train import signals

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
    results = experiment.train_and_evaluate(
        resume_config.get_config(), str(workdir))
  assert f"resumed from step {latest} " in caplog.text
  assert_same_as_reference(workdir, results, reference)


def _wait_for(predicate, timeout_s=10.0):
  deadline = time.monotonic() + timeout_s
  while not predicate():
    assert time.monotonic() < deadline, "timed out"
    time.sleep(0.01)


def test_a_second_signal_stops_at_once_but_not_inside_a_save():
  with signals.stop_on_signals():
    os.kill(os.getpid(), signal.SIGINT)
    _wait_for(lambda: signals.stop_requested() == signal.SIGINT)
    with pytest.raises(signals.StoppedAtOnce) as stopped:
      os.kill(os.getpid(), signal.SIGINT)
      time.sleep(10)  # The handler raises here, long before 10 s.
    assert stopped.value.signum == signal.SIGINT
    saved = []
    with pytest.raises(signals.StoppedAtOnce):
      with signals.protected():  # A checkpoint being written.
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.2)  # The handler ran and deferred the stop.
        saved.append("whole")
    assert saved == ["whole"]
  assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_second_signal_in_a_host_callback_waits_for_the_chunk_end():
  # Raised there, JAX would wrap it in a runtime error with a traceback.
  import jax  # pylint: disable=g-import-not-at-top

  def second_signal():
    os.kill(os.getpid(), signal.SIGINT)
    time.sleep(0.2)  # The handler runs in here.

  with signals.stop_on_signals():
    signals.request_stop(signal.SIGINT)
    jax.jit(lambda x: jax.debug.callback(second_signal) or x)(1.0)
    jax.effects_barrier()
    assert signals.stop_requested() == signal.SIGINT  # The chunk end stops.


def test_ctrl_c_twice_is_one_line_saying_what_was_kept(tmp_path):
  workdir = tmp_path / "run"
  proc = _start(workdir)
  lines = []
  reader = threading.Thread(target=lambda: lines.extend(proc.stderr),
                            daemon=True)
  reader.start()
  _wait_for_checkpoint_after(proc, workdir, 0)
  proc.send_signal(signal.SIGINT)
  _wait_for(lambda: any("press Ctrl-C again" in l for l in lines), 120)
  proc.send_signal(signal.SIGINT)  # Impatient: while it saves, or later.
  proc.wait(timeout=120)
  reader.join(timeout=60)
  err = "".join(lines)
  assert proc.returncode == 128 + signal.SIGINT, err[-3000:]
  assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
  kept = checkpoint_steps(workdir)[-1]
  # The second signal stops at once (after the save it interrupted), or,
  # landing after the save, changes nothing: the step saved is named.
  assert (f"kept: the checkpoint at step {kept} in" in err
          or f"to resume from step {kept}." in err), err[-3000:]
  last = [l for l in lines if l.strip()][-1]
  assert "launch.py" in last or last.startswith("Stopped at once"), last


def test_stopped_at_once_says_which_checkpoint_was_kept(reference, tmp_path):
  # `reference` is a finished run: its workdir holds checkpoints.
  empty = tmp_path / "empty"
  code = ("import signal, sys, launch; print(launch._stopped_at_once("
          "signal.SIGINT, sys.argv[1])); print(launch._stopped_at_once("
          "signal.SIGTERM, sys.argv[2]))")
  proc = subprocess.run(
      [sys.executable, "-c", code, str(reference.workdir), str(empty)],
      cwd=REPO, capture_output=True, text=True, check=True, timeout=120)
  kept, nothing = proc.stdout.splitlines()
  last = checkpoint_steps(reference.workdir)[-1]
  assert kept.startswith("Stopped at once by SIGINT; kept: the checkpoint at "
                         f"step {last} in --workdir={reference.workdir}")
  assert kept.endswith(f"resume from step {last}.")
  assert nothing == (f"Stopped at once by SIGTERM; no checkpoint in "
                     f"--workdir={empty}, so the same command starts the "
                     "run again from step 0.")


def _free_port() -> int:
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


def _start_process(workdir, port, i, log, **env_vars):
  """Process i of 2 (one CPU device each), in its own session."""
  env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=1",
             **env_vars)
  with open(log, "wb") as out:
    return subprocess.Popen(
        [sys.executable, "launch.py", f"--config={CONFIG_FILE}",
         f"--workdir={workdir}", f"--coordinator_address=127.0.0.1:{port}",
         "--num_processes=2", f"--process_id={i}"],
        cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT,
        start_new_session=True)


def test_two_processes_stop_together_and_resume_from_process_0(reference,
                                                                tmp_path):
  # Separate workdirs, as on machines without a shared disk: process 0
  # alone holds the checkpoints; process 1 gets the state from it.
  dirs = [tmp_path / "p0", tmp_path / "p1"]
  logs = [tmp_path / "p0.log", tmp_path / "p1.log"]
  procs = []
  try:
    port = _free_port()
    procs = [_start_process(dirs[i], port, i, logs[i],
                            ZOO_TEST_STEP_SLEEP=SLEEP_S) for i in (0, 1)]
    _wait_for_checkpoint_after(procs[0], dirs[0], 0)
    procs[1].send_signal(signal.SIGTERM)  # One process only.
    codes = [p.wait(timeout=120) for p in procs]
    out = [log.read_text() for log in logs]
    assert codes == [128 + signal.SIGTERM] * 2, out
    stops = {int(re.search(r"Stopped by SIGTERM at step (\d+)/", o)[1])
             for o in out}
    assert len(stops) == 1, out  # Both at the same step.
    stopped = stops.pop()
    assert checkpoint_steps(dirs[0])[-1] == stopped < TOTAL_STEPS
    assert not checkpoint_steps(dirs[1])

    port = _free_port()
    procs = [_start_process(dirs[i], port, i, logs[i]) for i in (0, 1)]
    codes = [p.wait(timeout=240) for p in procs]
    assert codes == [0, 0], [log.read_text()[-3000:] for log in logs]
  finally:
    for p in procs:
      if p.poll() is None:
        os.killpg(p.pid, signal.SIGKILL)  # Its own session: only its tree.
        p.wait()
  assert f"resumed from step {stopped} " in logs[0].read_text()
  results = json.loads((dirs[0] / "results.json").read_text())
  assert results["num_processes"] == 2 and results["steps"] == TOTAL_STEPS
  # 2 processes x 1 device vs 1 process x 2 devices: other reductions (gloo),
  # so equal up to rounding, not bitwise.
  assert results["test_accuracy"] == reference.results["test_accuracy"]
  assert results["test_loss"] == pytest.approx(reference.results["test_loss"],
                                               rel=1e-4)
