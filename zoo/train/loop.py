"""The training run: data -> model -> pmapped epochs -> test eval -> results.

`run(config, workdir)` is what `launch.py` calls; it returns the results dict
that it also writes to `workdir/results.json`.
"""

import collections
import dataclasses
import json
import os
import time
from typing import Any, Callable, Optional, Sequence

from absl import logging
import haiku as hk
import jax
import ml_collections
import numpy as np

from zoo.runtime import compile_cache
from zoo.config import validation
from zoo import data
from zoo import errors
from zoo.models import registry
from zoo.train import optim
from zoo.runtime import parallel
from zoo.models import registry
from zoo import report
from zoo.models import user_modules
from zoo.data import splits
from zoo.checkpoint import hook as checkpoint_hook
from zoo.train import chunks
from zoo.train import epochs
from zoo.train import hooks as hooks_lib
from zoo.train import signals
from zoo.train import step as step_lib
from zoo.train.state import TrainState, init_state, num_params


@dataclasses.dataclass
class Setup:
  """Everything a run builds before its first step."""
  dataset: data.Dataset
  forward: hk.TransformedWithState
  devices: Sequence[jax.Device]  # Of every process (parallel.global_devices).
  state: TrainState  # Replicated on this process's devices (leading axis).
  p_train_step: Callable[..., Any]
  p_eval_step: Callable[..., Any]
  steps_per_epoch: int
  # The fast path (train.steps_per_call > 1): chunks of steps per call on
  # device-resident data; None runs one pmapped step per call.
  chunk_runner: Optional[chunks.ChunkRunner] = None


def setup(config: ml_collections.ConfigDict,
          dataset: Optional[data.Dataset] = None) -> Setup:
  """Validates the config, loads data, builds and replicates the state.

  `dataset`: train on this instead of `data.load(config.data, ...)` (e.g.
  synthetic data in benchmarks/throughput.py).
  """
  validation.validate(config)
  compile_cache.enable(config.train.compilation_cache_dir)
  user_modules.import_user_modules(config.model.module)
  registry.get_model(config.model.name)  # Unknown name: fail before data.
  devices = parallel.global_devices()
  if not config.train.full_batch:
    parallel.check_divisible(config.train.batch_size, len(devices))
  if dataset is None:
    dataset = data.load(config.data, config.seed)
  if dataset.validation is None:  # Sources may carve their own.
    dataset = splits.with_validation(
        dataset, config.data.validation_fraction, config.seed)
  if config.train.full_batch:
    _use_full_batch(config, len(dataset.train), len(devices))
  if len(dataset.train) < config.train.batch_size:
    raise errors.ConfigError(
        f"config.train.batch_size={config.train.batch_size} is larger than "
        f"the training set ({len(dataset.train)} examples of "
        f"{dataset.name}). Use a smaller batch, or "
        "--config.train.full_batch=True.")
  steps_per_epoch = len(dataset.train) // config.train.batch_size
  forward = registry.build_forward(config.model.name, dataset.num_classes,
                                   registry.hyperparameters(config.model))
  optimizer = optim.make_optimizer(config.optimizer,
                                   steps_per_epoch * config.train.num_epochs)
  state = _init(forward, optimizer, dataset, config)
  kwargs = dict(input_shape=dataset.input_shape,
                num_classes=dataset.num_classes)
  train_step = step_lib.make_train_step(forward, optimizer, **kwargs)
  p_train_step = jax.pmap(train_step, axis_name=parallel.AXIS,
                          devices=devices, donate_argnums=(0,))
  p_eval_step = jax.pmap(step_lib.make_eval_step(forward, **kwargs),
                         axis_name=parallel.AXIS, devices=devices)
  runner = None
  if config.train.steps_per_call > 1:
    has_conv = chunks.has_convolution(forward, state.params, state.model_state,
                                      dataset.input_shape)
    unroll = chunks.choose_unroll(config.train.scan_unroll, has_conv,
                                  devices[0].platform)
    runner = chunks.ChunkRunner(train_step, dataset.train, devices,
                                config.train.batch_size, config.seed, unroll,
                                steps_per_epoch, config.train.steps_per_call)
  return Setup(dataset, forward, devices, parallel.replicate(state, devices),
               p_train_step, p_eval_step, steps_per_epoch, runner)


