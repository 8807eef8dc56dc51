"""One run over several processes (machines) with JAX's multi-controller runtime.

Every process runs the same command with `--coordinator_address=host:port
--num_processes=N --process_id=i`, or, when a cluster launcher started it
(`cluster_environment`: Slurm's srun, Open MPI's mpirun, Cloud TPU on GKE, a
Kubernetes Indexed Job), with none of them: JAX's own auto-detection fills
them in. Without either, a run is single-process. `initialize` joins the
processes with `jax.distributed.initialize` before JAX touches a device;
then `jax.devices()` lists the devices of every process, pmap's collectives
span them all, and `zoo.runtime.parallel` makes each process feed only its own
devices. On CPU the cross-process collectives are gloo's.

Nothing waits forever:
- joining: a process still waiting for the others after
  `config.distributed.initialization_timeout_s` prints `error: ...` (what it
  waited for and how to fix it) and exits with status 2;
- running: a process silent for `config.distributed.heartbeat_timeout_s`
  counts as dead, and JAX stops every other process with "Terminating
  process because the JAX distributed service detected fatal errors. This
  most likely indicates that another task died" (exit status 134);
- failing: a process that stops on an error (`exit_now`) leaves at once
  instead of waiting at JAX's exit barrier for processes that wait for it.
"""

import contextlib
import copy
import dataclasses
import functools
import json
import os
import socket
import sys
import threading
import time
from typing import Any, Callable, Iterator, Optional
import zlib

from absl import logging
import jax
from jax.experimental import multihost_utils
import numpy as np

from zoo import errors
from zoo.config.spec import RunSpec

# JAX's own join timeout is longer than ours, so that ours (with its clearer
# message) always fires first.
_JAX_GRACE_S = 30
# config.data fields that may differ between machines (where the data is).
DATA_PATH_FIELDS = ("dir", "tfds_data_dir", "path")
# Seconds process 0 waits before leaving on an error (see `exit_now`).
_COORDINATOR_LINGER_S = 2.0


def _env_int(name: str) -> int:
  """Environment variable `name` as an integer; 0 if unset or not one."""
  value = os.environ.get(name, "").strip()
  return int(value) if value.isdigit() else 0


def _env_hosts(*names: str) -> int:
  """How many comma-separated hosts the first set variable of `names` lists."""
  for name in names:
    if name in os.environ:
      return len([h for h in os.environ[name].split(",") if h.strip()])
  return 0


def cluster_environment() -> Optional[str]:
  """The cluster launcher that started this process as one of several, as
  its environment variables say (e.g. 'Slurm (SLURM_NTASKS=4)'), or None.

  These are the environments JAX 0.10.2's `jax.distributed.initialize`
  auto-detects, recognised by what their launchers set in every process:
  - Slurm (srun): SLURM_JOB_ID, SLURM_STEP_NODELIST, SLURM_PROCID,
    SLURM_LOCALID and SLURM_NTASKS > 1;
  - Open MPI (mpirun): OMPI_COMM_WORLD_SIZE > 1;
  - Cloud TPU on GKE: over one host in TPU_PROCESS_ADDRESSES (or
    TPU_WORKER_HOSTNAMES);
  - Kubernetes Indexed Job: KUBERNETES_SERVICE_HOST and JOB_COMPLETION_INDEX.
  A one-task job is single-process. Not recognised, so give the three
  flags: a multi-host Cloud TPU VM slice (JAX asks its metadata server, not
  the environment) and mpi4py (opt-in in JAX).
  """
  slurm = ("SLURM_JOB_ID", "SLURM_STEP_NODELIST", "SLURM_PROCID",
           "SLURM_LOCALID")
  if all(v in os.environ for v in slurm) and _env_int("SLURM_NTASKS") > 1:
    return f"Slurm (SLURM_NTASKS={_env_int('SLURM_NTASKS')})"
  if _env_int("OMPI_COMM_WORLD_SIZE") > 1:
    return f"Open MPI (OMPI_COMM_WORLD_SIZE={_env_int('OMPI_COMM_WORLD_SIZE')})"
  hosts = _env_hosts("TPU_PROCESS_ADDRESSES", "TPU_WORKER_HOSTNAMES")
  if hosts > 1:
    return f"Cloud TPU on GKE ({hosts} hosts)"
  if ("KUBERNETES_SERVICE_HOST" in os.environ
      and "JOB_COMPLETION_INDEX" in os.environ):
    return "a Kubernetes Indexed Job (JOB_COMPLETION_INDEX)"
  return None


def cluster_detected() -> bool:
  """Whether a cluster launcher started this process as one of several."""
  return cluster_environment() is not None


