r"""Throughput of a K-member ensemble against one model, in one process.

  python benchmarks/ensemble.py --model mlp --members 8
  python benchmarks/ensemble.py --model cnn --members 4 --devices 2
  python benchmarks/ensemble.py --model logistic --members 8 --shared_data_order

Builds `zoo.train.setup` on synthetic data of `--shape` twice, with
`ensemble.size=K` and with 1, and times whole chunks of train steps (the
compiled calls a run makes; the first one, which compiles, is left out),
waiting for the devices after each, the two programs' chunks in turn. Prints one JSON line:
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
from zoo.runtime import xla_flags  # noqa: E402  (starts no backend)


def parse_args(argv=None) -> argparse.Namespace:
  p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  p.add_argument("--model", default="mlp")
  p.add_argument("--members", type=int, default=8)
  p.add_argument("--batch", type=int, default=128)
  p.add_argument("--devices", type=int, default=1,
                 help="CPU: split the host into this many JAX devices.")
  p.add_argument("--shape", default="28,28,1", help="One example's shape.")
  p.add_argument("--num_examples", type=int, default=6400)
  p.add_argument("--shared_data_order", action="store_true",
                 help="config.ensemble.shared_data_order: one batch order "
                 "for all members (each batch read once).")
  p.add_argument("--steps_per_call", type=int, default=None,
                 help="config.train.steps_per_call (default: the config's).")
  p.add_argument("--chunks", type=int, default=10,
                 help="Timed chunks of each program (after one that "
                 "compiles), in turn.")
  p.add_argument("--json", default="",
                 help="Also record the result in this table file (e.g. "
                 "benchmarks/results/ensemble.json; see results_json.py).")
  return p.parse_args(argv)


def _setup(args: argparse.Namespace, members: int):
  """`(run_chunk, examples per chunk)` of a `members`-member setup; each
  `run_chunk()` trains one chunk and waits for the devices."""
  import jax  # pylint: disable=g-import-not-at-top  (after XLA setup)
  from configs import default  # pylint: disable=g-import-not-at-top
  from zoo import train  # pylint: disable=g-import-not-at-top
  from zoo.config import resolve  # pylint: disable=g-import-not-at-top
  import timing  # pylint: disable=g-import-not-at-top  (benchmarks/)

  config = default.get_config()
  config.model.name = args.model
  config.train.batch_size = args.batch
  config.train.compilation_cache_dir = ""
  config.data.validation_fraction = 0.0
  if args.steps_per_call:
    config.train.steps_per_call = args.steps_per_call
  config.ensemble.size = members
  config.ensemble.shared_data_order = args.shared_data_order
  shape = tuple(int(d) for d in args.shape.split(","))
  s = train.setup(resolve.resolve(config),
                  timing.synthetic_dataset(shape, args.num_examples))
  size = s.chunk_runner.chunk_sizes(0)[0]
  holder = {"state": s.state}

  def run_chunk() -> None:
    holder["state"], metrics = s.chunk_runner.run(holder["state"], 0, 0, size)
    jax.block_until_ready((holder["state"], metrics))

  run_chunk()  # Compiles.
  return run_chunk, members * size * args.batch


def measure(args: argparse.Namespace) -> tuple[float, float]:
  """Member-examples per second of the K-member program and of one model:
  the median chunk of each, their chunks timed in turn (K, 1, K, 1, ...)
  so that both see the same machine."""
  import numpy as np  # pylint: disable=g-import-not-at-top
  programs = [_setup(args, args.members), _setup(args, 1)]
  seconds = [[], []]
  for _ in range(args.chunks):
    for (run_chunk, _), times in zip(programs, seconds):
      t0 = time.perf_counter()
      run_chunk()
      times.append(time.perf_counter() - t0)
  return tuple(examples / float(np.median(times))
               for (_, examples), times in zip(programs, seconds))


def main(argv=None) -> None:
  args = parse_args(argv)
  xla_flags.apply(defaults=True, cpu_devices=args.devices)
  ensemble, single = measure(args)
  result = {
      "model": args.model, "members": args.members, "batch": args.batch,
      "devices": args.devices,
      "shared_data_order": args.shared_data_order,
      "member_ex_per_s": round(ensemble, 1),
      "single_ex_per_s": round(single, 1),
      "speedup": round(ensemble / single, 3),
      "load_avg_1m": round(os.getloadavg()[0], 2),
      "unix_time": round(time.time())}
  print(json.dumps(result), flush=True)
  if args.json:
    import results_json  # pylint: disable=g-import-not-at-top  (benchmarks/)
    results_json.record(args.json, result,
                        ["model", "members", "shared_data_order"])


if __name__ == "__main__":
  main()