def _use_full_batch(config: ml_collections.ConfigDict, num_train: int,
                    num_devices: int) -> None:
  """Sets train.batch_size to the largest multiple of the device count not
  above the training-set size (results.json then records the batch used)."""
  if num_train < num_devices:
    raise errors.ConfigError(
        f"config.train.full_batch=True needs at least one training example "
        f"per device: {num_train} examples, {num_devices} devices.")
  config.train.batch_size = num_train // num_devices * num_devices


def _init(forward, optimizer, dataset, config) -> TrainState:
  try:
    return init_state(forward, optimizer, dataset.input_shape, config.seed)
  except errors.ZooError:
    raise
  except Exception as e:  # A model that cannot take this input shape.
    raise errors.ConfigError(
        f"Model {config.model.name!r} failed to build for inputs of shape "
        f"{dataset.input_shape} ({dataset.name}): {type(e).__name__}: {e}"
    ) from e


@dataclasses.dataclass
class RunContext:
  """What hooks see: the setup, the config and the loop's current position."""
  setup: Setup
  config: ml_collections.ConfigDict
  state: TrainState  # Replicated, on the devices.
  total_steps: int
  num_epochs: int
  epoch: int = 0
  step: int = 0
  # The step `state` is at. The per-step path keeps it equal to `step`; the
  # chunked path calls `after_step` for every step of a chunk once the chunk
  # is done, with `state` already at the chunk's end (`state_step`), so
  # whatever saves or evaluates `state` waits for `step == state_step`.
  state_step: int = 0
  # The step's metrics, leaves `[devices]`: device arrays (per-step path) or
  # host arrays (chunked path). `jax.device_get` reads either.
  metrics: Any = None
  # time.perf_counter() when the step was dispatched (per-step path) or its
  # share of its chunk's wall time ended (chunked path): for rates.
  step_time: float = 0.0
  test: Any = None  # `evaluate` on the test split, set before on_train_end.


def train(s: Setup, config: ml_collections.ConfigDict,
          hooks: Sequence[hooks_lib.Hook] = ()) -> RunContext:
  """Runs every epoch, calling `hooks` around the steps.

  Starts at `s.state.step` (> 0 after a resume): epoch = step //
  steps_per_epoch, at batch step % steps_per_epoch of that epoch. One
  pmapped step per call, or with `s.chunk_runner` (steps_per_call > 1)
  chunks of steps that never cross an epoch's end (zoo/train/epochs.py).
  """
  cfg = config.train
  start = int(jax.device_get(s.state.step)[0])  # Replicated: [devices].
  run = RunContext(setup=s, config=config, state=s.state,
                   total_steps=s.steps_per_epoch * cfg.num_epochs,
                   num_epochs=cfg.num_epochs, step=start, state_step=start)
  for hook in hooks:
    hook.on_train_start(run)
  run_epoch = (epochs.per_step_epoch if s.chunk_runner is None
               else epochs.chunked_epoch)
  first_epoch, first_batch = divmod(start, s.steps_per_epoch)
  for epoch in range(first_epoch, cfg.num_epochs):
    run.epoch = epoch
    run_epoch(run, hooks, first_batch if epoch == first_epoch else 0)
    for hook in hooks:
      hook.on_epoch_end(run, epoch)
  return run


