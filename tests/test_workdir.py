"""--workdir checks: writable, and locked by one run at a time.

The lock is held by real subprocesses, each with a hard timeout and killed
(with its process group) when its test ends.
"""

import contextlib
import json
import os
import pathlib
import re
import select
import signal
import subprocess
import sys
import textwrap
from typing import Iterator

import pytest

import zoo
from zoo.experiment import workdir as workdir_lib

from conftest import REPO

TIMEOUT_S = 120  # A hang guard, not a measurement: the child locks in ~3 s.
HOLDER = """
    import sys, time
    from zoo.experiment import workdir
    with workdir.lock(sys.argv[1]):
      print("locked", flush=True)
      time.sleep({sleep})
"""


@contextlib.contextmanager
def _holder(path: pathlib.Path) -> Iterator[subprocess.Popen]:
  """A subprocess that holds the lock on `path` until killed."""
  env = dict(os.environ, PYTHONPATH=os.pathsep.join(
      [str(REPO), os.environ.get("PYTHONPATH", "")]))
  code = textwrap.dedent(HOLDER.format(sleep=TIMEOUT_S))
  proc = subprocess.Popen([sys.executable, "-c", code, str(path)], cwd=REPO,
                          env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True,
                          start_new_session=True)
  try:
    ready, _, _ = select.select([proc.stdout], [], [], TIMEOUT_S)
    line = proc.stdout.readline() if ready else ""
    if line.strip() != "locked":
      proc.kill()
      pytest.fail(f"the lock holder did not start: {proc.stderr.read()}")
    yield proc
  finally:
    if proc.poll() is None:
      os.killpg(proc.pid, signal.SIGKILL)  # Its own session: only its tree.
    proc.wait(timeout=TIMEOUT_S)
    proc.stdout.close()
    proc.stderr.close()


def test_a_held_lock_names_its_holder_and_kill_9_frees_it(tmp_path):
  run = tmp_path / "runs" / "mlp"
  with _holder(run) as proc:
    record = json.loads((run / workdir_lib.LOCK_FILE).read_text())
    assert record["pid"] == proc.pid and "-c" in record["command"]
    with pytest.raises(zoo.WorkdirError) as error:
      with workdir_lib.lock(str(run)):
        pytest.fail("took a lock another process holds")
    message = str(error.value)
    assert f"--workdir={run} is in use by process {proc.pid} (" in message
    assert "choose another --workdir" in message and "\n" not in message
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=TIMEOUT_S)  # Reaped: the kernel has closed its files.
  with workdir_lib.lock(str(run)):
    record = json.loads((run / workdir_lib.LOCK_FILE).read_text())
    assert record["pid"] == os.getpid()  # The dead holder's record is gone.


def test_release_then_relock_in_the_same_process(tmp_path):
  for _ in range(2):
    with workdir_lib.lock(str(tmp_path)):
      record = json.loads((tmp_path / ".lock").read_text())
      assert record["pid"] == os.getpid()
      with pytest.raises(zoo.WorkdirError, match=f"process {os.getpid()} "):
        with workdir_lib.lock(str(tmp_path)):
          pass
    assert (tmp_path / ".lock").read_text() == ""  # Kept, not deleted.


def test_an_error_in_the_run_releases_the_lock(tmp_path):
  with pytest.raises(KeyError):
    with workdir_lib.lock(str(tmp_path)):
      raise KeyError("boom")
  with workdir_lib.lock(str(tmp_path)):
    pass


def test_a_holder_without_details_is_still_refused(tmp_path):
  import fcntl  # pylint: disable=g-import-not-at-top
  with open(tmp_path / ".lock", "w", encoding="utf-8") as f:
    fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)  # Locked, not yet written.
    with pytest.raises(zoo.WorkdirError, match="in use by another process"):
      with workdir_lib.lock(str(tmp_path)):
        pass


def test_a_disabled_lock_does_nothing(tmp_path):
  with workdir_lib.lock(str(tmp_path)):
    with workdir_lib.lock(str(tmp_path), enabled=False):  # Process 1 of 2.
      pass
  with workdir_lib.lock(str(tmp_path / "new"), enabled=False):
    pass
  assert not (tmp_path / "new").exists()


def test_check_writable_creates_the_workdir(tmp_path):
  run = tmp_path / "runs" / "mlp"
  workdir_lib.check_writable(str(run))
  workdir_lib.check_writable(str(run))  # Existing and empty: fine too.
  assert run.is_dir() and not os.listdir(run)  # The probe file is gone.


