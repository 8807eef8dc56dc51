r"""Interleaved variants of throughput.py: how the defaults were chosen.

  python benchmarks/sweep.py --rounds 3 \
      "--model mlp --steps_per_call 1" "--model mlp --steps_per_call 200" \
      "--model mlp --devices 2"

Each round runs every variant once (a fresh process each); before each run
it waits until other processes leave the CPUs idle (compare.wait_for_quiet).
Prints each run, then per variant the median over rounds and the rounds;
--json PATH records the medians in a table file (results_json.py).
"""

import argparse
import json
import pathlib
import statistics
import subprocess
import sys

from compare import wait_for_quiet

HERE = pathlib.Path(__file__).resolve().parent


def main() -> None:
  p = argparse.ArgumentParser()
  p.add_argument("variants", nargs="+", help="throughput.py arguments.")
  p.add_argument("--rounds", type=int, default=3)
  p.add_argument("--max_busy", type=float, default=0.2)
  p.add_argument("--max_wait_s", type=float, default=900)
  p.add_argument("--out", default="/tmp/zoo-sweep.jsonl")
  p.add_argument("--json", default="",
                 help="Also record the result in this table file (e.g. "
                 "benchmarks/results/defaults.json; see results_json.py).")
  args = p.parse_args()
  runs: dict[str, list[dict]] = {}
  for r in range(args.rounds):
    for variant in args.variants:
      busy = wait_for_quiet(args.max_busy, args.max_wait_s)
      out = subprocess.run(
          [sys.executable, str(HERE / "throughput.py"), *variant.split()],
          capture_output=True, text=True, check=False, cwd=HERE.parent)
      lines = [l for l in out.stdout.splitlines() if l.startswith("{")]
      rec = json.loads(lines[-1]) if lines else {"error": out.stderr[-500:]}
      rec.update(variant=variant, round=r, busy_before=round(busy, 2))
      with open(args.out, "a", encoding="utf-8") as f:
        f.write(json.dumps(rec) + "\n")
      runs.setdefault(variant, []).append(rec)
      print(f"round {r} | {variant} | {rec.get('ex_per_s')} ex/s | compile "
            f"{rec.get('compile_s')} s | load {rec.get('load_avg_1m')}",
            flush=True)
  print("\n| variant | ex/s (median) | rounds | compile s |")
  print("|---|---|---|---|")
  for variant, recs in runs.items():
    rates = [x["ex_per_s"] for x in recs if "ex_per_s" in x]
    if rates:
      print(f"| `{variant}` | {statistics.median(rates):,.0f} | "
            f"{', '.join(f'{x:,.0f}' for x in rates)} | "
            f"{', '.join(str(x.get('compile_s')) for x in recs)} |")
      if args.json:
        import results_json  # pylint: disable=g-import-not-at-top
        compiles = [x["compile_s"] for x in recs if "compile_s" in x]
        results_json.record(args.json, {
            "variant": variant, "ex_per_s": statistics.median(rates),
            "compile_s": statistics.median(compiles),
            "rounds": len(rates)}, ["variant"])


if __name__ == "__main__":
  main()
