"""Multi-process runs: real local processes joined by jax.distributed (gloo).

Every subprocess has a hard timeout and is killed (with its process group)
when a test ends, so a hang can never block the suite.
"""

import contextlib
import json
import os
import pathlib
import signal
import socket
import subprocess
import sys
import time

import chex
import jax
import numpy as np
import pytest

from data_helpers import load_data

import zoo
from zoo import data
from zoo.config import resolve
from zoo.runtime import distributed
from zoo.runtime import parallel

from conftest import REPO

DRIVER = REPO / "tests" / "distributed_driver.py"
TIMEOUT_S = 240  # Per group of processes; a healthy group takes ~10-40 s.
TOLERANCE = dict(atol=1e-5, rtol=1e-5)  # Measured max |diff|: ~1.5e-7.


def _free_port() -> int:
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


class _Group:
  """Subprocesses started together, each logging to its own file."""

  def __init__(self, tmp_path: pathlib.Path):
    self.tmp_path, self.procs, self.logs = tmp_path, [], []

  def start(self, name: str, args: list[str], devices: int,
            **env_vars: str) -> None:
    env = dict(os.environ,
               XLA_FLAGS=f"--xla_force_host_platform_device_count={devices}",
               PYTHONPATH=os.pathsep.join(
                   [str(REPO), os.environ.get("PYTHONPATH", "")]),
               **env_vars)
    log = self.tmp_path / f"{name}.log"
    with open(log, "wb") as out:
      self.procs.append(subprocess.Popen(
          [sys.executable, *args], cwd=REPO, env=env, stdout=out,
          stderr=subprocess.STDOUT, start_new_session=True))
    self.logs.append(log)

  def wait(self) -> list[int]:
    """Every exit status; fails the test if any outlives TIMEOUT_S."""
    end = time.monotonic() + TIMEOUT_S
    try:
      return [p.wait(timeout=max(1.0, end - time.monotonic()))
              for p in self.procs]
    except subprocess.TimeoutExpired:
      pytest.fail(f"processes still running after {TIMEOUT_S} s (a hang): "
                  + self.output())

  def output(self, i: int = -1) -> str:
    logs = self.logs if i < 0 else [self.logs[i]]
    return "\n".join(log.read_text(errors="replace")[-3000:] for log in logs)

  def kill(self) -> None:
    for p in self.procs:
      if p.poll() is None:
        os.killpg(p.pid, signal.SIGKILL)  # Its own session: only its tree.
        p.wait()


@contextlib.contextmanager
def _group(tmp_path):
  group = _Group(tmp_path)
  try:
    yield group
  finally:
    group.kill()


def _driver(workdir, *flags):
  return [str(DRIVER), f"--workdir={workdir}", *flags]


def _cluster(port: int, n: int, i: int) -> list[str]:
  return [f"--coordinator_address=127.0.0.1:{port}", f"--num_processes={n}",
          f"--process_id={i}"]


