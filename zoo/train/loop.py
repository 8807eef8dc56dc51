"""The training run: data -> model -> pmapped epochs -> test eval -> results.

`run(config, workdir)` is what `launch.py` calls; it returns the results dict
that it also writes to `workdir/results.json`.
"""

import collections
import dataclasses
import json
import os
import time
from typing import Any, Callable, Iterable, Sequence

from absl import logging
import haiku as hk
import jax
import ml_collections
import numpy as np

from zoo import config_checks
from zoo import data
from zoo import errors
from zoo import modeling
from zoo import optim
from zoo import parallel
from zoo import registry
from zoo import user_modules
from zoo.train import step as step_lib
from zoo.train.state import TrainState, init_state, num_params


@dataclasses.dataclass
class Setup:
  """Everything a run builds before its first step."""
  dataset: data.Dataset
  forward: hk.TransformedWithState
  devices: Sequence[jax.Device]
  state: TrainState  # Replicated: leading axis = len(devices).
  p_train_step: Callable[..., Any]
  p_eval_step: Callable[..., Any]
  steps_per_epoch: int


def setup(config: ml_collections.ConfigDict) -> Setup:
  """Validates the config, loads data, builds and replicates the state."""
  config_checks.validate(config)
  user_modules.import_user_modules(config.model.module)
  registry.get_model(config.model.name)  # Unknown name: fail before data.
  devices = jax.local_devices()
  parallel.check_divisible(config.train.batch_size, len(devices))
  dataset = data.load(config.data, config.seed)
  if len(dataset.train) < config.train.batch_size:
    raise errors.ConfigError(
        f"config.train.batch_size={config.train.batch_size} is larger than "
        f"the training set ({len(dataset.train)} examples of "
        f"{dataset.name}). Use a smaller batch.")
  steps_per_epoch = len(dataset.train) // config.train.batch_size
  forward = modeling.build_forward(config.model.name, dataset.num_classes,
                                   modeling.hyperparameters(config.model))
  optimizer = optim.make_optimizer(config.optimizer,
                                   steps_per_epoch * config.train.num_epochs)
  state = _init(forward, optimizer, dataset, config)
  kwargs = dict(input_shape=dataset.input_shape,
                num_classes=dataset.num_classes)
  p_train_step = jax.pmap(
      step_lib.make_train_step(forward, optimizer, **kwargs),
      axis_name=parallel.AXIS, devices=devices, donate_argnums=(0,))
  p_eval_step = jax.pmap(step_lib.make_eval_step(forward, **kwargs),
                         axis_name=parallel.AXIS, devices=devices)
  return Setup(dataset, forward, devices, parallel.replicate(state, devices),
               p_train_step, p_eval_step, steps_per_epoch)


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


def _bounded(outputs: Iterable[Any], limit: int) -> Iterable[Any]:
  """Passes outputs through, blocking so at most `limit` are unfinished."""
  in_flight = collections.deque()
  for out in outputs:
    in_flight.append(out)
    if len(in_flight) > limit:
      jax.block_until_ready(in_flight.popleft())
    yield out


def train(s: Setup, config: ml_collections.ConfigDict
          ) -> tuple[TrainState, dict[str, float]]:
  """Runs every epoch; returns the state and the last logged train metrics."""
  n, cfg = len(s.devices), config.train
  total = s.steps_per_epoch * cfg.num_epochs
  state, window, last = s.state, [], {}
  t_window, done = time.perf_counter(), 0

  def steps():
    nonlocal state
    for epoch in range(cfg.num_epochs):
      for batch in data.train_batches(s.dataset.train, cfg.batch_size,
                                      config.seed, epoch):
        state, metrics = s.p_train_step(state, parallel.shard(batch, n))
        yield epoch, metrics

  for epoch, metrics in _bounded(steps(), parallel.max_steps_in_flight(
      s.devices)):
    window.append(metrics)
    done += 1
    if done % cfg.log_every_steps == 0 or done == total:
      last = _mean_metrics(window)
      rate = len(window) * cfg.batch_size / (time.perf_counter() - t_window)
      logging.info("step %d/%d  epoch %d/%d  loss %.4f  accuracy %.4f  "
                   "%.0f examples/s", done, total, epoch + 1, cfg.num_epochs,
                   last["loss"], last["accuracy"], rate)
      window, t_window = [], time.perf_counter()
  return state, last


def _mean_metrics(window: list[dict[str, jax.Array]]) -> dict[str, float]:
  host = jax.device_get(window)  # Each leaf [devices]; identical after pmean.
  return {k: float(np.mean([m[k][0] for m in host])) for k in host[0]}


def evaluate(s: Setup, state: TrainState, split: data.Split,
             eval_batch_size: int) -> dict[str, Any]:
  """Loss and accuracy over every example of `split`, each counted once."""
  n = len(s.devices)
  per_device = -(-min(eval_batch_size, len(split)) // n)  # Ceil division.
  batches = data.eval_batches(split, per_device * n)
  outputs = _bounded(
      (s.p_eval_step(state, parallel.shard(b, n)) + (b["mask"],)
       for b in batches), parallel.max_steps_in_flight(s.devices))
  loss_sum = correct = count = 0.0
  predictions = []
  for sums, preds, mask in outputs:
    sums = jax.device_get(sums)
    loss_sum += float(sums["loss_sum"][0])
    correct += float(sums["correct"][0])
    count += float(sums["count"][0])
    predictions.append(np.asarray(preds).reshape(-1)[mask > 0])
  if int(count) != len(split):
    raise AssertionError(f"Evaluated {count} examples, expected {len(split)}")
  return {"loss": loss_sum / count, "accuracy": correct / count,
          "count": int(count), "predictions": np.concatenate(predictions)}


def run(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
  """Trains, evaluates on the test split and writes workdir/results.json."""
  s = setup(config)
  ds = s.dataset
  logging.info("Model %s (%s parameters) on %s: %d train / %d test examples "
               "of shape %s, %d classes; %d %s device(s).", config.model.name,
               f"{num_params(parallel.unreplicate(s.state.params)):,}",
               ds.name, len(ds.train), len(ds.test), ds.input_shape,
               ds.num_classes, len(s.devices), s.devices[0].platform)
  t0 = time.perf_counter()
  state, last = train(s, config)
  jax.block_until_ready(state)
  train_seconds = time.perf_counter() - t0
  test = evaluate(s, state, ds.test, config.train.eval_batch_size)
  results = {
      "model": config.model.name,
      "dataset": ds.name,
      "dataset_source": ds.source,
      "num_devices": len(s.devices),
      "platform": s.devices[0].platform,
      "test_accuracy": test["accuracy"],
      "test_loss": test["loss"],
      "num_test_examples": test["count"],
      "num_train_examples": len(ds.train),
      "train_seconds": round(train_seconds, 3),
      "steps": int(parallel.unreplicate(state.step)),
      "final_train_loss": last.get("loss"),
      "final_train_accuracy": last.get("accuracy"),
      "num_params": num_params(parallel.unreplicate(state.params)),
      "seed": config.seed,
      "warnings": list(ds.warnings),
      "versions": _versions(),
      "config": config.to_dict(),
  }
  write_json(os.path.join(workdir, "results.json"), results)
  logging.info("test accuracy %.4f  test loss %.4f  (%d examples); trained "
               "in %.1f s", test["accuracy"], test["loss"], test["count"],
               train_seconds)
  return results


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
