r"""Hand-written JAX loops (not the zoo's) on the zoo's Haiku models.

  python benchmarks/jax_reference.py --model mlp --mode scan --chunk 50
  python benchmarks/jax_reference.py --model cnn --mode pmap --devices 2
  python benchmarks/jax_reference.py --model mlp --mode jit

  jit   the Haiku tutorial loop: one jitted step per batch, numpy batches.
  scan  data on the device, `--chunk` steps per jitted lax.scan call
        (`--unroll`, 0 = full), state donated; one device.
  pmap  one pmapped step per batch over `--devices` CPU devices.
Same synthetic data, Adam(1e-3), timing as windows.py. Prints a JSON line.
"""

import argparse
import functools
import json
import os
import pathlib
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
from zoo.runtime import xla_flags  # noqa: E402

from windows import Windows  # noqa: E402


def parse_args() -> argparse.Namespace:
  p = argparse.ArgumentParser()
  p.add_argument("--model", default="mlp")
  p.add_argument("--batch", type=int, default=128)
  p.add_argument("--mode", choices=("jit", "scan", "pmap"), default="scan")
  p.add_argument("--chunk", type=int, default=50)
  p.add_argument("--unroll", type=int, default=1)
  p.add_argument("--devices", type=int, default=1)
  p.add_argument("--shape", default="28,28,1")
  p.add_argument("--num_examples", type=int, default=60000)
  p.add_argument("--windows", type=int, default=3)
  p.add_argument("--window_s", type=float, default=3.0)
  p.add_argument("--warmup_s", type=float, default=1.0)
  p.add_argument("--no_xla_defaults", action="store_true")
  return p.parse_args()


def main() -> None:
  args = parse_args()
  xla_flags.apply(defaults=not args.no_xla_defaults, cpu_devices=args.devices)
  import jax  # pylint: disable=g-import-not-at-top
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
  import numpy as np  # pylint: disable=g-import-not-at-top
  import optax  # pylint: disable=g-import-not-at-top
  from zoo.models import registry  # pylint: disable=g-import-not-at-top
  from zoo.runtime import parallel  # pylint: disable=g-import-not-at-top

  shape = tuple(int(d) for d in args.shape.split(","))
  n, b = args.num_examples, args.batch
  rng = np.random.default_rng(0)
  x_host = rng.random((n, *shape), dtype=np.float32)
  y_host = rng.integers(0, 10, n).astype(np.int32)
  forward = registry.build_forward(args.model, 10, {})
  opt = optax.adam(1e-3)
  params, _ = forward.init(jax.random.key(0), x_host[:1], is_training=True)
  carry = (params, opt.init(params))

  def step(carry, x, y):
    params, opt_state = carry

    def loss_fn(p):
      logits, _ = forward.apply(p, {}, None, x, is_training=True)
      return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

    loss, grads = jax.value_and_grad(loss_fn)(params)
    if args.mode == "pmap":
      grads = jax.lax.pmean(grads, "d")
    updates, opt_state = opt.update(grads, opt_state, params)
    return (optax.apply_updates(params, updates), opt_state), loss

  steps = n // b
  timer = Windows(args.windows, args.window_s, args.warmup_s, b,
                  lambda: jax.block_until_ready(carry))
  t_start = time.perf_counter()
  count, done, epoch = 0, False, 0
  if args.mode == "scan":
    x_dev, y_dev = jnp.asarray(x_host), jnp.asarray(y_host)
    chunk = min(args.chunk, steps)
    unroll = args.unroll or chunk

    @functools.partial(jax.jit, donate_argnums=0, static_argnums=3)
    def run_chunk(carry, order, start, length):
      def body(carry, i):
        idx = jax.lax.dynamic_slice_in_dim(order, (start + i) * b, b)
        return step(carry, x_dev[idx], y_dev[idx])
      return jax.lax.scan(body, carry, jnp.arange(length),
                          unroll=min(unroll, length))

    while not done:
      order = jax.random.permutation(jax.random.key(epoch), n)
      epoch += 1
      start = 0
      while start < steps and not done:
        length = min(chunk, steps - start)
        carry, _ = run_chunk(carry, order, start, length)
        start += length
        count += length
        done = timer.tick(count, epoch_done=start == steps)
  else:
    d = args.devices if args.mode == "pmap" else 1
    if args.mode == "pmap":
      fn = jax.pmap(step, axis_name="d", donate_argnums=0)
      carry = parallel.replicate(carry, jax.local_devices()[:d])
    else:
      fn = jax.jit(step, donate_argnums=0)
    while not done:
      order = np.random.default_rng(epoch).permutation(n)
      epoch += 1
      for i in range(steps):
        idx = order[i * b:(i + 1) * b]
        x, y = x_host[idx], y_host[idx]
        if args.mode == "pmap":
          x, y = x.reshape(d, b // d, *shape), y.reshape(d, b // d)
        carry, loss = fn(carry, x, y)
        if d > 1:
          loss.block_until_ready()  # Multi-device CPU: one step in flight.
        count += 1
        if timer.tick(count, epoch_done=i == steps - 1):
          done = True
          break
  print(json.dumps({
      "impl": f"jax_{args.mode}", "model": args.model, "batch": b,
      "num_devices": jax.local_device_count(), "chunk": args.chunk,
      "unroll": args.unroll, "ex_per_s": round(timer.median, 1),
      "window_ex_per_s": [round(r, 1) for r in timer.rates],
      "time_to_first_step_s": round(timer.first_step_s, 2),
      "wall_s": round(time.perf_counter() - t_start, 1),
      "xla_flags": os.environ.get("XLA_FLAGS", ""),
      "load_avg_1m": round(os.getloadavg()[0], 2),
      "unix_time": round(time.time())}), flush=True)


if __name__ == "__main__":
  main()
