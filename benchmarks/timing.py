"""Measurements for throughput.py: import only after `xla_flags.apply`."""

import argparse
import importlib
import time
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from configs import default
from zoo import data
from zoo.runtime import parallel
from zoo import report
from zoo import train
from zoo.config import resolve
from zoo.train import hooks as hooks_lib
from zoo.train import chunks

from windows import Windows  # benchmarks/ (the script's folder)


class CompileTimer:
  """Sums XLA backend-compile seconds (JAX monitoring events) from now on."""

  def __init__(self):
    self.total = 0.0
    jax.monitoring.register_event_duration_secs_listener(self._on_event)

  def _on_event(self, event: str, seconds: float, **_) -> None:
    if event == "/jax/core/compile/backend_compile_duration":
      self.total += seconds


def matmul_peak_gflops(n: int = 2048, reps: int = 5) -> float:
  """float32 `[n, n] @ [n, n]` through XLA: the best of `reps`, GFLOP/s."""
  a = jax.random.normal(jax.random.key(0), (n, n), jnp.float32)
  matmul = jax.jit(jnp.dot)
  matmul(a, a).block_until_ready()
  best = float("inf")
  for _ in range(reps):
    t0 = time.perf_counter()
    matmul(a, a).block_until_ready()
    best = min(best, time.perf_counter() - t0)
  return 2 * n**3 / best / 1e9


def synthetic_dataset(shape: tuple[int, ...], n: int,
                      num_classes: int = 10) -> data.Dataset:
  """Uniform [0, 1) inputs `[n, *shape]`, random labels: MNIST-shaped."""
  rng = np.random.default_rng(0)
  split = data.Split(rng.random((n, *shape), dtype=np.float32),
                     rng.integers(0, num_classes, n).astype(np.int32))
  test = data.Split(split.inputs[:256], split.labels[:256])
  return data.Dataset("synthetic", split, test, num_classes,
                      tuple(str(c) for c in range(num_classes)), "synthetic")


def make_config(args: argparse.Namespace, recipe: bool
                ) -> ml_collections.ConfigDict:
  """configs/<model>.py if `recipe` (and it exists), else the defaults."""
  config = default.get_config()
  if recipe:
    try:
      config = importlib.import_module(f"configs.{args.model}").get_config()
    except ModuleNotFoundError:
      pass
  config.model.name = args.model
  config.train.batch_size = args.batch
  if args.steps_per_call is not None:
    config.train.steps_per_call = args.steps_per_call
  if args.scan_unroll is not None:
    config.train.scan_unroll = args.scan_unroll
  config.train.compilation_cache_dir = args.cache_dir
  config.data.augment = tuple(n for n in args.augment.split(",") if n)
  config.data.crop_padding = args.crop_padding
  config.train.precision = args.precision
  config.report.progress_bar = config.report.tensorboard = False
  config.report.plots = False
  return config


class Stop(Exception):
  """Raised by a hook to end the benchmark's training run."""


class WindowTimer(hooks_lib.Hook):
  """windows.Windows (the reference loops' protocol) as a zoo hook.

  It ticks at chunk ends, where the state is the chunk's last step's, so
  waiting for the devices at a window's end waits for the steps counted;
  the first epoch (every chunk size compiled) is warm-up. Raises Stop when
  done.
  """

  def __init__(self, windows: int, window_s: float, warmup_s: float,
               batch: int):
    self.timer = Windows(windows, window_s, warmup_s, batch, self._sync)
    self._progress: Any = None
    self._epoch_done = False

  def _sync(self) -> None:
    jax.block_until_ready(self._progress.state)

  def on_epoch_end(self, progress: Any, epoch: Any) -> None:
    self._epoch_done = True

  def on_chunk_end(self, progress: Any, chunk: Any) -> None:
    self._progress = progress
    if self.timer.tick(chunk.last_step, epoch_done=self._epoch_done):
      raise Stop()


def step_gflop(s: train.Setup, batch: int) -> float:
  """XLA's flop count of one (global) train step, in GFLOP: a one-step
  chunk, compiled apart from the run's own."""
  del batch  # The chunk's batch is the config's.
  runner = s.chunk_runner
  n = len(s.devices)
  chunk = jax.pmap(chunks.make_chunk(runner.train_step, runner.batches, 1, 1),
                   axis_name=parallel.AXIS, devices=s.devices,
                   in_axes=(0, 0, None))
  args = runner.batches.chunk_args(0, 0, 1)
  cost = chunk.lower(s.state, args, np.int32(0)).compile().cost_analysis()
  cost = cost[0] if isinstance(cost, (list, tuple)) else cost
  return float(cost["flops"]) * n / 1e9


