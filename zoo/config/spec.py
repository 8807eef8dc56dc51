"""The run spec: every config field, once, as frozen typed values.

Each section is a frozen dataclass whose fields are the config's fields. A
field's metadata is the one table the zoo reads about it (`option`):

  default   what configs/default.py gives it;
  doc       one line for `launch.py --config_help` and docs/config.md;
  check     its value check (zoo/config/checks.py);
  resume    whether a checkpoint resumes under another value: FREE (yes),
            STATE (no: it decides what the checkpoint holds or what its
            step means), or a {value: class} map (yes within a class);
  added     for fields added after checkpoints were first written: the
            value that gives the behaviour from before (`upgrade` fills it
            into configs saved without it); ORIGINAL for the first fields.

`resolve.resolve(config)` turns a ConfigDict into a `RunSpec`; nothing
after it reads the ConfigDict again. Values that depend on the data (the
batch size of a full-batch run, steps per epoch) are in `RunShape`, made
once the data is loaded, never written back into the config.
"""

import dataclasses
from typing import Any, Optional

from zoo.config import checks

FREE, STATE = "free", "state"
ORIGINAL = object()  # `added` of a field that every saved config has.

OPTIMIZERS = ("adam", "adamw", "sgd")
SCHEDULES = ("constant", "cosine")
IMAGE_NORMALIZATIONS = ("none", "per_channel", "fixed")
AUGMENTATIONS = ("crop", "flip")
PRECISIONS = ("float32", "bfloat16", "float16")


def option(default: Any, doc: str, check: checks.Check = checks.anything,
           resume: Any = FREE, added: Any = ORIGINAL,
           key: Optional[str] = None) -> Any:
  """A spec field and its row of the table (see the module docstring);
  `key`: its name in the config where that is a Python keyword."""
  return dataclasses.field(default=default, metadata=dict(
      doc=doc, check=check, resume=resume, added=added, key=key))


@dataclasses.dataclass(frozen=True)
class ModelSpec:
  """config.model; `hyperparameters` is the selected model's section
  `config.model.<name>` (the builder's keyword arguments)."""
  name: str = option(
      "mlp", "A registered model name (`python launch.py --list_models`).",
      checks.name, STATE)
  module: str = option(
      "", "Your own models: a .py path or an importable module (comma-"
      "separated for several) whose @zoo.register_model(...) runs before the "
      "model is built.", checks.text("it must be a module name or a path"))
  hyperparameters: tuple[tuple[str, Any], ...] = ()

  @property
  def kwargs(self) -> dict[str, Any]:
    return dict(self.hyperparameters)


