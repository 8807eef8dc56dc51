"""Pure train and eval steps, written per device and pmapped over `AXIS`.

Shapes inside a step (per device, `b = global_batch // num_devices`):
  inputs `[b, *input_shape]` float32, labels `[b]` int32, mask `[b]` float32,
  logits `[b, num_classes]`.
"""

from typing import Callable

import chex
import haiku as hk
import jax
import jax.numpy as jnp
import optax

from zoo.runtime.parallel import AXIS
from zoo.train import ensemble
from zoo.train import loss_scale as loss_scale_lib
from zoo.train.state import TrainState

Batch = dict[str, jax.Array]
Metrics = dict[str, jax.Array]


def step_rng(state: TrainState) -> jax.Array:
  """This step's key on this device: the base key folded with step and device.

  Dropout masks thus differ per step and per device, and depend on the seed
  only, so runs reproduce.
  """
  return jax.random.fold_in(jax.random.fold_in(state.rng, state.step),
                            jax.lax.axis_index(AXIS))


def _pmean_floats(tree):
  """Averages float leaves over devices; integer leaves (counters) stay."""
  return jax.tree.map(
      lambda x: jax.lax.pmean(x, AXIS)
      if jnp.issubdtype(x.dtype, jnp.floating) else x, tree)


def _check_batch(batch: Batch, input_shape: tuple[int, ...]) -> None:
  labels = batch["labels"]
  chex.assert_rank(labels, 1)
  chex.assert_type(labels, int)
  chex.assert_shape(batch["inputs"], (labels.shape[0], *input_shape))
  if "mask" in batch:
    chex.assert_shape(batch["mask"], labels.shape)


def train_loss(logits: jax.Array, labels: jax.Array,
               label_smoothing: float = 0.0) -> jax.Array:
  """Per-example training loss `[b]`: softmax cross-entropy.

  With `label_smoothing` > 0 the targets are the one-hot labels smoothed by
  `optax.smooth_labels` (`(1 - a) * one_hot + a / num_classes`); with 0 it is
  exactly the integer-label cross-entropy that evaluation uses.
  """
  if not label_smoothing:
    return optax.softmax_cross_entropy_with_integer_labels(logits, labels)
  targets = optax.smooth_labels(
      jax.nn.one_hot(labels, logits.shape[-1], dtype=logits.dtype),
      label_smoothing)
  return optax.softmax_cross_entropy(logits, targets)


def make_train_step(
    forward: hk.TransformedWithState, optimizer: optax.GradientTransformation,
    input_shape: tuple[int, ...], num_classes: int,
    label_smoothing: float = 0.0,
) -> Callable[[TrainState, Batch], tuple[TrainState, Metrics]]:
  """Returns `train_step(state, batch) -> (state, metrics)`.

  Gradients, model state and metrics are averaged over the pmap axis. The
  loss (and its metric) is `train_loss(..., label_smoothing)`, computed in
  float32 from float32 logits whatever the compute precision; the eval step
  always reports the plain cross-entropy. `metrics`: 'loss', 'accuracy'
  (float32) and `loss_scale.metrics` ('skipped', 'loss_scale'). The loss is
  scaled by `state.loss_scale` before differentiation; a step whose averaged
  gradients are not finite is skipped where that scale is dynamic (float16).
  """

  def loss_fn(params, model_state, loss_scale, rng, inputs, labels):
    logits, model_state = forward.apply(params, model_state, rng, inputs,
                                        is_training=True)
    chex.assert_shape(logits, (inputs.shape[0], num_classes))
    chex.assert_type(logits, jnp.float32)
    loss = train_loss(logits, labels, label_smoothing).mean()
    return loss_scale.scale(loss), (loss, model_state, logits)

  def train_step(state: TrainState, batch: Batch):
    _check_batch(batch, input_shape)
    grad_fn = jax.grad(loss_fn, has_aux=True)
    grads, (loss, model_state, logits) = grad_fn(
        state.params, state.model_state, state.loss_scale, step_rng(state),
        batch["inputs"], batch["labels"])
    grads = state.loss_scale.unscale(jax.lax.pmean(grads, AXIS))
    finite, loss_scale = loss_scale_lib.adjust(state.loss_scale, grads)
    model_state = _pmean_floats(model_state)
    updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
    params = optax.apply_updates(state.params, updates)
    params, model_state, opt_state = loss_scale_lib.keep_if_finite(
        state.loss_scale, finite, (params, model_state, opt_state),
        (state.params, state.model_state, state.opt_state))
    accuracy = jnp.mean(jnp.argmax(logits, -1) == batch["labels"])
    metrics = jax.lax.pmean({"loss": loss, "accuracy": accuracy}, AXIS)
    metrics.update(loss_scale_lib.metrics(loss_scale, finite))
    new_state = TrainState(params, model_state, opt_state, state.step + 1,
                           state.rng, loss_scale)
    return new_state, metrics

  return train_step