@pytest.mark.parametrize("members", [1, 2])  # A single run; an ensemble.
def test_two_processes_match_one_process_on_four_devices(tmp_path, members):
  single, multi = tmp_path / "single", tmp_path / "multi"
  port = _free_port()
  size = f"--ensemble_size={members}"
  with _group(tmp_path) as group:
    group.start("single", _driver(single, size), devices=4)
    group.start("p0", _driver(multi / "p0", size, *_cluster(port, 2, 0)),
                devices=2)
    group.start("p1", _driver(multi / "p1", size, *_cluster(port, 2, 1)),
                devices=2)
    assert group.wait() == [0, 0, 0], group.output()
  ref = json.loads((single / "results.json").read_text())
  got = json.loads((multi / "p0" / "results.json").read_text())
  assert (ref["num_processes"], got["num_processes"]) == (1, 2)
  assert ref["num_devices"] == got["num_devices"] == 4
  assert ref["steps"] == got["steps"] > 0
  # Every test example exactly once across both processes.
  assert got["num_test_examples"] == ref["num_test_examples"] == 359
  assert got["test_accuracy"] == ref["test_accuracy"]
  np.testing.assert_allclose(got["test_loss"], ref["test_loss"], rtol=1e-5)
  if members > 1:
    assert got["num_members"] == ref["num_members"] == members
    assert ([m["test_accuracy"] for m in got["members"]]
            == [m["test_accuracy"] for m in ref["members"]])
    assert got["ensemble_test_accuracy"] == ref["ensemble_test_accuracy"]
  ref_final = dict(np.load(single / "final.npz"))
  got_final = dict(np.load(multi / "p0" / "final.npz"))
  ref_preds, got_preds = ref_final.pop("predictions"), got_final.pop(
      "predictions")
  assert got_preds.shape == (359,)
  assert np.sum(got_preds != ref_preds) <= 1  # Gathered in example order.
  assert sorted(got_final) == sorted(ref_final)
  chex.assert_trees_all_close(got_final, ref_final, **TOLERANCE)
  if members > 1:  # Every member's parameters, and they differ.
    w = next(v for k, v in got_final.items() if k.endswith("['w']"))
    assert w.shape[0] == members and not np.allclose(w[0], w[1])
  assert not (multi / "p1").exists()  # Only process 0 writes.


def test_missing_peer_fails_with_clear_error(tmp_path):
  """Process 0 alone waits for process 1; process 1 alone finds no one."""
  launch = [str(REPO / "launch.py"), "--config=configs/logistic.py",
            "--config.data.name=digits", f"--workdir={tmp_path / 'run'}",
            "--config.distributed.initialization_timeout_s=3"]
  with _group(tmp_path) as group:
    group.start("p0", [*launch, *_cluster(_free_port(), 2, 0)], devices=2)
    group.start("p1", [*launch, *_cluster(_free_port(), 2, 1)], devices=2)
    assert group.wait() == [2, 2], group.output()
  alone0, alone1 = group.output(0), group.output(1)
  assert "error: process 0 of 2 waited" in alone0, alone0
  assert "not every process joined" in alone0
  assert "error: process 1 of 2 could not join" in alone1, alone1
  assert "nothing answers there" in alone1
  for out in (alone0, alone1):
    assert "initialization_timeout_s=3" in out and "Traceback" not in out
  assert not (tmp_path / "run").exists()


def test_dead_peer_stops_the_run(tmp_path):
  """Process 1 dies after step 3; process 0 must stop, not hang."""
  port = _free_port()
  die = ["--die_after_step=3", "--heartbeat_timeout_s=3"]
  with _group(tmp_path) as group:
    group.start("p0", _driver(tmp_path / "p0", *_cluster(port, 2, 0), *die),
                devices=2)
    group.start("p1", _driver(tmp_path / "p1", *_cluster(port, 2, 1), *die),
                devices=2)
    status = group.wait()
  assert status[1] == 3, group.output(1)  # The process that died.
  assert status[0] != 0, group.output(0)
  assert "another task died" in group.output(0)
  assert not (tmp_path / "p0" / "results.json").exists()


def test_processes_with_different_configs_stop(tmp_path):
  launch = [str(REPO / "launch.py"), "--config=configs/logistic.py",
            "--config.data.name=digits", f"--workdir={tmp_path / 'run'}"]
  port = _free_port()
  with _group(tmp_path) as group:
    group.start("p0", [*launch, *_cluster(port, 2, 0)], devices=1)
    group.start("p1", [*launch, "--config.seed=1", *_cluster(port, 2, 1)],
                devices=1)
    assert group.wait() == [2, 2], group.output()
  for i in (0, 1):
    assert ("error: process(es) [1] run a different config from process 0"
            in group.output(i)), group.output(i)
  assert not (tmp_path / "run").exists()