def evaluate(s: Setup, state: TrainState, split: data.Split,
             eval_batch_size: int) -> dict[str, Any]:
  """Loss and accuracy over every example of `split`, each counted once.

  Each process evaluates its rows of every padded global batch; the sums are
  psummed over all devices and the predictions `[len(split)]` gathered.
  """
  n = len(s.devices)
  per_device = -(-min(eval_batch_size, len(split)) // n)  # Ceil division.
  rows = parallel.process_rows(per_device * n, s.devices)
  local = len(parallel.local_devices(s.devices))
  loss_sum = correct = count = 0.0
  predictions = []
  for batch in data.eval_batches(split, per_device * n, rows=rows):
    # Fetching the sums waits for this batch: one step in flight at a time.
    sums, preds = s.p_eval_step(state, parallel.shard(batch, local))
    sums = jax.device_get(sums)
    loss_sum += float(sums["loss_sum"][0])
    correct += float(sums["correct"][0])
    count += float(sums["count"][0])
    predictions.append(np.asarray(preds).reshape(-1))  # Padded local rows.
  if int(count) != len(split):
    raise AssertionError(f"Evaluated {count} examples, expected {len(split)}")
  # In order, padding last: [batches, global batch] -> the real examples.
  predictions = parallel.gather_rows(np.stack(predictions)).reshape(-1)
  return {"loss": loss_sum / count, "accuracy": correct / count,
          "count": int(count), "predictions": predictions[:len(split)]}


def run(config: ml_collections.ConfigDict, workdir: str,
        extra_hooks: Sequence[hooks_lib.Hook] = ()) -> dict[str, Any]:
  """Trains (resuming from workdir's latest checkpoint), evaluates on the
  test split and writes workdir/results.json.

  `extra_hooks` run after the built-in ones, before the checkpoints (see
  zoo/train/hooks.py).
  """
  t_start = time.perf_counter()
  s = setup(config)
  ds = s.dataset
  if ds.preprocessing is not None and report.is_writer():  # Fitted on train.
    write_json(os.path.join(workdir, "preprocessing.json"), ds.preprocessing)
  num_val = len(ds.validation) if ds.validation is not None else 0
  logging.info("Model %s (%s parameters) on %s: %d train / %d validation / "
               "%d test examples of shape %s, %d classes; %d %s device(s).",
               config.model.name,
               f"{num_params(parallel.unreplicate(s.state.params)):,}",
               ds.name, len(ds.train), num_val, len(ds.test), ds.input_shape,
               ds.num_classes, len(s.devices), s.devices[0].platform)
  eval_batch = config.train.eval_batch_size
  guard = signals.NonFiniteGuard()
  ckpt = checkpoint_hook.CheckpointHook(workdir, config, guard)
  s.state = ckpt.resume(s)
  first_step = hooks_lib.FirstStepTimer(t_start)
  hooks = [first_step, guard, *report.build_hooks(
      config, workdir, s.steps_per_epoch,
      lambda ctx, split: evaluate(s, ctx.state, split, eval_batch)),
           *extra_hooks, ckpt]  # Checkpoints last: after every other hook.
  t0 = time.perf_counter()
  with signals.stop_on_signals():
    ctx = train(s, config, hooks)
  ckpt.close()
  state = jax.block_until_ready(ctx.state)
  train_seconds = time.perf_counter() - t0
  test = evaluate(s, state, ds.test, config.train.eval_batch_size)
  results = make_results(config, s, state, test, train_seconds)
  # From the start of run(): data, init and compilation included.
  results["seconds_to_first_step"] = round(first_step.seconds or 0.0, 3)
  ctx.test = test
  for hook in hooks:  # Hooks may add fields (e.g. the best validation epoch).
    hook.on_train_end(ctx, results)
  if report.is_writer():  # Multi-host: only process 0 writes files.
    write_json(os.path.join(workdir, "results.json"), results)
  logging.info("test accuracy %.4f  test loss %.4f  (%d examples); trained "
               "in %.1f s", test["accuracy"], test["loss"], test["count"],
               train_seconds)
  return results


def make_results(config: ml_collections.ConfigDict, s: Setup,
                 state: TrainState, test: dict[str, Any],
                 train_seconds: float) -> dict[str, Any]:
  """results.json's own fields; hooks add theirs in on_train_end."""
  ds = s.dataset
  return {
      "model": config.model.name,
      "dataset": ds.name,
      "dataset_source": ds.source,
      "num_devices": len(s.devices),
      "num_processes": jax.process_count(),
      "platform": s.devices[0].platform,
      "test_accuracy": test["accuracy"],
      "test_loss": test["loss"],
      "num_test_examples": test["count"],
      "num_train_examples": len(ds.train),
      "num_validation_examples": (
          len(ds.validation) if ds.validation is not None else 0),
      "train_seconds": round(train_seconds, 3),
      "xla_flags": os.environ.get("XLA_FLAGS", ""),
      "steps": int(parallel.unreplicate(state.step)),
      "num_params": num_params(parallel.unreplicate(state.params)),
      "seed": config.seed,
      "warnings": list(ds.warnings),
      "versions": _versions(),
      "config": config.to_dict(),
  }


def _versions() -> dict[str, str]:
  import haiku, optax, chex  # pylint: disable=g-import-not-at-top,multiple-imports
  return {"jax": jax.__version__, "haiku": haiku.__version__,
          "optax": optax.__version__, "chex": chex.__version__}


def write_json(path: str, obj: Any) -> None:
  """Writes `obj` as JSON atomically: the file is whole or absent."""
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  tmp = f"{path}.tmp.{os.getpid()}"
  with open(tmp, "w", encoding="utf-8") as f:
    json.dump(obj, f, indent=2, default=_jsonable)
  os.replace(tmp, path)


def _jsonable(x: Any) -> Any:
  if isinstance(x, (np.generic, np.ndarray)):
    return x.tolist()
  if isinstance(x, tuple):
    return list(x)
  return str(x)
