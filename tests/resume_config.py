"""The config of the resume tests; also a config file for launch.py.

    python launch.py --config=tests/resume_config.py --workdir=...

A small MLP with dropout (so the per-step keys matter) on the bundled digits:
3 epochs of 20 steps, a checkpoint every 10 steps and at the end. The model
comes from a user module (tests/slow_model.py), so loading it re-imports
that file.
"""

import pathlib

import ml_collections

from configs import default

SLOW_MODEL = pathlib.Path(__file__).resolve().with_name("slow_model.py")


def get_config() -> ml_collections.ConfigDict:
  config = default.get_config()
  config.data.name = "digits"
  config.data.allow_fallback = False
  config.model.name = "slow_mlp"
  config.model.module = str(SLOW_MODEL)
  config.model.slow_mlp = ml_collections.ConfigDict(
      dict(hidden_sizes=(32, 32), dropout_rate=0.1))
  config.train.num_epochs = 3
  config.train.batch_size = 64
  config.train.eval_batch_size = 100
  config.train.log_every_steps = 10
  # One step per call: stops land on exact steps. (tests/test_fast_path.py
  # resumes the chunked path against this same reference.)
  config.train.steps_per_call = 1
  config.optimizer.learning_rate = 3e-3
  config.checkpoint.every_steps = 10
  config.checkpoint.every_epochs = 0
  config.checkpoint.min_interval_s = 0.0  # Checkpoints at known steps.
  config.checkpoint.keep = 3
  return config