def test_cluster_auto_detection_without_flags(tmp_path):
  """A (fake) 2-task Slurm step: JAX finds the cluster, no flags given."""
  slurm = dict(SLURM_JOB_ID="4242", SLURM_STEP_NODELIST="localhost",
               SLURM_NTASKS="2", JAX_COORDINATOR_PORT=str(_free_port()))
  # A batch of 6 cannot split over the 4 devices of both processes: the
  # error, right after joining, shows that they did join.
  launch = [str(REPO / "launch.py"), "--config=configs/logistic.py",
            "--config.data.name=digits", "--config.train.batch_size=6",
            f"--workdir={tmp_path / 'run'}"]
  with _group(tmp_path) as group:
    for i in (0, 1):
      group.start(f"p{i}", launch, devices=2, SLURM_PROCID=str(i),
                  SLURM_LOCALID=str(i), **slurm)
    assert group.wait() == [2, 2], group.output()
  for i in (0, 1):
    assert ("batch_size=6 does not divide evenly over the 4 devices of all 2 "
            "processes" in group.output(i)), group.output(i)


@pytest.mark.parametrize("flags,message", [
    (dict(num_processes=2), "--coordinator_address and --process_id missing"),
    (dict(coordinator_address="h:1", num_processes=2, process_id=2),
     "--process_id=2 is invalid"),
    (dict(coordinator_address="h:1", num_processes=0, process_id=0),
     "--num_processes=0 is invalid"),
    (dict(coordinator_address="h", num_processes=2, process_id=0),
     "--coordinator_address='h' is invalid"),
    (dict(coordinator_address="h:99999", num_processes=2, process_id=0),
     "give HOST:PORT"),
])
def test_bad_cluster_flags_name_the_flag(flags, message, monkeypatch):
  monkeypatch.delenv("JAX_COORDINATOR_ADDRESS", raising=False)
  monkeypatch.setattr(distributed, "cluster_detected", lambda: False)
  args = dict(coordinator_address=None, num_processes=None, process_id=None)
  with pytest.raises(zoo.ConfigError, match=message):
    distributed.check_flags(**{**args, **flags})


def test_join_failure_messages_name_the_fix():
  auto = distributed._join_failure(5, None, None, None)  # pylint: disable=protected-access
  assert "cluster JAX detected" in auto and "initialization_timeout_s=5" in auto
  port = _free_port()  # Nothing listens there.
  late = distributed._join_failure(5, f"127.0.0.1:{port}", 3, 2)  # pylint: disable=protected-access
  assert late.startswith("process 2 of 3 could not join")
  assert "nothing answers there" in late and "--process_id=0..2" in late


def test_when_a_run_is_multi_process(monkeypatch):
  monkeypatch.setattr(distributed, "cluster_detected", lambda: False)
  assert not distributed.requested(None, None, None)
  assert not distributed.requested(None, 1, None)  # Explicitly one process.
  assert distributed.requested("h:1", 2, 0)
  monkeypatch.setattr(distributed, "cluster_detected", lambda: True)
  assert distributed.requested(None, None, None)  # JAX finds the cluster.
  assert not distributed.requested(None, 1, None)


CLUSTER_VARS = ("SLURM_JOB_ID", "SLURM_STEP_NODELIST", "SLURM_NTASKS",
                "SLURM_PROCID", "SLURM_LOCALID", "OMPI_COMM_WORLD_SIZE",
                "TPU_PROCESS_ADDRESSES", "TPU_WORKER_HOSTNAMES",
                "KUBERNETES_SERVICE_HOST", "JOB_COMPLETION_INDEX")