@dataclasses.dataclass(frozen=True)
class DataSpec:
  """config.data: which data, where it is, how it is split and scaled."""
  name: str = option(
      "mnist", "'mnist', 'fashion_mnist', 'cifar10', 'digits', 'csv' or any "
      "TensorFlow Datasets image-classification name (`python launch.py "
      "--list_datasets`).", checks.name, STATE)
  dir: str = option(
      "", "Local files instead of TFDS (empty: TFDS): the folder of the four "
      "original IDX .gz files (mnist, fashion_mnist) or cifar-10-batches-py "
      "(cifar10).", checks.text("it must be a folder, or '' for TFDS"))
  tfds_data_dir: str = option(
      "", "Where TFDS keeps prepared datasets; empty: its default "
      "(~/tensorflow_datasets).", checks.text("it must be a folder, or ''"))
  allow_fallback: bool = option(
      True, "Offline and MNIST not prepared: use 'digits' with a warning "
      "(True) or stop with an error (False).", checks.boolean)
  download_timeout_s: float = option(
      5.0, "Seconds to wait for TFDS's download host before declaring us "
      "offline.", checks.number_in(0.0, 600.0, low_open=True))
  test_fraction: float = option(
      0.2, "Sources without an official test split ('digits', a TFDS "
      "dataset without one) hold out this fraction.",
      checks.number_in(0.0, 0.9, low_open=True), STATE)
  validation_fraction: float = option(
      0.1, "Fraction of the training data held out (stratified, from "
      "split_seed) as a validation split evaluated every epoch; 0 disables "
      "it.", checks.number_in(0.0, 0.9), STATE)
  split_seed: Optional[int] = option(
      None, "The seed of the validation (and missing test) split; None: "
      "`seed`. --config.seed=S --config.data.split_seed=<an ensemble's seed> "
      "reruns its member S alone on the same split.",
      checks.optional_int_at_least(0, "it must be a non-negative integer, or "
                                   "None (the run's seed)"), STATE, None)
  image_normalization: str = option(
      "none", "Images: 'none' keeps pixels in [0, 1]; 'per_channel' "
      "standardises each channel with the training split's mean and std; "
      "'fixed' uses image_mean and image_std.",
      checks.one_of(IMAGE_NORMALIZATIONS), STATE, "none")
  image_mean: tuple[float, ...] = option(
      (), "'fixed' only: one mean per channel, in [0, 1] pixel units, e.g. "
      "'(0.4914, 0.4822, 0.4465)'.", checks.numbers, STATE, ())
  image_std: tuple[float, ...] = option(
      (), "'fixed' only: one std (> 0) per channel, in [0, 1] pixel units.",
      checks.numbers, STATE, ())
  augment: tuple[str, ...] = option(
      (), "Training batches only, on the device: 'crop' (zero-pad by "
      "crop_padding, crop back at a random offset) and/or 'flip' (left-"
      "right), e.g. '(\"crop\", \"flip\")'.",
      checks.names_from(AUGMENTATIONS, "'(\"crop\", \"flip\")'"), STATE, ())
  crop_padding: int = option(
      4, "Pixels of zero padding before a random crop.",
      checks.int_at_least(1), STATE, 4)
  path: str = option(
      "", "CSV tables (data.name='csv'): the file, a header row then one row "
      "per example.", checks.text("it must be a file path"))
  label_column: str = option(
      "label", "CSV: the column holding the class label.", resume=STATE)
  feature_columns: tuple[str, ...] = option(
      (), "CSV: the numeric feature columns; empty: every column except the "
      "label.", resume=STATE)
  classes: tuple[Any, ...] = option(
      (), "CSV: keep only rows with these labels, as classes 0, 1, ... in "
      "this order, e.g. '(\"low\", \"high\")'; empty: every label (sorted).",
      checks.sequence, STATE)
  drop_missing: bool = option(
      False, "CSV: rows with an empty or NaN cell stop the run (False) or "
      "are dropped with a warning (True).", checks.boolean, STATE)
  standardize: bool = option(
      True, "CSV: scale each feature by the train split's mean and std "
      "(saved with the run).", checks.boolean, STATE)


@dataclasses.dataclass(frozen=True)
class TrainSpec:
  """config.train: the length, batches and arithmetic of training."""
  num_epochs: int = option(10, "Epochs to train.", checks.positive_int)
  batch_size: int = option(
      128, "Global batch, split evenly over the devices: must divide by "
      "their count.", checks.positive_int, STATE)
  full_batch: bool = option(
      False, "Full-batch training (small tables): the batch is the training "
      "set, rounded down to a multiple of the device count; one step per "
      "epoch.", checks.boolean, STATE)
  eval_batch_size: int = option(
      1000, "Global eval batch; rounded up to a multiple of the device "
      "count.", checks.positive_int)
  log_every_steps: int = option(
      50, "Log lines and metrics.jsonl step rows at the end of each chunk "
      "that passes a multiple of this many steps (and at the last step).",
      checks.positive_int)
  steps_per_call: int = option(
      200, "Train steps per compiled call (a chunk; chunks stop at epoch "
      "ends). Any value trains on the same batches in the same order.",
      checks.positive_int)
  scan_unroll: int = option(
      0, "lax.scan unroll inside a call: 0 (auto) unrolls fully for models "
      "with convolutions on CPU, else keeps a loop; k > 0 unrolls k steps.",
      checks.int_at_least(0, "it must be 0 (auto) or a positive integer"))
  compilation_cache_dir: str = option(
      "auto", "JAX's persistent compilation cache: 'auto' "
      "(~/.cache/haiku-zoo/jax), a folder, or '' to leave JAX's settings.",
      checks.text("it must be 'auto', a folder, or '' (off)"))
  label_smoothing: float = option(
      0.0, "Label smoothing of the training loss, in [0, 1); evaluation "
      "losses stay the plain cross-entropy.",
      checks.number_in(0.0, 1.0, high_open=True), STATE, 0.0)
  precision: str = option(
      "float32", "Compute precision: 'float32', 'bfloat16' or 'float16' "
      "(with dynamic loss scaling); params and optimizer state stay "
      "float32.", checks.one_of(PRECISIONS),
      # bfloat16 and float32 checkpoints hold the same float32 arrays;
      # float16's also hold the loss scale.
      {"float32": "float32", "bfloat16": "float32",
       "float16": "float16 (with loss scale)"}, "float32")


