"""Checkpoints of the train state: atomic, verified, device-count agnostic.

`WORKDIR/checkpoints/<step>/` is written by orbax-checkpoint into
`<step>.orbax-checkpoint-tmp` and renamed when whole, so a checkpoint is
complete or absent: a crash mid-save leaves only the temporary directory,
which is never read (and is removed by the next writer). Each holds

  state  the UNREPLICATED TrainState as a flat dict of host arrays, keyed by
         readable paths ('params.mlp/~/linear_0.w', 'opt_state.0.mu...',
         'step', 'rng'); the typed PRNG key is stored as its key data. Having
         no device axis, it restores onto any number of devices. Every leaf
         but `step` has the leading member axis [K, ...] (format 2; format 1
         checkpoints of a single run lack it, and `restore` adds it).
  meta   JSON: the step, the config, dataset facts and a sha256 of `state`,
         checked on restore so that a damaged checkpoint is never used.
"""

import contextlib
import dataclasses
import hashlib
import logging as std_logging
import os
import time
from typing import Any, Callable, Iterator, Optional, TYPE_CHECKING

from absl import logging
import jax
import numpy as np
import orbax.checkpoint as ocp

from zoo import errors

if TYPE_CHECKING:  # zoo.train imports this module: no cycle at run time.
  from zoo.train.state import TrainState

SUBDIR = "checkpoints"
CORRUPT_SUBDIR = "corrupt_checkpoints"
# Bumped when the layout of `state` or `meta` changes. 2: a single run's
# state has the member axis too (K = 1).
FORMAT = 2

Flat = dict[str, np.ndarray]


class CheckpointError(errors.ZooError):
  """A checkpoint is missing, unreadable or damaged."""


@dataclasses.dataclass
class Restored:
  """A checkpoint read back: `state` is unreplicated, on the host."""
  step: int
  state: "TrainState"
  meta: dict[str, Any]
  path: str


def checkpoint_dir(workdir: str) -> str:
  return os.path.join(os.path.abspath(workdir), SUBDIR)


def _key_name(entry: Any) -> str:
  for attr in ("key", "name", "idx"):
    if hasattr(entry, attr):
      return str(getattr(entry, attr))
  return str(entry)


def flatten_state(state: "TrainState") -> Flat:
  """`{path: host array}` of an unreplicated state (rng as its key data)."""
  state = state._replace(rng=jax.random.key_data(state.rng))
  leaves, _ = jax.tree_util.tree_flatten_with_path(jax.device_get(state))
  flat = {}
  for path, leaf in leaves:
    name = ".".join(_key_name(e) for e in path)
    if name in flat:
      raise CheckpointError(f"Two train-state leaves share the path {name!r}.")
    flat[name] = np.asarray(leaf)
  return flat


def host_copy(replicated: "TrainState") -> "TrainState":
  """Device 0's copy of a replicated state, as host arrays.

  Read from each leaf's first shard: nothing is computed on the devices, and
  only one copy crosses to the host.
  """
  def first(x):
    return np.asarray(x.addressable_shards[0].data)[0]
  rng = replicated.rng
  state = jax.tree.map(first, replicated._replace(rng=jax.random.key_data(rng)))
  return state._replace(rng=jax.random.wrap_key_data(
      state.rng, impl=jax.random.key_impl(rng)))


def unflatten_state(flat: Flat, like: "TrainState") -> "TrainState":
  """The inverse of `flatten_state`, shaped like the fresh state `like`."""
  ref = like._replace(rng=jax.random.key_data(like.rng))
  names = list(flatten_state(like))
  treedef = jax.tree.structure(ref)
  state = jax.tree.unflatten(treedef, [flat[n] for n in names])
  rng = jax.random.wrap_key_data(
      np.asarray(state.rng), impl=jax.random.key_impl(like.rng))
  return state._replace(rng=rng)


def checksum(flat: Flat) -> str:
  """sha256 over every path, dtype, shape and byte of `flat`."""
  h = hashlib.sha256()
  for name in sorted(flat):
    a = np.ascontiguousarray(flat[name])
    h.update(f"{name}|{a.dtype.str}|{a.shape}|".encode())
    h.update(a.tobytes())
  return h.hexdigest()


