"""Everything a run builds before its first step: data, model, optimizer,
the replicated state and the compiled steps."""

import dataclasses
from typing import Any, Callable, Optional, Sequence

import haiku as hk
import jax
import ml_collections
import optax

from zoo import data
from zoo import errors
from zoo.data import augment
from zoo.data import splits
from zoo.models import registry
from zoo.models import user_modules
from zoo.runtime import compile_cache
from zoo.runtime import parallel
from zoo.train import chunk_plan
from zoo.train import chunks
from zoo.train import ensemble
from zoo.train import loss_scale
from zoo.train import optim
from zoo.train import step as step_lib
from zoo.train.state import TrainState, init_fn


@dataclasses.dataclass
class Setup:
  """What the loop trains and evaluates with."""
  dataset: data.Dataset
  forward: hk.TransformedWithState
  devices: Sequence[jax.Device]  # Of every process (parallel.global_devices).
  state: TrainState  # Replicated on this process's devices (leading axis).
  chunk_runner: chunks.ChunkRunner  # Runs the train steps, chunk by chunk.
  p_eval_step: Callable[..., Any]
  steps_per_epoch: int
  # The ensemble's members (one for a single run); `state` is member-stacked.
  members: ensemble.Members = ensemble.Members(seeds=(0,), data_seeds=(0,))


def setup(config: ml_collections.ConfigDict,
          dataset: Optional[data.Dataset] = None) -> Setup:
  """Loads data, builds and replicates the state, compiles nothing yet.

  `config` must be valid (`zoo.config.validation.validate`). `dataset`:
  train on this instead of `data.load(config.data, ...)` (e.g. synthetic
  data in benchmarks/throughput.py).
  """
  compile_cache.enable(config.train.compilation_cache_dir)
  user_modules.import_user_modules(config.model.module)
  registry.get_model(config.model.name)  # Unknown name: fail before data.
  devices = parallel.global_devices()
  if not config.train.full_batch:
    parallel.check_divisible(config.train.batch_size, len(devices))
  if dataset is None:
    dataset = data.load(config.data, split_seed(config))
  if dataset.validation is None:  # Sources may carve their own.
    dataset = splits.with_validation(
        dataset, config.data.validation_fraction, split_seed(config))
  if config.train.full_batch:
    _use_full_batch(config, len(dataset.train), len(devices))
  if len(dataset.train) < config.train.batch_size:
    raise errors.ConfigError(
        f"config.train.batch_size={config.train.batch_size} is larger than "
        f"the training set ({len(dataset.train)} examples of "
        f"{dataset.name}). Use a smaller batch, or "
        "--config.train.full_batch=True.")
  steps_per_epoch = len(dataset.train) // config.train.batch_size
  members = ensemble.Members.from_config(config)
  forward, optimizer = model_and_optimizer(config, dataset.num_classes,
                                           steps_per_epoch)
  state = _init(forward, optimizer, dataset, config, members)
  shapes = dict(input_shape=dataset.input_shape,
                num_classes=dataset.num_classes)
  train_step = step_lib.make_train_step(
      forward, optimizer, **shapes,
      label_smoothing=config.train.label_smoothing)
  first = ensemble.member(state, 0, members.size)
  has_conv = chunk_plan.has_convolution(forward, first.params,
                                        first.model_state, dataset.input_shape)
  unroll = chunk_plan.choose_unroll(config.train.scan_unroll, has_conv,
                                    devices[0].platform)
  batches = chunks.DeviceResidentBatches(
      dataset.train, devices, config.train.batch_size, members.data_seeds,
      _augmentation(config.data, dataset))
  runner = chunks.ChunkRunner(train_step, batches, devices, unroll,
                              steps_per_epoch, config.train.steps_per_call,
                              members.size)
  # Evaluation maps the members as training does (the runner's plan).
  p_eval_step = jax.pmap(
      step_lib.make_members_eval_step(
          forward, **shapes, num_members=members.size,
          unrolled_members=runner.unrolled_members),
      axis_name=parallel.AXIS, devices=devices)
  return Setup(dataset, forward, devices, parallel.replicate(state, devices),
               runner, p_eval_step, steps_per_epoch, members)


def model_and_optimizer(config: ml_collections.ConfigDict, num_classes: int,
                        steps_per_epoch: int
                       ) -> tuple[hk.TransformedWithState,
                                  optax.GradientTransformation]:
  """The model (computing in `train.precision`) and (one member's)
  optimizer that `config` describes."""
  forward = registry.build_forward(config.model.name, num_classes,
                                   registry.hyperparameters(config.model),
                                   precision(config))
  optimizer = optim.make_optimizer(
      config.optimizer, steps_per_epoch * config.train.num_epochs,
      steps_per_epoch,
      rate_as_state=ensemble.Members.from_config(config).rate_as_state)
  return forward, optimizer


def initial_state(forward: hk.TransformedWithState,
                  optimizer: optax.GradientTransformation,
                  input_shape: tuple[int, ...],
                  members: ensemble.Members,
                  run_precision: str = "float32") -> TrainState:
  """The members' initial state, member-stacked (`ensemble.init_members`);
  each member has its own loss scale (`loss_scale.initial(run_precision)`).
  An ensemble too large for the device stops first (`ensemble.check_fits`).
  """
  init = init_fn(forward, optimizer, input_shape,
                 loss_scale.initial(run_precision))
  ensemble.check_fits(members.size, init, jax.local_devices()[0])
  return ensemble.init_members(init, members, optim.with_learning_rate)


def split_seed(config: ml_collections.ConfigDict) -> int:
  """The seed of the data splits: `data.split_seed`, else `seed`."""
  chosen = config.data.get("split_seed")
  return config.seed if chosen is None else chosen


def precision(config: ml_collections.ConfigDict) -> str:
  """`train.precision` (float32 for configs saved before it existed)."""
  return config.train.get("precision", "float32")


def _use_full_batch(config: ml_collections.ConfigDict, num_train: int,
                    num_devices: int) -> None:
  """Sets train.batch_size to the largest multiple of the device count not
  above the training-set size (results.json then records the batch used)."""
  if num_train < num_devices:
    raise errors.ConfigError(
        f"config.train.full_batch=True needs at least one training example "
        f"per device: {num_train} examples, {num_devices} devices.")
  config.train.batch_size = num_train // num_devices * num_devices


def _augmentation(cfg: ml_collections.ConfigDict,
                  dataset: data.Dataset) -> augment.Augmentation:
  """`data.augment` for this dataset: images only, and the crop must fit."""
  aug = augment.from_config(tuple(cfg.augment), cfg.crop_padding)
  if aug.enabled and len(dataset.input_shape) != 3:
    raise errors.ConfigError(
        f"config.data.augment={tuple(cfg.augment)!r} needs images [height, "
        f"width, channels]; {dataset.name} examples have shape "
        f"{dataset.input_shape}. Use --config.data.augment='()'.")
  return aug


def _init(forward, optimizer, dataset, config, members) -> TrainState:
  try:
    return initial_state(forward, optimizer, dataset.input_shape, members,
                         precision(config))
  except errors.ZooError:
    raise
  except Exception as e:  # A model that cannot take this input shape.
    raise errors.ConfigError(
        f"Model {config.model.name!r} failed to build for inputs of shape "
        f"{dataset.input_shape} ({dataset.name}): {type(e).__name__}: {e}"
    ) from e
