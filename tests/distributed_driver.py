r"""One process of a small multi-process (or single-process) training run.

tests/test_distributed.py starts it as a subprocess:

  python tests/distributed_driver.py --workdir=W \
      [--coordinator_address=H:P --num_processes=N --process_id=i] \
      [--die_after_step=K --heartbeat_timeout_s=S] [--ensemble_size=K]

It trains a small dropout MLP on `digits` through `zoo.experiment.train_and_evaluate` and, on
process 0, writes `W/results.json` and `W/final.npz` (the final params, keyed
by their path, and the test predictions). With `--die_after_step=K` the last
process kills itself after step K, as a crashed machine would.
"""

import argparse
import os

import jax
import numpy as np

from configs import default
from zoo import experiment
from zoo.runtime import distributed
from zoo.train import hooks as hooks_lib


def small_config():
  """digits, a 64-unit MLP with dropout, 2 epochs of global batch 64."""
  config = default.get_config()
  config.data.name = "digits"
  config.data.allow_fallback = False
  config.model.mlp.hidden_sizes = (64,)
  config.model.mlp.dropout_rate = 0.2  # Per-device dropout keys matter.
  config.train.num_epochs = 2
  config.train.batch_size = 64
  config.train.eval_batch_size = 100  # 360 test examples: last batch padded.
  config.train.log_every_steps = 10
  config.optimizer.learning_rate = 1e-2
  config.report.progress_bar = False
  config.distributed.initialization_timeout_s = 60
  return config


class SaveFinal(hooks_lib.Hook):
  """Process 0 saves the final params and test predictions to final.npz."""

  def __init__(self, workdir: str):
    self.workdir = workdir

  def on_train_end(self, progress, test):
    if jax.process_index() != 0:
      return
    params = jax.device_get(jax.tree.map(lambda x: x[0],
                                         progress.state.params))
    flat = {jax.tree_util.keystr(path): np.asarray(leaf) for path, leaf
            in jax.tree_util.tree_flatten_with_path(params)[0]}
    np.savez(os.path.join(self.workdir, "final.npz"),
             predictions=test["predictions"], **flat)


class DieAfterStep(hooks_lib.Hook):
  """The last process exits abruptly after the chunk holding step `step`."""

  def __init__(self, step: int):
    self.step = step

  def on_chunk_end(self, progress, chunk):
    if (chunk.first_step < self.step <= chunk.last_step
        and jax.process_index() == jax.process_count() - 1):
      os._exit(3)  # pylint: disable=protected-access


def main():
  parser = argparse.ArgumentParser()
  parser.add_argument("--workdir", required=True)
  parser.add_argument("--coordinator_address")
  parser.add_argument("--num_processes", type=int)
  parser.add_argument("--process_id", type=int)
  parser.add_argument("--die_after_step", type=int)
  parser.add_argument("--heartbeat_timeout_s", type=int, default=30)
  parser.add_argument("--ensemble_size", type=int, default=1)
  args = parser.parse_args()
  config = small_config()
  config.ensemble.size = args.ensemble_size
  config.distributed.heartbeat_timeout_s = args.heartbeat_timeout_s
  cluster = distributed.Cluster(args.coordinator_address, args.num_processes,
                                args.process_id)
  hooks = [SaveFinal(args.workdir)]
  if args.die_after_step:
    hooks.append(DieAfterStep(args.die_after_step))
  experiment.train_and_evaluate(config, args.workdir, extra_hooks=hooks,
                                cluster=cluster)


if __name__ == "__main__":
  main()