def shape_mismatches(saved: dict[str, Any], fresh: Flat) -> list[str]:
  """Readable differences between saved array metadata and a fresh state."""
  out = []
  params_first = lambda n: (not n.startswith("params."), n)  # noqa: E731
  for name in sorted(set(saved) | set(fresh), key=params_first):
    if name not in fresh:
      out.append(f"{name}: in the checkpoint, not in the model now built")
    elif name not in saved:
      out.append(f"{name}: in the model now built, not in the checkpoint")
    else:
      s, f = saved[name], fresh[name]
      if tuple(s.shape) != f.shape or np.dtype(s.dtype) != f.dtype:
        out.append(f"{name}: checkpoint {tuple(s.shape)} {np.dtype(s.dtype)}"
                   f", now {f.shape} {f.dtype}")
  return out


def _without_member_axis(state: "TrainState") -> "TrainState":
  """Member 0 of a one-member state, as format 1 stored a single run."""
  return state._replace(**{f: jax.tree.map(lambda x: x[0], getattr(state, f))
                           for f in state._fields if f != "step"})


def _with_member_axis(state: "TrainState") -> "TrainState":
  """`state` of one run with the leading member axis of size 1."""
  return state._replace(**{f: jax.tree.map(lambda x: x[None],
                                           getattr(state, f))
                           for f in state._fields if f != "step"})


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
  """orbax logs dozens of lines per save; keep the run's log readable."""
  logger = std_logging.getLogger("absl")
  level = logger.level
  logger.setLevel(max(level, std_logging.ERROR))  # Our own messages explain.
  try:
    yield
  finally:
    logger.setLevel(level)