def eval_outputs(forward: hk.TransformedWithState, state: TrainState,
                 batch: Batch, num_classes: int
                ) -> tuple[Metrics, jax.Array]:
  """One model on one device's eval batch: `({'loss_sum', 'correct',
  'count'}, logits [b, num_classes])`, sums over the real (mask = 1)
  examples, not yet summed over devices."""
  logits, _ = forward.apply(state.params, state.model_state, None,
                            batch["inputs"], is_training=False)
  chex.assert_shape(logits, (batch["labels"].shape[0], num_classes))
  mask = batch["mask"]
  loss = optax.softmax_cross_entropy_with_integer_labels(
      logits, batch["labels"])
  predictions = jnp.argmax(logits, -1)
  sums = {
      "loss_sum": jnp.sum(loss * mask),
      "correct": jnp.sum((predictions == batch["labels"]) * mask),
      "count": jnp.sum(mask),
  }
  return sums, logits


def make_eval_step(
    forward: hk.TransformedWithState, input_shape: tuple[int, ...],
    num_classes: int,
) -> Callable[[TrainState, Batch], tuple[Metrics, jax.Array]]:
  """Returns `eval_step(state, batch) -> (sums, predictions)`.

  `sums` holds `loss_sum`, `correct` and `count` over the real (mask = 1)
  examples of the whole global batch; `predictions` `[b]` are class indices.
  """

  def eval_step(state: TrainState, batch: Batch):
    _check_batch(batch, input_shape)
    sums, logits = eval_outputs(forward, state, batch, num_classes)
    return jax.lax.psum(sums, AXIS), jnp.argmax(logits, -1)

  return eval_step


def make_members_eval_step(
    forward: hk.TransformedWithState, input_shape: tuple[int, ...],
    num_classes: int, num_members: int, unrolled_members: bool = False,
) -> Callable[[TrainState, Batch], tuple[Metrics, jax.Array]]:
  """`make_eval_step` of a member-stacked state: `(sums, predictions)`.

  `sums`: `loss_sum` and `correct` `[K]` (per member), `count`, and the
  ensemble's `ensemble_loss_sum` and `ensemble_correct` (the averaged
  probabilities), over the whole global batch. `predictions` `[b]`: the
  ensemble's classes (the argmax of the averaged probabilities).
  """

  def eval_step(state: TrainState, batch: Batch):
    _check_batch(batch, input_shape)
    sums, logits = ensemble.map_members(
        lambda s: eval_outputs(forward, s, batch, num_classes), num_members,
        in_axes=(ensemble.STATE_AXES,), out_axes=0,
        unrolled=unrolled_members)(state)
    # log of the mean probability over members: [b, num_classes].
    log_probs = (jax.nn.logsumexp(jax.nn.log_softmax(logits), axis=0)
                 - jnp.log(num_members))
    predictions = jnp.argmax(log_probs, -1)
    mask, labels = batch["mask"], batch["labels"]
    nll = -jnp.take_along_axis(log_probs, labels[:, None], -1)[:, 0]
    sums = {"loss_sum": sums["loss_sum"], "correct": sums["correct"],
            "count": sums["count"][0],
            "ensemble_loss_sum": jnp.sum(nll * mask),
            "ensemble_correct": jnp.sum((predictions == labels) * mask)}
    return jax.lax.psum(sums, AXIS), predictions

  return eval_step
