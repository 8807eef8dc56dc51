"""The base recipe: every config field, its default and what it means.

Recipes (configs/mlp.py, cnn.py, logistic.py, ...) start from this and change
only what differs. Any field can be overridden on the command line:

  python launch.py --config=configs/mlp.py --config.train.num_epochs=3 \
      --config.optimizer.learning_rate=3e-4 --config.model.name=cnn
"""

import ml_collections


def get_config() -> ml_collections.ConfigDict:
  """Returns the default config (an MLP on MNIST)."""
  config = ml_collections.ConfigDict()
  # Every random number (init, shuffling, dropout, splits) derives from this.
  config.seed = 0

  config.model = ml_collections.ConfigDict()
  # A registered model name (`python launch.py --list_models`).
  config.model.name = "mlp"
  # Your own models: a .py path or an importable module (comma-separated for
  # several) whose @zoo.register_model(...) runs before the model is built.
  config.model.module = ""
  # Hyperparameters of each model live under config.model.<name>; only the
  # selected model's are used, so --config.model.name=... switches cleanly.
  config.model.logistic = ml_collections.ConfigDict()
  # MLP: the hidden layers' sizes; dropout after each (training only).
  config.model.mlp = ml_collections.ConfigDict(
      dict(hidden_sizes=(512, 512), dropout_rate=0.0))
  # CNN: two 3x3 convs of `channels`, a dense layer of hidden_size, dropout
  # before the logits (training only).
  config.model.cnn = ml_collections.ConfigDict(
      dict(channels=(32, 64), hidden_size=256, dropout_rate=0.0))
  # LeNet-5 (1998) on images of at least 12x12; activation 'tanh' or 'relu'.
  config.model.lenet5 = ml_collections.ConfigDict(dict(activation="tanh"))
  # CIFAR ResNets (He et al. 2016), BatchNorm over all devices: depth 6n + 2,
  # stages of width, 2 width, 4 width channels. resnet32/44/56 are resnet20
  # with another default depth.
  config.model.resnet20 = ml_collections.ConfigDict(dict(depth=20, width=16))
  config.model.resnet32 = ml_collections.ConfigDict(dict(depth=32, width=16))
  config.model.resnet44 = ml_collections.ConfigDict(dict(depth=44, width=16))
  config.model.resnet56 = ml_collections.ConfigDict(dict(depth=56, width=16))
  # CIFAR ResNet-18: stages of width x (1, 2, 4, 8) channels.
  config.model.resnet18 = ml_collections.ConfigDict(dict(width=64))
  # A small Vision Transformer; patch_size must divide the image's sides,
  # width must be a multiple of num_heads, pool is 'cls' or 'mean'.
  config.model.vit_tiny = ml_collections.ConfigDict(
      dict(patch_size=4, width=128, depth=4, num_heads=4, mlp_dim=256,
           dropout_rate=0.0, pool="cls"))

  config.data = ml_collections.ConfigDict()
  # 'mnist', 'fashion_mnist', 'cifar10', 'digits' or 'csv' (`python launch.py
  # --list_datasets`), or any TensorFlow Datasets image-classification name
  # ('kmnist', 'svhn_cropped', ...).
  config.data.name = "mnist"
  # Local files instead of TFDS (empty: TFDS). mnist / fashion_mnist: a folder
  # with the four original IDX .gz files; cifar10: the cifar-10-batches-py
  # folder of the official python version.
  config.data.dir = ""
  # Where TFDS keeps prepared datasets; empty: its default (~/tensorflow_datasets).
  config.data.tfds_data_dir = ""
  # Offline and MNIST not prepared: use 'digits' with a warning (True) or
  # stop with an error (False).
  config.data.allow_fallback = True
  # Seconds to wait for TFDS's download host before declaring us offline.
  config.data.download_timeout_s = 5.0
  # Sources without an official test split ('digits', a TFDS dataset without
  # one) hold out this fraction.
  config.data.test_fraction = 0.2
  # Fraction of the training data held out (stratified, from the seed) as a
  # validation split evaluated every epoch; 0 disables it.
  config.data.validation_fraction = 0.1
  # The seed of the validation split (and of the test split where a source
  # has none): None uses `seed`. An ensemble's members share the split of
  # `seed`; --config.seed=S --config.data.split_seed=<the ensemble's seed>
  # reruns member S alone on that same split.
  config.data.split_seed = ml_collections.config_dict.placeholder(int)
  # Images: 'none' keeps pixels in [0, 1]; 'per_channel' standardises each
  # channel with the mean and std of the training split (not validation or
  # test); 'fixed' with image_mean and image_std below. Saved with the run and
  # applied by zoo.load.
  config.data.image_normalization = "none"
  # 'fixed' only: one mean and one std (> 0) per channel, in [0, 1] pixel
  # units, e.g. '(0.4914, 0.4822, 0.4465)'; empty otherwise.
  config.data.image_mean = ()
  config.data.image_std = ()
  # Training batches only, on the device, drawn from (seed, step, device):
  # 'crop' (zero-pad by crop_padding pixels, crop back at a random offset)
  # and/or 'flip' (left-right, probability 1/2; never for digits or text).
  # Empty: none. E.g. --config.data.augment='("crop", "flip")'.
  config.data.augment = ()
  config.data.crop_padding = 4
  # --- CSV tables (data.name='csv'; see configs/mobile_price.py) ---
  # The CSV file: a header row, then one row per example.
  config.data.path = ""
  # The column holding the class label (integers or strings).
  config.data.label_column = "label"
  # Feature columns (numeric); empty: every column except the label.
  config.data.feature_columns = ()
  # Keep only rows with these labels, as classes 0, 1, ... in this order,
  # e.g. (0, 1) or '("low", "high")'; empty: every label (sorted).
  config.data.classes = ()
  # Rows with an empty or NaN cell: stop with an error (False) or drop them
  # with a warning (True).
  config.data.drop_missing = False
  # Scale each feature by the train split's mean and std (saved with the run).
  config.data.standardize = True
  # --- end CSV tables ---

  config.train = ml_collections.ConfigDict()
  # Passes over the training data.
  config.train.num_epochs = 10
  # Global batch, split evenly over the devices: must divide by their count.
  config.train.batch_size = 128
  # Full-batch training (small tables): batch_size becomes the training-set
  # size rounded down to a multiple of the device count; one step per epoch.
  config.train.full_batch = False
  # Global eval batch; rounded up to a multiple of the device count.
  config.train.eval_batch_size = 1000
  # Log lines and metrics.jsonl step rows: at the end of each chunk that
  # passes a multiple of this many steps (and at the last step).
  config.train.log_every_steps = 50
  # Speed (docs/performance.md). Train steps per compiled call (a chunk):
  # the training split lives on the devices, each epoch's order is drawn
  # there, and a chunk runs up to this many steps in one call (a lax.scan;
  # chunks stop at epoch ends). Any value trains on the same batches in the
  # same order; 1 is a chunk of one step.
  config.train.steps_per_call = 200
  # lax.scan unroll inside a call: 0 (auto) unrolls fully for models with
  # convolutions on CPU (XLA:CPU runs conv gradients in a loop far slower),
  # else keeps a loop; k > 0 unrolls k steps.
  config.train.scan_unroll = 0
  # JAX's persistent compilation cache: 'auto' (~/.cache/haiku-zoo/jax or
  # $XDG_CACHE_HOME/haiku-zoo/jax), a folder, or '' to leave JAX's settings.
  config.train.compilation_cache_dir = "auto"
  # Label smoothing of the training loss, in [0, 1): the targets become
  # (1 - a) * one_hot + a / num_classes. Evaluation losses stay the plain
  # cross-entropy.
  config.train.label_smoothing = 0.0
  # Compute precision (docs/mixed-precision.md): 'float32', 'bfloat16' or
  # 'float16'. Params, optimizer state, logits and loss stay float32, and
  # BatchNorm/LayerNorm compute in float32; 'float16' adds dynamic loss
  # scaling (steps with non-finite gradients are skipped and counted).
  config.train.precision = "float32"

  config.optimizer = ml_collections.ConfigDict()
  # 'adam', 'adamw' (decoupled weight decay) or 'sgd' (with momentum).
  config.optimizer.name = "adam"
  # The learning rate (after warmup; the schedule starts from it).
  config.optimizer.learning_rate = 1e-3
  # 'constant' or 'cosine' (decays to 0 at the end of the run).
  config.optimizer.schedule = "constant"
  # Linear warmup from 0 to learning_rate over this many epochs (fractions
  # allowed; rounded to whole steps), then the schedule; 0: none.
  config.optimizer.warmup_epochs = 0.0
  config.optimizer.weight_decay = 0.0  # adamw only.
  config.optimizer.momentum = 0.9  # sgd only; 0 for plain SGD.
  config.optimizer.nesterov = False  # sgd with momentum > 0 only.
  # L2 penalty (l2 / 2) * sum(w**2) on the weights (not biases), any optimizer.
  config.optimizer.l2 = 0.0
  # Clip the gradient (after the l2 term) to this global norm; 0: off.
  config.optimizer.clip_norm = 0.0

  # Train several models at once, vmapped inside the same pmapped step
  # (docs/ensembles.md). Members are every (seed, learning rate) pair: seeds
  # seed, seed + 1, ..., seed + size - 1, times each of learning_rates (empty:
  # only optimizer.learning_rate). Member (seed + i, rate) trains exactly as
  # a single run with --config.seed=seed+i at that rate would (its init, data
  # order, dropout and augmentation keys). results.json gives each member's
  # numbers, their mean and std, and the accuracy of the averaged
  # probabilities (the ensemble). size=1 without rates: a single run.
  config.ensemble = ml_collections.ConfigDict()
  # Seeds per learning rate: seed, seed + 1, ..., seed + size - 1.
  config.ensemble.size = 1
  # E.g. '(1e-3, 3e-4, 1e-4)': a learning-rate sweep in one program (each
  # member's rate is part of its optimizer state, so one compile serves all).
  config.ensemble.learning_rates = ()
  # True: every member sees the data order (and augmentation draws) of
  # `seed`, so members differ only in init and dropout.
  config.ensemble.shared_data_order = False

  # What a run shows and writes besides results.json (see
  # docs/training-and-configs.md#reading-the-results). Only process 0 writes
  # files.
  config.report = ml_collections.ConfigDict()
  # A progress bar per epoch, shown only when stdout is a terminal.
  config.report.progress_bar = True
  # TensorBoard event files in the workdir (`tensorboard --logdir WORKDIR`).
  config.report.tensorboard = True
  # curves.png and confusion_matrix.png in the workdir.
  config.report.plots = True

  # Runs over several processes (launch.py --coordinator_address=HOST:PORT
  # --num_processes=N --process_id=i; docs/distributed.md).
  config.distributed = ml_collections.ConfigDict()
  # Seconds every process waits for all the others to join before failing.
  config.distributed.initialization_timeout_s = 120
  # Seconds without a heartbeat after which a process counts as dead and the
  # run stops on every process.
  config.distributed.heartbeat_timeout_s = 30

  # Checkpoints of the whole train state in WORKDIR/checkpoints; re-running
  # the same command on the same --workdir resumes from the latest one.
  config.checkpoint = ml_collections.ConfigDict()
  # Save every this many steps (0: off) and every this many epochs (0: off);
  # a run always saves at its end and when stopped by Ctrl-C / SIGTERM.
  config.checkpoint.every_steps = 0
  config.checkpoint.every_epochs = 1
  # ... but at most one such periodic save per this many seconds (runs of
  # many tiny epochs, e.g. full-batch tables, would otherwise mostly save).
  config.checkpoint.min_interval_s = 10.0
  # How many of the latest checkpoints to keep (older ones are deleted).
  config.checkpoint.keep = 3
  return config