@dataclasses.dataclass(frozen=True)
class OptimizerSpec:
  """config.optimizer: the gradient transformation and its schedule. The
  whole section must match to resume (a checkpoint's optimizer state)."""
  name: str = option("adam", "'adam', 'adamw' (decoupled weight decay) or "
                     "'sgd' (with momentum).", checks.one_of(OPTIMIZERS),
                     STATE)
  learning_rate: float = option(
      1e-3, "The peak learning rate.",
      checks.number_in(0.0, 1e3, low_open=True), STATE)
  schedule: str = option("constant", "'constant' or 'cosine' (decays to 0 "
                         "at the end of the run).", checks.one_of(SCHEDULES),
                         STATE)
  warmup_epochs: float = option(
      0.0, "Linear warmup from 0 over this many epochs (fractions allowed, "
      "rounded to whole steps), then the schedule; 0: none.",
      checks.number_in(0.0, 1e6), STATE, 0.0)
  weight_decay: float = option(0.0, "adamw only: decoupled weight decay.",
                               checks.number_in(0.0, 1e3), STATE)
  momentum: float = option(0.9, "sgd only; 0 for plain SGD.",
                           checks.number_in(0.0, 1.0), STATE)
  nesterov: bool = option(False, "sgd with momentum > 0 only: Nesterov "
                          "momentum.", checks.boolean, STATE, False)
  l2: float = option(0.0, "L2 penalty (l2 / 2) * sum(w**2) on the weights "
                     "(not biases), any optimizer.",
                     checks.number_in(0.0, 1e3), STATE)
  clip_norm: float = option(
      0.0, "Clip the gradient (after the l2 term) to this global norm; 0: "
      "off.", checks.number_in(0.0, 1e9), STATE, 0.0)


@dataclasses.dataclass(frozen=True)
class EnsembleSpec:
  """config.ensemble: train several members at once (docs/ensembles.md).
  Members are every (seed, rate) pair: seeds seed .. seed + size - 1, each
  with every rate of learning_rates (empty: optimizer.learning_rate)."""
  size: int = option(1, "How many seeds train at once (1: a single run).",
                     checks.positive_int, STATE, 1)
  learning_rates: tuple[float, ...] = option(
      (), "A learning-rate sweep in one program, e.g. '(1e-3, 3e-4)'.",
      checks.learning_rates, STATE, ())
  shared_data_order: bool = option(
      False, "True: every member sees the data order and augmentation of "
      "`seed`, so members differ only in init and dropout.", checks.boolean,
      STATE, False)


@dataclasses.dataclass(frozen=True)
class ReportSpec:
  """config.report: what a run shows and writes besides results.json."""
  progress_bar: bool = option(True, "A progress bar per epoch, shown only "
                              "when stdout is a terminal.", checks.boolean)
  tensorboard: bool = option(True, "TensorBoard event files in the workdir.",
                             checks.boolean)
  plots: bool = option(True, "curves.png and confusion_matrix.png in the "
                       "workdir.", checks.boolean)


@dataclasses.dataclass(frozen=True)
class DistributedSpec:
  """config.distributed: runs over several processes (docs/distributed.md)."""
  initialization_timeout_s: int = option(
      120, "Seconds every process waits for all the others to join.",
      checks.positive_int)
  heartbeat_timeout_s: int = option(
      30, "Seconds without a heartbeat after which a process counts as dead.",
      checks.positive_int)


