r"""Training throughput of a zoo model through the zoo's own loop.

  python benchmarks/throughput.py --model mlp --batch 128
  python benchmarks/throughput.py --model cnn --batch 128 --devices 2
  python benchmarks/throughput.py --model mlp --time_to_accuracy 0.93 \
      --data_dir ../shared/data/mnist-5k

Prints one JSON line per measurement (--json PATH also records it in a
table file of docs/performance.md: benchmarks/results_json.py). Throughput: `zoo.train.setup` and
`zoo.train.train` (the loop `launch.py` runs, with its config fields) on
synthetic data of `--shape`; a hook times windows of >= --window_s seconds
after a warm-up (the first epoch and --warmup_s), waiting for the devices
at each window's end; `ex_per_s` is the median window. `compile_s` is XLA's
compile time during the run (JAX's backend-compile events);
`train_gflops` is XLA's flop count of one train step times steps/s, and
`pct_of_matmul_peak` compares it with a float32 2048^3 matmul through XLA
measured in the same process. Time to accuracy: the recipe
configs/<model>.py on MNIST IDX files; the test split is evaluated after
each epoch, off the clock.
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
  p.add_argument("--batch", type=int, default=128)
  p.add_argument("--devices", type=int, default=1,
                 help="CPU: split the host into this many JAX devices.")
  p.add_argument("--steps_per_call", type=int, default=None,
                 help="config.train.steps_per_call (default: the config's).")
  p.add_argument("--scan_unroll", type=int, default=None)
  p.add_argument("--shape", default="28,28,1", help="One example's shape.")
  p.add_argument("--num_examples", type=int, default=60000)
  p.add_argument("--windows", type=int, default=3)
  p.add_argument("--window_s", type=float, default=3.0)
  p.add_argument("--warmup_s", type=float, default=1.0)
  p.add_argument("--report_hooks", action="store_true",
                 help="Also run the hooks of a real run (log, metrics, bar).")
  p.add_argument("--no_xla_defaults", action="store_true",
                 help="Do not add zoo.runtime.xla_flags.cpu_flags() to "
                 "XLA_FLAGS.")
  p.add_argument("--cache_dir", default="",
                 help="config.train.compilation_cache_dir ('' = off).")
  p.add_argument("--time_to_accuracy", type=float, default=None)
  p.add_argument("--data_dir", default="../shared/data/mnist-5k")
  p.add_argument("--max_epochs", type=int, default=50)
  p.add_argument("--skip_peak", action="store_true")
  p.add_argument("--augment", default="",
                 help="config.data.augment as comma-separated names, e.g. "
                 "crop,flip (on-device augmentation; its cost).")
  p.add_argument("--crop_padding", type=int, default=4)
  p.add_argument("--precision", default="float32",
                 help="config.train.precision: float32, bfloat16 or float16.")
  p.add_argument("--json", default="",
                 help="Also record the result in this table file (e.g. "
                 "benchmarks/results/time_to_accuracy.json; see results_json.py).")
  return p.parse_args(argv)


def main(argv=None) -> None:
  args = parse_args(argv)
  xla_flags.apply(defaults=not args.no_xla_defaults, cpu_devices=args.devices)
  import timing  # pylint: disable=g-import-not-at-top  (after XLA setup)
  compiles = timing.CompileTimer()
  peak = None if args.skip_peak else timing.matmul_peak_gflops()
  if args.time_to_accuracy is not None:
    result = timing.time_to_accuracy(args, compiles)
  else:
    result = timing.throughput(args, compiles)
    if peak:
      result["pct_of_matmul_peak"] = round(
          100 * result["train_gflops"] / peak, 1)
  result.update(matmul_peak_gflops=peak and round(peak, 1),
                xla_flags=os.environ.get("XLA_FLAGS", ""),
                load_avg_1m=round(os.getloadavg()[0], 2),
                unix_time=round(time.time()))
  print(json.dumps(result), flush=True)
  if args.json:
    import results_json  # pylint: disable=g-import-not-at-top  (benchmarks/)
    key = (["model", "target_test_accuracy"] if args.time_to_accuracy
           is not None else ["model", "batch", "num_devices", "precision",
                             "augment", "steps_per_call", "report_hooks"])
    results_json.record(args.json, result, key)


if __name__ == "__main__":
  main()
