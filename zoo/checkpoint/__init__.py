"""Checkpoints: the store (atomic, verified orbax checkpoints of the train
state), the hook that resumes and saves a run, and the decisions every
process of a multi-process run shares."""

from zoo.checkpoint.store import (CORRUPT_SUBDIR, FORMAT, SUBDIR,
                                  CheckpointError, Checkpointer, Restored,
                                  checkpoint_dir, checksum, flatten_state,
                                  host_copy, shape_mismatches,
                                  unflatten_state)

__all__ = ["CORRUPT_SUBDIR", "FORMAT", "SUBDIR", "CheckpointError",
           "Checkpointer", "Restored", "checkpoint_dir", "checksum",
           "flatten_state", "host_copy", "shape_mismatches",
           "unflatten_state"]