def throughput(args: argparse.Namespace, compiles: CompileTimer
               ) -> dict[str, Any]:
  """Trains on synthetic data through zoo.train until the windows are done."""
  shape = tuple(int(d) for d in args.shape.split(","))
  config = make_config(args, recipe=False)
  config.train.num_epochs = 10**6  # Stopped by the timer.
  config.data.validation_fraction = 0.0
  dataset = synthetic_dataset(shape, args.num_examples)
  t_start = time.perf_counter()
  s = train.setup(resolve.resolve(config), dataset)
  gflop = step_gflop(s, args.batch)  # Compiled now: kept off the clock.
  compile_before = compiles.total
  hook = WindowTimer(args.windows, args.window_s, args.warmup_s, args.batch)
  timer = hook.timer
  hooks = [hook]
  if args.report_hooks:
    hooks += report.build_hooks(s.spec, s.shape, "/tmp/zoo-bench-report")
  try:
    train.train(s, hooks)
  except Stop:
    pass
  ex_per_s = timer.median
  return {
      "model": args.model, "batch": args.batch,
      "augment": list(config.data.augment),
      "precision": config.train.precision,
      "num_devices": len(s.devices),
      "steps_per_call": config.train.steps_per_call,
      "unroll": s.chunk_runner.unroll,
      "report_hooks": args.report_hooks,
      "ex_per_s": round(ex_per_s, 1),
      "window_ex_per_s": [round(r, 1) for r in timer.rates],
      "compile_s": round(compiles.total - compile_before, 2),
      "time_to_first_step_s": round(timer.first_step_s, 2),
      "setup_s": round(timer.t_start - t_start, 2),
      "step_gflop": round(gflop, 4),
      "train_gflops": round(gflop * ex_per_s / args.batch, 2),
  }


class AccuracyTimer(hooks_lib.Hook):
  """Evaluates the test split after each epoch, off the clock; Stop at target."""

  def __init__(self, s: train.Setup, target: float, eval_batch: int):
    self.s, self.target, self.eval_batch = s, target, eval_batch
    self.history: list[tuple[int, float, float]] = []  # epoch, s, accuracy.
    self.t0 = time.perf_counter()
    self.paused = 0.0

  def on_epoch_end(self, progress: Any, epoch: Any) -> None:
    jax.block_until_ready(progress.state)
    t_eval = time.perf_counter()
    accuracy = train.evaluate(self.s, progress.state, self.s.dataset.test,
                              self.eval_batch)["accuracy"]
    self.history.append((epoch.epoch, t_eval - self.t0 - self.paused,
                         accuracy))
    self.paused += time.perf_counter() - t_eval
    if accuracy >= self.target:
      raise Stop()


def time_to_accuracy(args: argparse.Namespace, compiles: CompileTimer
                     ) -> dict[str, Any]:
  """Seconds of training (from the start of setup) to reach the target."""
  config = make_config(args, recipe=True)
  config.data.dir = args.data_dir
  config.train.num_epochs = args.max_epochs
  t_start = time.perf_counter()
  s = train.setup(resolve.resolve(config))
  timer = AccuracyTimer(s, args.time_to_accuracy,
                        config.train.eval_batch_size)
  timer.t0 = t_start
  try:
    train.train(s, [timer])
  except Stop:
    pass
  epoch, seconds, accuracy = timer.history[-1]
  reached = accuracy >= args.time_to_accuracy
  return {
      "model": args.model, "batch": config.train.batch_size,
      "num_devices": len(s.devices), "dataset": s.dataset.name,
      "num_train_examples": len(s.dataset.train),
      "steps_per_call": config.train.steps_per_call,
      "target_test_accuracy": args.time_to_accuracy, "reached": reached,
      "seconds_to_accuracy": round(seconds, 2) if reached else None,
      "epochs": epoch, "test_accuracy": round(accuracy, 4),
      "compile_s": round(compiles.total, 2),
      "accuracy_by_epoch": [round(a, 4) for _, _, a in timer.history],
  }
