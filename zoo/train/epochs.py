"""One epoch of training, two ways: a pmapped step per call, or chunks.

Both take the same batches in the same order (the epoch's permutation from
`data.batching.device_epoch_permutation`), call every hook's `after_step`
once per step, and start at any batch of the epoch (for resuming).
"""

import collections
import time
from typing import Any, Sequence

import jax

from zoo import data
from zoo.runtime import parallel
from zoo.train import hooks as hooks_lib


def per_step_epoch(run: Any, hooks: Sequence[hooks_lib.Hook],
                   start: int) -> None:
  """Batches `start ..` of `run.epoch`, one pmapped step per call.

  The host sends each batch (this process's rows) and calls the hooks once
  the step is dispatched; at most `max_steps_in_flight` steps are queued.
  """
  s, cfg = run.setup, run.config.train
  n = len(parallel.local_devices(s.devices))
  rows = parallel.process_rows(cfg.batch_size, s.devices)  # This process's.
  in_flight = collections.deque()
  limit = parallel.max_steps_in_flight(s.devices)
  for batch in data.train_batches(s.dataset.train, cfg.batch_size,
                                  run.config.seed, run.epoch,
                                  start_step=start, rows=rows):
    run.state, run.metrics = s.p_train_step(run.state,
                                            parallel.shard(batch, n))
    run.step += 1
    run.state_step, run.step_time = run.step, time.perf_counter()
    in_flight.append(run.metrics)
    if len(in_flight) > limit:  # Bound the steps queued on the devices.
      jax.block_until_ready(in_flight.popleft())
    for hook in hooks:
      hook.after_step(run, run.step)


def chunked_epoch(run: Any, hooks: Sequence[hooks_lib.Hook],
                  start: int) -> None:
  """Batches `start ..` of `run.epoch`, `runner.steps_per_call` per call.

  After each chunk the host fetches its metrics once (`[devices, steps]`)
  and calls the hooks for each of its steps, with `run.state` (and
  `run.state_step`) at the chunk's end and `run.step_time` spread evenly
  over the chunk's wall time (so rates computed by hooks stay right). One chunk is in flight at a time,
  which also keeps multi-device CPU collectives from piling up.
  """
  runner = run.setup.chunk_runner
  order = runner.epoch_order(run.epoch)
  for size in runner.chunk_sizes(start):
    t0 = time.perf_counter()
    run.state, metrics = runner.run(run.state, order, start, size)
    host = jax.device_get(metrics)  # The chunk's only fetch.
    seconds = time.perf_counter() - t0
    start += size
    run.state_step = run.step + size
    for i in range(size):
      run.step += 1
      run.metrics = {k: v[:, i] for k, v in host.items()}
      run.step_time = t0 + seconds * (i + 1) / size  # Spread evenly.
      for hook in hooks:
        hook.after_step(run, run.step)