@dataclasses.dataclass(frozen=True)
class CheckpointSpec:
  """config.checkpoint: saves in WORKDIR/checkpoints; the same command on
  the same workdir resumes from the latest."""
  every_steps: int = option(0, "Save every this many steps (0: off).",
                            checks.int_at_least(0))
  every_epochs: int = option(1, "Save every this many epochs (0: off); a "
                             "run always saves at its end and when stopped.",
                             checks.int_at_least(0))
  min_interval_s: float = option(
      10.0, "At most one periodic save per this many seconds.",
      checks.number_in(0.0, 1e9))
  keep: int = option(3, "How many of the latest checkpoints to keep.",
                     checks.int_at_least(1))


@dataclasses.dataclass(frozen=True)
class InitSpec:
  """config.init: where step 0's weights come from (docs/pretrained.md)."""
  source: str = option(
      "", "Fine-tune: start from a pretrained name (`python launch.py "
      "--list_pretrained`) or a workdir's latest checkpoint instead of a "
      "fresh init; a head with another number of classes is re-initialised. "
      "'': a fresh init. Only step 0 reads it, so a resume may change it.",
      checks.text("it must be a pretrained name (python launch.py "
                  "--list_pretrained), a workdir, or '' for a fresh init"),
      FREE, added="", key="from")


@dataclasses.dataclass(frozen=True)
class Members:
  """Who an ensemble's K members are, in member order (seed major).

  seeds: each member's init and step-key seed; data_seeds: the seed of its
  data order and augmentation; learning_rates: its peak rate, or None when
  every member uses `optimizer.learning_rate` (a compiled constant).
  """
  seeds: tuple[int, ...]
  data_seeds: tuple[int, ...]
  learning_rates: Optional[tuple[float, ...]] = None

  @property
  def size(self) -> int:
    return len(self.seeds)

  def rates(self, default: float) -> tuple[float, ...]:
    """Each member's peak learning rate (`default` where unset)."""
    return self.learning_rates or (default,) * self.size

  @property
  def rate_as_state(self) -> bool:
    """Whether each member's rate lives in its optimizer state."""
    return self.learning_rates is not None

  @classmethod
  def of(cls, seed: int, ensemble: EnsembleSpec) -> "Members":
    rates = ensemble.learning_rates
    pairs = [(seed + s, r) for s in range(ensemble.size)
             for r in (rates or (None,))]
    return cls(seeds=tuple(s for s, _ in pairs),
               data_seeds=tuple(seed if ensemble.shared_data_order else s
                                for s, _ in pairs),
               learning_rates=tuple(r for _, r in pairs) if rates else None)


# The sections of a config, in order: (field name, spec class).
SECTIONS = (("model", ModelSpec), ("data", DataSpec), ("train", TrainSpec),
            ("optimizer", OptimizerSpec), ("ensemble", EnsembleSpec),
            ("report", ReportSpec), ("distributed", DistributedSpec),
            ("checkpoint", CheckpointSpec), ("init", InitSpec))

SEED_DOC = "Every random number (init, shuffling, dropout, splits) derives " \
           "from this."


@dataclasses.dataclass(frozen=True)
class RunSpec:
  """A whole run's config, resolved (`resolve.resolve`).

  `members` is derived from seed and ensemble; `config` is the jsonable
  config the spec came from (config.json, checkpoints, results.json).
  """
  seed: int
  model: ModelSpec
  data: DataSpec
  train: TrainSpec
  optimizer: OptimizerSpec
  ensemble: EnsembleSpec
  report: ReportSpec
  distributed: DistributedSpec
  checkpoint: CheckpointSpec
  init: InitSpec
  members: Members
  config: Any = dataclasses.field(compare=False, repr=False)


@dataclasses.dataclass(frozen=True)
class RunShape:
  """What the loaded data decides: the batch trained with (a full-batch
  run's is the training set's size) and the steps per epoch."""
  batch_size: int
  steps_per_epoch: int
  input_shape: tuple[int, ...]
  num_classes: int
