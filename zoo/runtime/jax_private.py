"""The only two places the zoo reads JAX's private modules (`jax._src`).

JAX 0.10.2 has no public way to ask either question below: `jax.extend.
backend.backends()` and `jax.devices()` create the backends they would report
on, and `jax.distributed.initialize` runs cluster auto-detection only as part
of joining. Each function reads the private API in one place and, if a JAX
release moves it, answers the safe default instead of failing at import.
"""


def backends_initialised() -> bool:
  """Whether JAX has created its backends (device clients).

  Reads `jax._src.xla_bridge.backends_are_initialized`, the private function
  `jax.distributed.initialize` itself uses for this check. If JAX moves it,
  answers False: `xla_flags.apply` then sets its flags even when too late, and
  a backend that already exists ignores them (the run is slower, not wrong).
  """
  try:
    from jax._src import xla_bridge  # pylint: disable=g-import-not-at-top
    return bool(xla_bridge.backends_are_initialized())
  except (ImportError, AttributeError):
    return False


def cluster_detected() -> bool:
  """Whether JAX's cluster auto-detection recognises this environment.

  Mirrors `jax._src.clusters.ClusterEnv.auto_detect_unset_distributed_params`
  with no `cluster_detection_method`: some registered cluster type that is
  not opt-in (Slurm, Open MPI, Cloud TPU, Kubernetes) finds its environment.
  If JAX moves the private registry, answers False: a run then counts as
  multi-process only when `--coordinator_address`, `--num_processes` or
  `--process_id` is given.
  """
  try:
    from jax._src import clusters  # pylint: disable=g-import-not-at-top
    cluster_types = clusters.ClusterEnv._cluster_types  # pylint: disable=protected-access
  except (ImportError, AttributeError):
    return False
  return any(not getattr(env, "opt_in_only_method", False)
             and env.is_env_present() for env in cluster_types)