def test_check_writable_refuses_a_file_or_a_path_under_one(tmp_path):
  file = tmp_path / "results.txt"
  file.write_text("x")
  with pytest.raises(zoo.WorkdirError, match=re.escape(
      f"--workdir={file} is a file, not a folder: choose another --workdir")):
    workdir_lib.check_writable(str(file))
  with pytest.raises(zoo.WorkdirError,
                     match=re.escape(f"lies under {file}, which is a file")):
    workdir_lib.check_writable(str(file / "run" / "a"))
  with pytest.raises(zoo.WorkdirError,
                     match="cannot lock --workdir=.*cannot create"):
    with workdir_lib.lock(str(file)):
      pass


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs /proc")
def test_check_writable_refuses_a_path_no_one_can_create():
  with pytest.raises(zoo.WorkdirError,
                     match="cannot create --workdir=/proc/zoo-run.*choose"):
    workdir_lib.check_writable("/proc/zoo-run/mlp")


@pytest.mark.skipif(os.geteuid() == 0,
                    reason="root ignores file permissions")
def test_check_writable_refuses_a_read_only_folder(tmp_path):
  parent = tmp_path / "read-only"
  parent.mkdir()
  parent.chmod(0o555)
  try:
    with pytest.raises(zoo.WorkdirError, match="cannot create --workdir="):
      workdir_lib.check_writable(str(parent / "run"))
    with pytest.raises(zoo.WorkdirError, match="cannot write in --workdir="):
      workdir_lib.check_writable(str(parent))
  finally:
    parent.chmod(0o755)


def _launch(*args: str) -> subprocess.CompletedProcess:
  return subprocess.run(
      [sys.executable, str(REPO / "launch.py"), "--config=configs/mlp.py",
       "--config.data.name=digits", *args], cwd=REPO, capture_output=True,
      text=True, timeout=TIMEOUT_S, check=False)


def test_launch_refuses_a_workdir_in_use_by_another_run(tmp_path):
  run = tmp_path / "run"
  with _holder(run) as proc:
    out = _launch(f"--workdir={run}")
  assert out.returncode == 2, out.stderr[-2000:]
  errors = [l for l in out.stderr.splitlines() if l.startswith("error:")]
  assert len(errors) == 1 and "Traceback" not in out.stderr
  assert f"is in use by process {proc.pid}" in errors[0]
  assert str(run) in errors[0]
  assert not (run / "results.json").exists()


def test_launch_checks_the_workdir_before_loading_data(tmp_path):
  a_file = tmp_path / "results"
  a_file.write_text("not a folder")
  # The data folder does not exist either: the workdir is checked first.
  out = _launch(f"--workdir={a_file}", "--config.data.name=mnist",
                f"--config.data.dir={tmp_path / 'no-such-data'}")
  assert out.returncode == 2, out.stderr[-2000:]
  errors = [l for l in out.stderr.splitlines() if l.startswith("error:")]
  assert len(errors) == 1 and "Traceback" not in out.stderr
  assert "is a file, not a folder" in errors[0] and str(a_file) in errors[0]


def test_a_run_that_fails_before_writing_leaves_no_workdir(tmp_path,
                                                           base_config):
  from zoo import experiment  # pylint: disable=g-import-not-at-top
  base_config.data.name = "mnist"
  base_config.data.allow_fallback = False
  base_config.data.dir = str(tmp_path / "no-such-data")
  new = tmp_path / "runs" / "new"
  with pytest.raises(zoo.DataError):
    experiment.train_and_evaluate(base_config, str(new))
  assert not new.exists()  # Not an empty folder holding only .lock.
  kept = tmp_path / "kept"  # A folder that existed before stays.
  kept.mkdir()
  with pytest.raises(zoo.DataError):
    experiment.train_and_evaluate(base_config, str(kept))
  assert kept.is_dir()


def test_claim_keeps_a_workdir_the_run_wrote_in(tmp_path):
  run = tmp_path / "run"
  with workdir_lib.claim(str(run)):
    (run / "config.json").write_text("{}")
  assert (run / "config.json").exists()
  with pytest.raises(KeyError):
    with workdir_lib.claim(str(tmp_path / "failed")):
      raise KeyError("boom")
  assert not (tmp_path / "failed").exists()
