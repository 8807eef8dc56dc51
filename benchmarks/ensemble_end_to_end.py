r"""K seeds of a recipe end to end: one ensemble launch against K launches.

  python benchmarks/ensemble_end_to_end.py --config=configs/mlp.py \
      --data_dir=../shared/data/mnist-5k --members 8 --rounds 2

Each round times, as whole processes and in turn (so both see the same
machine):
  sequential  K `launch.py` runs, one after another, with `--config.seed`
              seed .. seed + K - 1 and `--config.data.split_seed=seed`;
  ensemble    one `launch.py` run with `--config.ensemble.size=K`.
Both use the same persistent compilation cache; a warm-up round (one
sequential run and the ensemble, not counted) fills it first, as a user's
earlier runs would. Prints one JSON
line: the median seconds of each, `speedup` (sequential / ensemble), and
the largest difference between a sequential run's test accuracy and its
ensemble member's (the same model up to float rounding).
"""

import argparse
import json
import os
import pathlib
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

REPO = pathlib.Path(__file__).resolve().parents[1]


def parse_args(argv=None) -> argparse.Namespace:
  p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  p.add_argument("--config", default="configs/mlp.py")
  p.add_argument("--data_dir", default="",
                 help="--config.data.dir for every run ('' : the config's).")
  p.add_argument("--members", type=int, default=8)
  p.add_argument("--seed", type=int, default=0)
  p.add_argument("--rounds", type=int, default=2,
                 help="Counted rounds (each: sequential, then ensemble).")
  p.add_argument("--override", action="append", default=[],
                 help="Another --config.k=v for every run (repeatable).")
  p.add_argument("--json", default="",
                 help="Also record the result in this table file (e.g. "
                 "benchmarks/results/ensemble_end_to_end.json; see results_json.py).")
  return p.parse_args(argv)


def _launch(args: argparse.Namespace, workdir: pathlib.Path,
            extra: list[str]) -> dict:
  """One launch.py run to the end; its results.json."""
  cmd = [sys.executable, "launch.py", f"--config={args.config}",
         f"--workdir={workdir}", *extra, *args.override]
  if args.data_dir:
    cmd.append(f"--config.data.dir={args.data_dir}")
  proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True,
                        check=False)
  if proc.returncode:
    sys.exit(f"error: {' '.join(cmd)} failed:\n{proc.stderr[-2000:]}")
  return json.loads((workdir / "results.json").read_text())


def _round(args: argparse.Namespace, tmp: pathlib.Path, num_single: int):
  """(sequential seconds, ensemble seconds, sequential accuracies,
  ensemble member accuracies) of one round (of `num_single` sequential
  runs), in fresh workdirs."""
  shutil.rmtree(tmp, ignore_errors=True)
  t0 = time.perf_counter()
  single = [
      _launch(args, tmp / f"seed{i}",
              [f"--config.seed={args.seed + i}",
               f"--config.data.split_seed={args.seed}"])["test_accuracy"]
      for i in range(num_single)]
  sequential = time.perf_counter() - t0
  t0 = time.perf_counter()
  results = _launch(args, tmp / "ensemble",
                    [f"--config.seed={args.seed}",
                     f"--config.ensemble.size={args.members}"])
  together = time.perf_counter() - t0
  members = [m["test_accuracy"] for m in results.get("members", [results])]
  return sequential, together, single, members


def main(argv=None) -> None:
  args = parse_args(argv)
  with tempfile.TemporaryDirectory(prefix="zoo-ensemble-e2e-") as tmp:
    # A warm-up round (one sequential run and the ensemble) fills the cache.
    _round(args, pathlib.Path(tmp) / "warmup", 1)
    rounds = [_round(args, pathlib.Path(tmp) / str(r), args.members)
              for r in range(args.rounds)]
  sequential = statistics.median(r[0] for r in rounds)
  together = statistics.median(r[1] for r in rounds)
  single, members = rounds[-1][2], rounds[-1][3]
  result = {
      "config": args.config, "members": args.members,
      "overrides": args.override,
      "sequential_s": round(sequential, 2), "ensemble_s": round(together, 2),
      "speedup": round(sequential / together, 3),
      "rounds": [[round(r[0], 2), round(r[1], 2)] for r in rounds],
      "num_rounds": len(rounds),
      "test_accuracy_sequential": single,
      "test_accuracy_members": members,
      "max_accuracy_difference": max(abs(a - b)
                                     for a, b in zip(single, members)),
      "load_avg_1m": round(os.getloadavg()[0], 2),
      "unix_time": round(time.time())}
  print(json.dumps(result), flush=True)
  if args.json:
    sys.path.insert(0, str(REPO / "benchmarks"))
    import results_json  # pylint: disable=g-import-not-at-top
    results_json.record(args.json, result, ["config", "members", "overrides"])


if __name__ == "__main__":
  main()
