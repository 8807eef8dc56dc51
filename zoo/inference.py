"""Use a trained model without training: `zoo.load(workdir_or_name)`.

    predictor = zoo.load("runs/mlp")        # the latest checkpoint
    one = zoo.load("runs/ens", member=2)    # an ensemble's member 2 alone
    fm = zoo.load("fashion_mnist/lenet5")   # a pretrained name (docs/pretrained.md)
    probs = predictor(images)               # [b, *input_shape] -> [b, classes]
    labels = predictor.predict(images)      # [b] class indices

Inputs are what the data source reads: images as float32 in [0, 1], NHWC; for
CSV tables the raw feature columns (in `preprocessing["feature_columns"]`
order). The run's saved `preprocessing` (a table's standardisation,
`data.image_normalization`'s channel means and stds) is applied here. The
model is rebuilt from the config saved with the checkpoint (or the
pretrained entry), re-importing `config.model.module` for models of your own.

An existing folder is a workdir; any other name made of letters, digits,
'.', '_', '/' and '-' is looked up among the pretrained names
(zoo/pretrained/manifest.py).
"""

import dataclasses
import os
import re
from typing import Any, Callable, Optional

import haiku as hk
import jax
import numpy as np

from zoo import checkpoint
from zoo import errors
from zoo.config import resolve
from zoo.config.spec import Members, RunSpec
from zoo.models import user_modules
from zoo.data import apply_preprocessing
from zoo.train import build
from zoo.train import ensemble
from zoo.train.state import TrainState


@dataclasses.dataclass(frozen=True)
class Predictor:
  """Maps a batch `[b, *input_shape]` to class probabilities `[b, classes]`."""
  spec: RunSpec = dataclasses.field(repr=False)  # The run's config, resolved.
  step: int  # The checkpoint's step.
  input_shape: tuple[int, ...]
  num_classes: int
  class_names: tuple[str, ...]
  params: hk.Params = dataclasses.field(repr=False)
  model_state: hk.State = dataclasses.field(repr=False)
  path: str  # The checkpoint directory (or weights file).
  preprocessing: Optional[dict[str, Any]] = dataclasses.field(
      repr=False)  # Fitted on train, if any.
  # The members whose probabilities are averaged (`seed`, `learning_rate`);
  # params and model_state are member-stacked ([K, ...], K = 1 included).
  members: tuple[dict[str, Any], ...]
  _probabilities: Callable[..., jax.Array] = dataclasses.field(repr=False)

  def __call__(self, inputs: Any) -> np.ndarray:
    """float32 probabilities `[b, num_classes]`; each row sums to 1."""
    x = np.asarray(inputs, np.float32)
    if x.shape[1:] != self.input_shape:
      hint = (" For one example, pass x[None]." if x.shape == self.input_shape
              else "")
      raise errors.DataError(
          f"The model in {self.path} takes inputs of shape [batch, "
          f"{', '.join(map(str, self.input_shape))}]; got {x.shape}.{hint}")
    x = apply_preprocessing(x, self.preprocessing)
    return np.asarray(self._probabilities(self.params, self.model_state, x))

  def flops_per_example(self) -> Optional[float]:
    """XLA's FLOP count of one example's forward pass (None if XLA gives
    none); preprocessing is not counted."""
    x = np.zeros((1, *self.input_shape), np.float32)
    costs = self._probabilities.lower(
        self.params, self.model_state, x).compile().cost_analysis()
    if isinstance(costs, (list, tuple)):  # Older jax: one dict per program.
      costs = costs[0] if costs else None
    flops = (costs or {}).get("flops")
    return None if flops is None else float(flops)

  def predict(self, inputs: Any) -> np.ndarray:
    """The most probable class of each example, int `[b]`."""
    return np.argmax(self(inputs), axis=-1)


def build_from_meta(meta: dict[str, Any]):
  """The spec, forward and a state shaped like the checkpoint's (zeros, to
  restore into) that a checkpoint's meta describes."""
  spec = resolve.resolve(meta["config"])
  user_modules.import_user_modules(spec.model.module)
  data = meta["dataset"]
  forward, optimizer = build.model_and_optimizer(
      spec, data["num_classes"], data.get("steps_per_epoch", 1))
  # Only the structure, shapes and dtypes matter: trace, don't compute.
  abstract = build.abstract_state(spec, forward, optimizer,
                                  data["input_shape"])
  fresh = jax.tree.map(lambda x: np.zeros(x.shape, x.dtype),
                       abstract._replace(rng=None))
  keys = ensemble.stack([jax.random.key(0)] * spec.members.size)
  return spec, forward, fresh._replace(rng=keys)


NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]*")


def load(name_or_workdir: str, step: Optional[int] = None,
         member: Optional[int] = None) -> Predictor:
  """The model of a workdir's latest (or given) checkpoint, or of a
  pretrained name.

  An ensemble's predictor averages the probabilities of all its members;
  `member=i` keeps member i alone (`Predictor.members` lists them: seed
  and learning rate, in member order).
  """
  source = os.fspath(name_or_workdir)
  if os.path.isdir(source) or not NAME_PATTERN.fullmatch(source):
    return load_workdir(source, step, member)
  if step is not None:
    raise errors.ConfigError(
        f"step={step} applies to a workdir's checkpoints; {source!r} is a "
        "pretrained name (no folder of that name exists). Leave step out.")
  from zoo.pretrained import loading  # pylint: disable=g-import-not-at-top
  return loading.load(source, member)


def load_workdir(workdir: str, step: Optional[int] = None,
                 member: Optional[int] = None) -> Predictor:
  """The model of the latest (or the given) checkpoint in `workdir`."""
  ckpt = checkpoint.Checkpointer(workdir, read_only=True)
  steps = ckpt.steps()
  if not steps:
    raise checkpoint.CheckpointError(
        f"No checkpoint in {ckpt.directory}. Train with `python launch.py "
        f"--config=... --workdir={workdir}` first.")
  built = {}

  def make_like(meta: dict[str, Any]) -> TrainState:
    built["spec"], built["forward"], fresh = build_from_meta(meta)
    return fresh

  if step is None:
    restored = ckpt.restore_latest(make_like)
  elif step not in steps:
    raise checkpoint.CheckpointError(
        f"No checkpoint for step {step} in {ckpt.directory}; there are: "
        f"{', '.join(map(str, steps))}.")
  else:
    meta = ckpt.read_meta(step)
    restored = ckpt.restore(step, make_like(meta), meta)
  ckpt.close()
  state = jax.device_put(restored.state)
  return make_predictor(built["spec"], built["forward"], state.params,
                        state.model_state, restored.meta["dataset"],
                        restored.step, restored.path, member)


def make_predictor(spec: RunSpec, forward: hk.TransformedWithState,
                   params: hk.Params, model_state: hk.State,
                   data: dict[str, Any], step: int, path: str,
                   member: Optional[int] = None) -> Predictor:
  """The Predictor of member-stacked `params` and `model_state` ([K, ...]);
  `data` holds `input_shape`, `num_classes`, and `class_names` and
  `preprocessing` if any."""
  members = spec.members
  weights, k = (params, model_state), members.size
  if member is not None:
    if not 0 <= member < k:
      raise errors.ConfigError(
          f"member={member} is not a member of {path}: it holds "
          f"{k} (0 .. {k - 1}).")
    weights = ensemble.member(weights, member, k)
    weights, k = ensemble.stack([weights]), 1  # Member-stacked, K = 1.
  return Predictor(
      spec=spec, step=step,
      input_shape=tuple(data["input_shape"]),
      num_classes=data["num_classes"],
      class_names=tuple(data.get("class_names") or ()),
      params=weights[0], model_state=weights[1],
      path=path, preprocessing=data.get("preprocessing"),
      members=_describe(members, member, spec.optimizer.learning_rate),
      _probabilities=_mean_probabilities(forward, k))


def _describe(members: Members, member: Optional[int], default_rate: float
             ) -> tuple[dict[str, Any], ...]:
  """`{'seed', 'learning_rate'}` of each member kept."""
  out = tuple({"seed": s, "learning_rate": r} for s, r in zip(
      members.seeds, members.rates(default_rate)))
  return out if member is None else (out[member],)


def _mean_probabilities(forward: hk.TransformedWithState,
                        num_members: int) -> Callable[..., jax.Array]:
  """`(params, model_state, x) -> [b, classes]`: the members' mean softmax
  (member-stacked params)."""

  def one(params, model_state, x):
    logits, _ = forward.apply(params, model_state, None, x,
                              is_training=False)
    return jax.nn.softmax(logits, axis=-1)

  def probabilities(params, model_state, x):
    return ensemble.map_members(one, num_members, (0, 0, None), 0)(
        params, model_state, x).mean(axis=0)

  return jax.jit(probabilities)