class Checkpointer:
  """The checkpoints of one workdir: save, list, and restore with checks."""

  def __init__(self, workdir: str, keep: Optional[int] = None,
               read_only: bool = False):
    self.workdir = os.path.abspath(workdir)
    self.directory = checkpoint_dir(workdir)
    self.keep, self.read_only = keep, read_only
    self._manager = None

  @property
  def manager(self) -> ocp.CheckpointManager:
    if self._manager is None:
      if not self.read_only:
        os.makedirs(self.directory, exist_ok=True)
      me = jax.process_index()  # Multi-process: only process 0 uses this.
      local = ocp.options.MultiprocessingOptions(primary_host=me,
                                                 active_processes={me})
      with _quiet():
        options = ocp.CheckpointManagerOptions(
            max_to_keep=self.keep, create=False, read_only=self.read_only,
            enable_async_checkpointing=False,
            cleanup_tmp_directories=not self.read_only,
            multiprocessing_options=(
                local if jax.process_count() > 1
                else ocp.options.MultiprocessingOptions()))
        handlers = {"state": ocp.StandardCheckpointHandler(),
                    "meta": ocp.JsonCheckpointHandler()}
        self._manager = ocp.CheckpointManager(
            self.directory, options=options, item_handlers=handlers)
    return self._manager

  def steps(self) -> list[int]:
    """Steps of the whole checkpoints on disk, oldest first."""
    if not os.path.isdir(self.directory):
      return []
    return sorted(self.manager.all_steps())

  def path(self, step: int) -> str:
    return os.path.join(self.directory, str(step))

  def save(self, step: int, flat: Flat, meta: dict[str, Any]) -> str:
    """Writes `flat` (`flatten_state` of the unreplicated state) and `meta`
    atomically; returns the checkpoint's path."""
    if step in self.steps():  # Already whole on disk (e.g. just resumed).
      return self.path(step)
    meta = dict(meta, format=FORMAT, step=step, checksum=checksum(flat))
    with _quiet():
      self.manager.save(step, args=ocp.args.Composite(
          state=ocp.args.StandardSave(flat), meta=ocp.args.JsonSave(meta)),
                        force=True)
      self.manager.wait_until_finished()
    return self.path(step)

  def read_meta(self, step: int) -> dict[str, Any]:
    with _quiet():
      meta = self.manager.restore(step, args=ocp.args.Composite(
          meta=ocp.args.JsonRestore()))["meta"]
    if not isinstance(meta, dict) or meta.get("step") != step:
      raise ValueError(f"its meta does not name step {step}")
    return meta

  def _unreadable(self, step: int, e: Exception) -> CheckpointError:
    return CheckpointError(f"{self.path(step)} is unreadable: "
                           f"{type(e).__name__}: {str(e)[:300]}")

  def restore(self, step: int, like: "TrainState",
              meta: Optional[dict[str, Any]] = None) -> Restored:
    """Reads the checkpoint at `step` into the structure of `like`.

    Raises errors.ConfigError if its arrays differ from `like`'s, and
    CheckpointError if it is damaged.
    """
    try:
      meta = meta if meta is not None else self.read_meta(step)
    except Exception as e:  # pylint: disable=broad-except
      raise self._unreadable(step, e) from e
    single_run_v1 = meta.get("format", 1) < 2 and like.rng.shape[0] == 1
    if single_run_v1:  # Saved before a single run had the member axis.
      like = _without_member_axis(like)
    fresh = flatten_state(like)
    try:
      with _quiet():
        saved = self.manager.item_metadata(step)["state"]
      diffs = shape_mismatches(dict(saved), fresh)
    except Exception as e:  # pylint: disable=broad-except
      raise self._unreadable(step, e) from e
    if diffs:
      raise errors.ConfigError(
          f"The checkpoint {self.path(step)} holds arrays other than those of "
          f"the model this config builds ({len(diffs)} differ): "
          f"{'; '.join(diffs[:6])}{' ...' if len(diffs) > 6 else ''}. Use the "
          f"config it was trained with "
          f"({os.path.join(self.workdir, 'config.json')}) or another "
          "--workdir.")
    try:
      with _quiet():
        flat = self.manager.restore(step, args=ocp.args.Composite(
            state=ocp.args.StandardRestore(fresh)))["state"]
      flat = {k: np.asarray(v) for k, v in flat.items()}
    except Exception as e:  # pylint: disable=broad-except
      raise self._unreadable(step, e) from e
    if checksum(flat) != meta.get("checksum"):
      raise CheckpointError(f"{self.path(step)} is damaged: its arrays do "
                            "not match the checksum written with them.")
    state = unflatten_state(flat, like)
    if single_run_v1:
      state = _with_member_axis(state)
    return Restored(step, state, meta, self.path(step))

  def restore_latest(
      self, make_like: Callable[[dict[str, Any]], "TrainState"],
  ) -> Optional[Restored]:
    """The newest checkpoint that reads back whole, or None if there is none.

    `make_like(meta)` returns the fresh state to restore into; it may raise
    (e.g. ConfigError when the checkpoint's config does not fit the run).
    Damaged checkpoints are skipped with a warning and, unless read-only,
    moved to WORKDIR/corrupt_checkpoints so that no later run trips on them.
    If every checkpoint is damaged, nothing is moved and CheckpointError
    says so.
    """
    problems, damaged = [], []
    for step in reversed(self.steps()):
      try:
        try:
          meta = self.read_meta(step)
        except Exception as e:  # pylint: disable=broad-except
          raise self._unreadable(step, e) from e
        restored = self.restore(step, make_like(meta), meta)
      except CheckpointError as e:
        problems.append(str(e))
        damaged.append(step)
        logging.warning("Skipping a damaged checkpoint: %s", e)
        continue
      if damaged and not self.read_only:
        for path in self.quarantine(damaged):
          logging.warning("Moved the damaged checkpoint to %s", path)
      return restored
    if problems:
      raise CheckpointError(
          f"No readable checkpoint in {self.directory}: "
          f"{' | '.join(problems)}. Move that folder away (or use another "
          "--workdir) to start over.")
    return None

  def quarantine(self, steps: list[int]) -> list[str]:
    """Moves the checkpoints at `steps` to WORKDIR/corrupt_checkpoints."""
    moved = []
    for step in steps:
      target = os.path.join(self.workdir, CORRUPT_SUBDIR,
                            f"{step}-{time.strftime('%Y%m%d-%H%M%S')}")
      os.makedirs(os.path.dirname(target), exist_ok=True)
      os.replace(self.path(step), target)
      moved.append(target)
    if moved and self._manager is not None:
      self._manager.close()
      self._manager = None
    return moved

  def close(self) -> None:
    if self._manager is not None:
      with _quiet():
        self._manager.close()
      self._manager = None