def requested(coordinator_address: Optional[str], num_processes: Optional[int],
              process_id: Optional[int]) -> bool:
  """Whether this run spans several processes (flags or a detected cluster).

  `--num_processes=1` alone forces a single-process run, even in a cluster.
  """
  if num_processes == 1 and coordinator_address is None and process_id is None:
    return False
  given = (coordinator_address, num_processes, process_id)
  return any(x is not None for x in given) or cluster_detected()


def check_flags(coordinator_address: Optional[str],
                num_processes: Optional[int],
                process_id: Optional[int]) -> None:
  """Raises ConfigError naming the flag that cannot describe a cluster."""
  coordinator_address = (coordinator_address or
                         os.environ.get("JAX_COORDINATOR_ADDRESS"))
  given = {"--coordinator_address": coordinator_address,
           "--num_processes": num_processes, "--process_id": process_id}
  missing = [name for name, value in given.items() if value is None]
  if missing and not cluster_detected():
    raise errors.ConfigError(
        f"{' and '.join(missing)} missing: a run over several processes needs "
        "--coordinator_address=HOST:PORT (process 0's address and a free "
        "port), --num_processes=N and --process_id=0..N-1 on every process.")
  if num_processes is not None and num_processes < 1:
    raise errors.ConfigError(
        f"--num_processes={num_processes} is invalid: give the number of "
        "processes (>= 1).")
  if process_id is not None and not (
      0 <= process_id < (num_processes or process_id + 1)):
    raise errors.ConfigError(
        f"--process_id={process_id} is invalid with --num_processes="
        f"{num_processes}: number the processes 0..{(num_processes or 1) - 1}.")
  if coordinator_address is not None:
    _split_address(coordinator_address)


def _split_address(address: str) -> tuple[str, int]:
  host, _, port = address.rpartition(":")
  if not host or not port.isdigit() or not 0 < int(port) < 65536:
    raise errors.ConfigError(
        f"--coordinator_address={address!r} is invalid: give HOST:PORT, the "
        "address of the machine running --process_id=0 and a free port, e.g. "
        "--coordinator_address=10.0.0.1:1234.")
  return host.strip("[]"), int(port)


@dataclasses.dataclass(frozen=True)
class Cluster:
  """launch.py's multi-process flags (None: not given)."""
  coordinator_address: Optional[str] = None
  num_processes: Optional[int] = None
  process_id: Optional[int] = None


def initialize(spec: RunSpec, cluster: Optional[Cluster] = None) -> bool:
  """Joins the other processes of the run; returns whether there are any.

  Call before anything touches a JAX device, with the run's spec. A
  no-op (False) for a single-process run. Only process 0 keeps logging at
  INFO level.
  """
  cluster = cluster or Cluster()
  coordinator_address = cluster.coordinator_address
  num_processes, process_id = cluster.num_processes, cluster.process_id
  if not requested(coordinator_address, num_processes, process_id):
    return False
  check_flags(coordinator_address, num_processes, process_id)
  timeouts = spec.distributed
  jax.config.update("jax_cpu_collectives_implementation", "gloo")
  why = functools.partial(
      _join_failure, timeouts.initialization_timeout_s,
      coordinator_address or os.environ.get("JAX_COORDINATOR_ADDRESS"),
      num_processes, process_id)
  with deadline(timeouts.initialization_timeout_s, why):
    try:  # JAX's own auto-detection fills in the flags not given.
      jax.distributed.initialize(
          coordinator_address, num_processes, process_id,
          initialization_timeout=timeouts.initialization_timeout_s + _JAX_GRACE_S,
          heartbeat_timeout_seconds=timeouts.heartbeat_timeout_s)
    except (RuntimeError, ValueError) as e:
      raise errors.DistributedError(_start_failure(e, cluster)) from e
  logging.info("Process %d of %d joined the run at %s: %d devices in all, "
               "%d here.", jax.process_index(), jax.process_count(),
               coordinator_address or
               f"(auto-detected in {cluster_environment()})",
               jax.device_count(), jax.local_device_count())
  if jax.process_index() != 0:
    logging.set_verbosity(logging.WARNING)  # Process 0 logs for the run.
  check_same_config(spec.config)
  return True


def _start_failure(error: Exception, cluster: Cluster) -> str:
  """JAX's reason for not starting the run, and the fix."""
  given = (cluster.coordinator_address, cluster.num_processes,
           cluster.process_id)
  if all(x is not None for x in given):  # Not auto-detection: called late.
    fix = ("Call distributed.initialize once, before anything touches a JAX "
           "device.")
  else:
    fix = (f"JAX's auto-detection in {cluster_environment() or 'this cluster'}"
           " could not fill in the flags not given: give "
           "--coordinator_address=HOST:PORT, --num_processes=N and "
           "--process_id=0..N-1 on every process, or --num_processes=1 to run "
           "this process alone.")
  return f"cannot start the multi-process run: {error} {fix}"


