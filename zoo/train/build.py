"""Everything a run builds before its first step, from its spec: data,
shape, model, optimizer, the replicated state and the compiled steps."""

import dataclasses
import functools
from typing import Any, Callable, Optional, Sequence

import haiku as hk
import jax
import optax

from zoo import data
from zoo import errors
from zoo.config.spec import Members, RunShape, RunSpec
from zoo.data import augment
from zoo.data import splits
from zoo.models import registry
from zoo.models import user_modules
from zoo.pretrained import finetune
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
  spec: RunSpec
  shape: RunShape  # What the data decided: batch size, steps per epoch.
  dataset: data.Dataset
  forward: hk.TransformedWithState
  devices: Sequence[jax.Device]  # Of every process (parallel.global_devices).
  state: TrainState  # Member-stacked, replicated on this process's devices.
  chunk_runner: chunks.ChunkRunner  # Runs the train steps, chunk by chunk.
  p_eval_step: Callable[..., Any]

  @property
  def steps_per_epoch(self) -> int:
    return self.shape.steps_per_epoch

  @property
  def members(self) -> Members:
    return self.spec.members


def setup(spec: RunSpec, dataset: Optional[data.Dataset] = None) -> Setup:
  """Loads data, builds and replicates the state, compiles nothing yet.

  `dataset`: train on this instead of `data.load(spec.data)` (e.g.
  synthetic data in benchmarks/throughput.py).
  """
  compile_cache.enable(spec.train.compilation_cache_dir)
  user_modules.import_user_modules(spec.model.module)
  registry.get_model(spec.model.name)  # Unknown name: fail before data.
  devices = parallel.global_devices()
  if not spec.train.full_batch:
    parallel.check_divisible(spec.train.batch_size, len(devices))
  if dataset is None:
    dataset = data.load(spec.data)
  if dataset.validation is None:  # Sources may carve their own.
    dataset = splits.with_validation(
        dataset, spec.data.validation_fraction, spec.data.split_seed)
  shape = run_shape(spec, dataset, len(devices))
  forward, optimizer = model_and_optimizer(spec, shape.num_classes,
                                           shape.steps_per_epoch)
  state = _init(forward, optimizer, dataset, spec)
  state = finetune.initialize(spec, state, dataset.class_names)
  train_step = step_lib.make_train_step(
      forward, optimizer, shape.input_shape, shape.num_classes,
      label_smoothing=spec.train.label_smoothing)
  first = ensemble.member(state, 0, spec.members.size)
  has_conv = chunk_plan.has_convolution(forward, first.params,
                                        first.model_state, shape.input_shape)
  unroll = chunk_plan.choose_unroll(spec.train.scan_unroll, has_conv,
                                    devices[0].platform)
  batches = chunks.DeviceResidentBatches(
      dataset.train, devices, shape.batch_size, spec.members.data_seeds,
      _augmentation(spec.data.augment, spec.data.crop_padding, dataset))
  runner = chunks.ChunkRunner(train_step, batches, devices, unroll,
                              shape.steps_per_epoch,
                              spec.train.steps_per_call, spec.members.size)
  # Evaluation maps the members as training does (the runner's plan).
  p_eval_step = jax.pmap(
      step_lib.make_members_eval_step(
          forward, shape.input_shape, shape.num_classes,
          num_members=spec.members.size,
          unrolled_members=runner.unrolled_members),
      axis_name=parallel.AXIS, devices=devices)
  return Setup(spec, shape, dataset, forward, devices,
               parallel.replicate(state, devices), runner, p_eval_step)


def run_shape(spec: RunSpec, dataset: data.Dataset,
              num_devices: int) -> RunShape:
  """The batch trained with and the steps per epoch on `dataset`.

  `train.full_batch`: the largest multiple of the device count not above
  the training-set size (results.json records it as `batch_size`).
  """
  num_train = len(dataset.train)
  batch_size = spec.train.batch_size
  if spec.train.full_batch:
    if num_train < num_devices:
      raise errors.ConfigError(
          f"config.train.full_batch=True needs at least one training example "
          f"per device: {num_train} examples, {num_devices} devices.")
    batch_size = num_train // num_devices * num_devices
  if num_train < batch_size:
    raise errors.ConfigError(
        f"config.train.batch_size={batch_size} is larger than the training "
        f"set ({num_train} examples of {dataset.name}). Use a smaller batch, "
        "or --config.train.full_batch=True.")
  return RunShape(batch_size=batch_size,
                  steps_per_epoch=num_train // batch_size,
                  input_shape=tuple(dataset.input_shape),
                  num_classes=dataset.num_classes)


def model_and_optimizer(spec: RunSpec, num_classes: int,
                        steps_per_epoch: int
                       ) -> tuple[hk.TransformedWithState,
                                  optax.GradientTransformation]:
  """The model (computing in `train.precision`) and (one member's)
  optimizer that `spec` describes."""
  forward = registry.build_forward(spec.model.name, num_classes,
                                   spec.model.kwargs, spec.train.precision)
  optimizer = optim.make_optimizer(
      spec.optimizer, steps_per_epoch * spec.train.num_epochs,
      steps_per_epoch, rate_as_state=spec.members.rate_as_state)
  return forward, optimizer


def initial_state(forward: hk.TransformedWithState,
                  optimizer: optax.GradientTransformation,
                  input_shape: tuple[int, ...], members: Members,
                  run_precision: str = "float32") -> TrainState:
  """The members' initial state, member-stacked (`ensemble.init_members`);
  each member has its own loss scale (`loss_scale.initial(run_precision)`).
  An ensemble too large for the device stops first (`ensemble.check_fits`).
  """
  init = init_fn(forward, optimizer, input_shape,
                 loss_scale.initial(run_precision))
  ensemble.check_fits(members.size, init, jax.local_devices()[0])
  return ensemble.init_members(init, members, optim.with_learning_rate)


def abstract_state(spec: RunSpec, forward: hk.TransformedWithState,
                   optimizer: optax.GradientTransformation,
                   input_shape: tuple[int, ...]) -> TrainState:
  """The shapes and dtypes of `initial_state` (traced, not computed)."""
  return jax.eval_shape(functools.partial(
      initial_state, forward, optimizer, tuple(input_shape), spec.members,
      spec.train.precision))


def _augmentation(names: tuple[str, ...], crop_padding: int,
                  dataset: data.Dataset) -> augment.Augmentation:
  """`data.augment` for this dataset: images only, and the crop must fit."""
  aug = augment.from_config(names, crop_padding)
  if aug.enabled and len(dataset.input_shape) != 3:
    raise errors.ConfigError(
        f"config.data.augment={names!r} needs images [height, width, "
        f"channels]; {dataset.name} examples have shape "
        f"{dataset.input_shape}. Use --config.data.augment='()'.")
  return aug


def _init(forward, optimizer, dataset, spec: RunSpec) -> TrainState:
  try:
    return initial_state(forward, optimizer, dataset.input_shape,
                         spec.members, spec.train.precision)
  except errors.ZooError:
    raise
  except Exception as e:  # A model that cannot take this input shape.
    raise errors.ConfigError(
        f"Model {spec.model.name!r} failed to build for inputs of shape "
        f"{dataset.input_shape} ({dataset.name}): {type(e).__name__}: {e}"
    ) from e