@pytest.mark.parametrize("env,found", [
    ({}, None),
    (dict(SLURM_JOB_ID="7", SLURM_STEP_NODELIST="n[1-2]", SLURM_NTASKS="2",
          SLURM_PROCID="1", SLURM_LOCALID="0"), "Slurm (SLURM_NTASKS=2)"),
    (dict(SLURM_JOB_ID="7", SLURM_STEP_NODELIST="n1", SLURM_NTASKS="1",
          SLURM_PROCID="0", SLURM_LOCALID="0"), None),  # A one-task job.
    (dict(SLURM_JOB_ID="7", SLURM_NTASKS="4"), None),  # salloc's shell.
    (dict(OMPI_COMM_WORLD_SIZE="4"), "Open MPI (OMPI_COMM_WORLD_SIZE=4)"),
    (dict(OMPI_COMM_WORLD_SIZE="1"), None),
    (dict(TPU_WORKER_HOSTNAMES="h0,h1"), "Cloud TPU on GKE (2 hosts)"),
    (dict(TPU_WORKER_HOSTNAMES="h0"), None),
    (dict(KUBERNETES_SERVICE_HOST="10.0.0.1"), None),  # Any pod has it.
    (dict(KUBERNETES_SERVICE_HOST="10.0.0.1", JOB_COMPLETION_INDEX="0"),
     "a Kubernetes Indexed Job (JOB_COMPLETION_INDEX)"),
])
def test_cluster_environment_from_the_launchers_variables(env, found,
                                                          monkeypatch):
  for name in CLUSTER_VARS:
    monkeypatch.delenv(name, raising=False)
  for name, value in env.items():
    monkeypatch.setenv(name, value)
  assert distributed.cluster_environment() == found
  assert distributed.cluster_detected() == (found is not None)
  assert distributed.requested(None, None, None) == (found is not None)


def test_a_cluster_jax_cannot_complete_names_the_flags(tmp_path):
  """mpirun without Open MPI's ORTE URI (Open MPI 5): JAX's auto-detection
  finds no coordinator; its error comes with the zoo's fix."""
  launch = [str(REPO / "launch.py"), "--config=configs/logistic.py",
            "--config.data.name=digits", f"--workdir={tmp_path / 'run'}"]
  env = {k: v for k, v in os.environ.items()
         if k not in CLUSTER_VARS and k != "OMPI_MCA_orte_hnp_uri"}
  out = subprocess.run([sys.executable, *launch], cwd=REPO, timeout=TIMEOUT_S,
                       capture_output=True, text=True, check=False,
                       env={**env, "OMPI_COMM_WORLD_SIZE": "2"})
  assert out.returncode == 2, out.stderr[-3000:]
  error = out.stderr.strip().splitlines()[-1]
  assert error.startswith("error: cannot start the multi-process run: "), error
  assert "coordinator_address" in error  # JAX's own reason, then the fix.
  assert "Open MPI (OMPI_COMM_WORLD_SIZE=2)" in error
  assert "--coordinator_address=HOST:PORT" in error
  assert "--num_processes=1" in error
  assert not (tmp_path / "run").exists()


def test_single_process_initialize_is_a_no_op(base_config, monkeypatch):
  monkeypatch.setattr(distributed, "cluster_detected", lambda: False)
  assert not distributed.initialize(resolve.resolve(base_config))
  assert not jax.distributed.is_initialized()


def test_process_rows_split_each_global_batch():
  devices = jax.local_devices()  # One process: it owns every row.
  assert parallel.process_rows(8, devices) == slice(0, 8)
  with pytest.raises(zoo.ConfigError, match="multiple of 2"):
    parallel.process_rows(7, devices)
  local = np.arange(12).reshape(3, 4)
  np.testing.assert_array_equal(parallel.gather_rows(local), local)


def test_rows_of_eval_batches(base_config):
  split = load_data(base_config.data, base_config.seed).test
  halves = (slice(0, 32), slice(32, 64))  # Two processes' rows.
  full = list(data.eval_batches(split, 64))
  parts = [list(data.eval_batches(split, 64, rows=r)) for r in halves]
  for whole, a, b in zip(full, *parts, strict=True):
    for key in whole:
      np.testing.assert_array_equal(whole[key],
                                    np.concatenate([a[key], b[key]]))
  masks = [np.concatenate([a["mask"], b["mask"]])
           for a, b in zip(*parts, strict=True)]
  np.testing.assert_array_equal(np.concatenate(masks),
                                np.concatenate([f["mask"] for f in full]))
  assert sum(m.sum() for m in masks) == len(split)
