r"""Throughput of a K-member ensemble against one model, in one process.

  python benchmarks/ensemble.py --model mlp --members 8
  python benchmarks/ensemble.py --model cnn --members 4 --devices 2

Builds `zoo.train.setup` on synthetic data of `--shape` twice, with
`ensemble.size=K` and with 1, and times whole chunks of train steps (the
compiled calls a run makes; the first one, which compiles, is left out),
waiting for the devices after each. Prints one JSON line:
`member_ex_per_s` (K x examples per second: the examples the members
trained on together), `single_ex_per_s` (one model, same process, same
chunks) and `speedup` = their ratio: how much faster the K members train
together than K single runs one after another.
"""

import argparse
import json
import os
import pathlib
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
from zoo.runtime import xla_flags  # noqa: E402  (imports jax; no backend yet)


def parse_args(argv=None) -> argparse.Namespace:
  p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  p.add_argument("--model", default="mlp")
  p.add_argument("--members", type=int, default=8)
  p.add_argument("--batch", type=int, default=128)
  p.add_argument("--devices", type=int, default=1,
                 help="CPU: split the host into this many JAX devices.")
  p.add_argument("--shape", default="28,28,1", help="One example's shape.")
  p.add_argument("--num_examples", type=int, default=6400)
  p.add_argument("--steps_per_call", type=int, default=None,
                 help="config.train.steps_per_call (default: the config's).")
  p.add_argument("--chunks", type=int, default=5,
                 help="Timed chunks per measurement (after one warm-up).")
  return p.parse_args(argv)


def measure(args: argparse.Namespace, members: int) -> float:
  """Member-examples per second of `members` members: the median chunk."""
  import jax  # pylint: disable=g-import-not-at-top  (after XLA setup)
  import numpy as np  # pylint: disable=g-import-not-at-top
  from configs import default  # pylint: disable=g-import-not-at-top
  from zoo import train  # pylint: disable=g-import-not-at-top
  import timing  # pylint: disable=g-import-not-at-top  (benchmarks/)

  config = default.get_config()
  config.model.name = args.model
  config.train.batch_size = args.batch
  config.train.compilation_cache_dir = ""
  config.data.validation_fraction = 0.0
  if args.steps_per_call:
    config.train.steps_per_call = args.steps_per_call
  config.ensemble.size = members
  shape = tuple(int(d) for d in args.shape.split(","))
  s = train.setup(config, timing.synthetic_dataset(shape, args.num_examples))
  runner, state = s.chunk_runner, s.state
  size = runner.chunk_sizes(0)[0]
  seconds = []
  for i in range(args.chunks + 1):
    t0 = time.perf_counter()
    state, metrics = runner.run(state, 0, 0, size)
    jax.block_until_ready((state, metrics))
    if i:  # The first call compiles.
      seconds.append(time.perf_counter() - t0)
  return members * size * args.batch / float(np.median(seconds))


def main(argv=None) -> None:
  args = parse_args(argv)
  xla_flags.apply(defaults=True, cpu_devices=args.devices)
  ensemble = measure(args, args.members)
  single = measure(args, 1)
  print(json.dumps({
      "model": args.model, "members": args.members, "batch": args.batch,
      "devices": args.devices, "member_ex_per_s": round(ensemble, 1),
      "single_ex_per_s": round(single, 1),
      "speedup": round(ensemble / single, 3),
      "load_avg_1m": round(os.getloadavg()[0], 2),
      "unix_time": round(time.time())}), flush=True)


if __name__ == "__main__":
  main()
