"""Checkpoint decisions that every process of a multi-process run must share.

Process 0 alone reads and writes checkpoints (other machines need not see its
disk); what it restores is broadcast to the others. A stop signal may reach
the processes at different steps, so they agree on it at common steps before
stopping. With one process these are plain local calls.
"""

from typing import Callable, Optional

import jax
from jax.experimental import multihost_utils
import numpy as np

from zoo import checkpoint
from zoo import errors
from zoo.runtime import files
from zoo.train.state import TrainState

_NONE, _FAILED = -1, -2  # Status codes broadcast by process 0.


def share_restored(
    restore: Callable[[], Optional[checkpoint.Restored]], fresh: TrainState,
    where: str) -> Optional[checkpoint.Restored]:
  """`restore()` on process 0, its result broadcast to every process.

  `fresh` (unreplicated) gives the other processes the arrays' structure; their
  copy of the result has an empty `meta`. An error on process 0 is raised
  there and, as a CheckpointError pointing to it, on the others.
  """
  if jax.process_count() == 1:
    return restore()
  restored, error = None, None
  if files.is_writer():
    try:
      restored = restore()
    except errors.ZooError as e:
      error = e
  status = _FAILED if error else (_NONE if restored is None else restored.step)
  status = int(multihost_utils.broadcast_one_to_all(np.int32(status)))
  if error is not None:
    raise error
  if status == _FAILED:
    raise checkpoint.CheckpointError(
        f"process 0 could not resume from {where}: see its error.")
  if status == _NONE:
    return None
  template = restored.state if restored is not None else fresh
  flat = multihost_utils.broadcast_one_to_all(
      checkpoint.flatten_state(template))
  flat = {k: np.asarray(v) for k, v in flat.items()}
  if restored is not None:
    return restored
  return checkpoint.Restored(status, checkpoint.unflatten_state(flat, fresh),
                             {}, where)


def agreed_stop(local_signum: Optional[int]) -> Optional[int]:
  """The stop signal all processes act on now, or None.

  Single-process: `local_signum`. Multi-process: the first signal any
  process received; every process must call it at the same point (a chunk
  end), so that all stop together and none alone.
  """
  if jax.process_count() == 1:
    return local_signum
  gathered = multihost_utils.process_allgather(np.int32(local_signum or 0))
  received = [int(s) for s in np.ravel(gathered) if s]
  return received[0] if received else None