def check_same_config(config: dict[str, Any]) -> None:
  """Raises ConfigError on every process unless all run the same config.

  Data paths may differ between machines; everything else must match, or the
  processes would step out of lockstep and wait on each other.
  """
  fields = copy.deepcopy(config)
  for path_field in DATA_PATH_FIELDS:
    fields.get("data", {}).pop(path_field, None)
  text = json.dumps(fields, sort_keys=True, default=str)
  digest = np.int32(zlib.crc32(text.encode()) & 0x7FFFFFFF)
  digests = np.asarray(multihost_utils.process_allgather(digest)).reshape(-1)
  differ = [i for i, d in enumerate(digests) if d != digests[0]]
  if differ:
    raise errors.ConfigError(
        f"process(es) {differ} run a different config from process 0 "
        f"(this is process {jax.process_index()}). Start every process with "
        "the same --config and --config.* flags (only data paths may "
        "differ).")


@contextlib.contextmanager
def collective_errors() -> Iterator[None]:
  """Turns a failed cross-process collective into a DistributedError."""
  try:
    yield
  except jax.errors.JaxRuntimeError as e:
    if not jax.distributed.is_initialized():
      raise
    first = str(e).strip().splitlines()[0]
    raise errors.DistributedError(
        f"process {jax.process_index()} of {jax.process_count()}: a step "
        f"across the processes failed ({first[:300]}). Another process most "
        "likely stopped: see its log for the first error.") from e


def exit_now(status: int) -> None:
  """Multi-process: ends this process now, skipping JAX's exit barrier.

  The barrier would wait for processes that wait for this one; without it
  they see this one gone within `config.distributed.heartbeat_timeout_s`.
  Process 0 hosts the coordination service, whose end stops the others at
  once: it lingers a moment so that those failing on the same error (a
  config mismatch) report it first. Does nothing in a single-process run.
  """
  if jax.distributed.is_initialized():
    sys.stdout.flush()
    sys.stderr.flush()
    if jax.process_index() == 0:
      time.sleep(_COORDINATOR_LINGER_S)
    os._exit(status)  # pylint: disable=protected-access


@contextlib.contextmanager
def deadline(seconds: float, message: Callable[[], str]) -> Iterator[None]:
  """Exits the process (status 2, `error: message()`) if the body outlasts
  `seconds`. A thread watches, so it works while JAX blocks in C++."""
  done = threading.Event()

  def watch():
    if not done.wait(seconds):
      try:
        text = message()
      except Exception as e:  # pylint: disable=broad-except
        text = f"timed out after {seconds} s ({type(e).__name__}: {e})"
      sys.stderr.write(f"error: {text}\n")
      sys.stderr.flush()
      os._exit(2)  # pylint: disable=protected-access

  threading.Thread(target=watch, name="zoo-deadline", daemon=True).start()
  try:
    yield
  finally:
    done.set()


def _join_failure(timeout: float, address: Optional[str], num: Optional[int],
                  pid: Optional[int]) -> str:
  """Why joining failed, as far as this process can tell, and the fix."""
  field = f"config.distributed.initialization_timeout_s={timeout}"
  if pid is None or num is None or address is None:  # JAX auto-detected.
    return (f"the processes of the cluster JAX detected did not all join "
            f"within {field} s. Start them all, or give --coordinator_address, "
            "--num_processes and --process_id, or raise "
            "--config.distributed.initialization_timeout_s.")
  fix = (f"Start all {num} processes with the same --coordinator_address "
         f"and --num_processes and --process_id=0..{num - 1}, or raise "
         "--config.distributed.initialization_timeout_s.")
  if pid == 0:
    return (f"process 0 of {num} waited {field} s at --coordinator_address="
            f"{address} but not every process joined. {fix}")
  reach = _probe(address)
  return (f"process {pid} of {num} could not join the run at "
          f"--coordinator_address={address} within {field} s: {reach}. "
          f"Check that process 0 runs there and that this machine can reach "
          f"it. {fix}")


def _probe(address: str) -> str:
  """One TCP connection attempt to the coordinator, described in words."""
  host, port = _split_address(address)
  try:
    with socket.create_connection((host, port), timeout=2):
      return "the coordinator answers, but not every process has joined"
  except OSError as e:
    return f"nothing answers there ({e.strerror or e})"
