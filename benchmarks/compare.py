r"""Side by side: the zoo's loop, hand-written JAX and PyTorch, interleaved.

  python benchmarks/compare.py --torch_python /tmp/venv-torch/bin/python
  python benchmarks/compare.py --cases mlp:128,cnn:128 --rounds 3

Each round runs every implementation of every case once, one after the
other (each a fresh process printing one JSON line, the median of its timed
windows); the table shows, per implementation, the median over the rounds,
with the 1-minute load average at the end of each run and the zoo's ratios.
All raw lines go to --out (JSON lines); --json PATH records the medians in
a table file of docs/performance.md (results_json.py). Before each run it waits (up to
--max_wait_s) until other processes use at most --max_busy of the CPUs.
"""

import argparse
import json
import os
import pathlib
import resource
import statistics
import subprocess
import sys
import time
from typing import Sequence

HERE = pathlib.Path(__file__).resolve().parent
# Smaller synthetic sets for the slow CNN keep its warm-up epoch short.
# The catalogue's larger models: one epoch of 6,400 (50 steps of 128).
EXAMPLES = {"cnn": 12800, "lenet5": 12800, "resnet20": 6400,
            "resnet18": 6400, "vit_tiny": 6400}


def implementations(model: str, batch: int, torch_python: str,
                    zoo_args: Sequence[str] = ()) -> dict[str, list[str]]:
  """name -> command line, for one case; `zoo_args`: more throughput.py
  flags for the zoo's plain and 2-device runs."""
  common = ["--model", model, "--batch", str(batch), "--num_examples",
            str(EXAMPLES.get(model, 60000))]
  py = sys.executable
  zoo = [py, str(HERE / "throughput.py"), *common]
  impls = {
      "zoo": [*zoo, *zoo_args],
      "zoo_report_hooks": [*zoo, "--report_hooks"],
      # The host split into 2 JAX devices (pmap over both cores).
      "zoo_2dev": [*zoo, "--devices", "2", *zoo_args],
      "jax_scan": [py, str(HERE / "jax_reference.py"), "--mode", "scan",
                   "--chunk", "200", *common],
  }
  if model == "cnn":
    impls["jax_scan"] += ["--chunk", "10", "--unroll", "0"]
    impls["jax_pmap2"] = [py, str(HERE / "jax_reference.py"), "--mode",
                          "pmap", "--devices", "2", *common]
  if torch_python:
    for mode in ("eager", "compile"):
      impls[f"torch_{mode}"] = [torch_python, str(HERE / "torch_reference.py"),
                                "--mode", mode, *common]
  return impls


def cpu_times() -> tuple[float, float]:
  """(total, busy) CPU seconds of the machine so far (/proc/stat)."""
  with open("/proc/stat", encoding="ascii") as f:
    fields = [float(x) for x in f.readline().split()[1:]]
  ticks = os.sysconf("SC_CLK_TCK")
  total = sum(fields[:8]) / ticks  # user .. steal; guest is inside user.
  return total, total - (fields[3] + fields[4]) / ticks  # Minus idle, iowait.


def busy_fraction(sample_s: float = 2.0) -> float:
  """The fraction of all CPU time spent busy over `sample_s`."""
  t0, b0 = cpu_times()
  time.sleep(sample_s)
  t1, b1 = cpu_times()
  return (b1 - b0) / max(t1 - t0, 1e-9)


def wait_for_quiet(max_busy: float, max_wait_s: float) -> float:
  """Waits (between runs, so the load is others') until the CPUs are at
  most `max_busy` busy, or `max_wait_s`; returns the last busy fraction."""
  t0 = time.time()
  busy = busy_fraction()
  while busy > max_busy and time.time() - t0 < max_wait_s:
    busy = busy_fraction()
  return busy


def run_one(cmd: list[str], timeout_s: float) -> dict:
  """Runs `cmd`; its JSON line plus `others_cpu`: the share of the
  machine's CPU time that other processes used while it ran (0 = alone)."""
  child0 = resource.getrusage(resource.RUSAGE_CHILDREN)
  total0, busy0 = cpu_times()
  try:
    out = subprocess.run(cmd, capture_output=True, text=True, check=False,
                         timeout=timeout_s, cwd=HERE.parent)
  except subprocess.TimeoutExpired:
    return {"error": "timeout"}
  child1 = resource.getrusage(resource.RUSAGE_CHILDREN)
  total1, busy1 = cpu_times()
  own = (child1.ru_utime + child1.ru_stime - child0.ru_utime
         - child0.ru_stime)
  others = max(busy1 - busy0 - own, 0.0) / max(total1 - total0, 1e-9)
  lines = [l for l in out.stdout.splitlines() if l.startswith("{")]
  if out.returncode or not lines:
    return {"error": out.stderr[-2000:], "others_cpu": round(others, 3)}
  return {**json.loads(lines[-1]), "others_cpu": round(others, 3)}


def main() -> None:
  p = argparse.ArgumentParser()
  p.add_argument("--cases", default="logistic:128,mlp:128,mlp:512,cnn:128")
  p.add_argument("--rounds", type=int, default=3)
  p.add_argument("--torch_python", default="")
  p.add_argument("--zoo_args", default="", help="Extra throughput.py flags.")
  p.add_argument("--only", default="", help="Comma-separated impl names.")
  p.add_argument("--max_busy", type=float, default=0.2,
                 help="Start a run only when the CPUs are this idle.")
  p.add_argument("--max_wait_s", type=float, default=300)
  p.add_argument("--timeout_s", type=float, default=600)
  p.add_argument("--out", default="/tmp/zoo-compare.jsonl")
  p.add_argument("--summarize", default="",
                 help="Only print the tables of an earlier --out file.")
  p.add_argument("--json", default="",
                 help="Also record the result in this table file (e.g. "
                 "benchmarks/results/compare.json; see results_json.py).")
  args = p.parse_args()
  if args.summarize:
    results = load(args.summarize)
    print_table(results)
    print_ratios(results)
    record_json(args.json, results)
    return
  cases = [(m, int(b)) for m, b in
           (c.split(":") for c in args.cases.split(","))]
  results: dict[tuple[str, int, str], list[dict]] = {}
  with open(args.out, "a", encoding="utf-8") as out:
    for r in range(args.rounds):
      for model, batch in cases:
        impls = implementations(model, batch, args.torch_python,
                                args.zoo_args.split())
        for name, cmd in impls.items():
          if args.only and name not in args.only.split(","):
            continue
          busy = wait_for_quiet(args.max_busy, args.max_wait_s)
          rec = run_one(cmd, args.timeout_s)
          rec.update(impl=name, round=r, busy_before=round(busy, 2),
                     cmd=" ".join(cmd))
          out.write(json.dumps(rec) + "\n")
          out.flush()
          results.setdefault((model, batch, name), []).append(rec)
          print(f"round {r} {model}:{batch} {name}: "
                f"{rec.get('ex_per_s', rec.get('error', '')[:300])} "
                f"(others' CPU use before {busy:.0%}, load average after "
                f"{rec.get('load_avg_1m')})",
                flush=True)
  print_table(results)
  print_ratios(results)
  record_json(args.json, results)


def record_json(path: str, results) -> None:
  """Per case, each implementation's median ex/s as one row of the table
  file at `path` (nothing if `path` is empty)."""
  if not path:
    return
  import results_json  # pylint: disable=g-import-not-at-top  (benchmarks/)
  for model, batch in dict.fromkeys((m, b) for m, b, _ in results):
    row = {"model": model, "batch": batch}
    for (m, b, name), recs in results.items():
      if (m, b) == (model, batch) and any("ex_per_s" in r for r in recs):
        row[name] = round(_median(recs))
    results_json.record(path, row, ["model", "batch"])


def load(path: str) -> dict[tuple[str, int, str], list[dict]]:
  """An --out file's records, keyed like `main`'s results."""
  results: dict[tuple[str, int, str], list[dict]] = {}
  with open(path, encoding="utf-8") as f:
    for line in f:
      rec = json.loads(line)
      if "model" in rec:
        key = (rec["model"], rec["batch"], rec["impl"])
        results.setdefault(key, []).append(rec)
  return results


def print_ratios(results) -> None:
  """The issue's ratios: the zoo's median over rounds against each other
  implementation's median, and the zoo's share of the matmul peak."""
  print("\n| model | batch | zoo ex/s | zoo / torch eager | "
        "zoo / torch.compile | zoo / best hand-written JAX | "
        "zoo % of matmul peak |")
  print("|---|---|---|---|---|---|---|")
  for model, batch in dict.fromkeys((m, b) for m, b, _ in results):
    med = {name: _median(recs) for (m, b, name), recs in results.items()
           if (m, b) == (model, batch)}
    zoo = med.get("zoo", float("nan"))
    best_jax = max((v for k, v in med.items() if k.startswith("jax_")),
                   default=float("nan"))
    pct = _median(results.get((model, batch, "zoo"), []),
                  "pct_of_matmul_peak")
    print(f"| {model} | {batch} | {zoo:,.0f} | "
          f"{zoo / med.get('torch_eager', float('nan')):.2f} | "
          f"{zoo / med.get('torch_compile', float('nan')):.2f} | "
          f"{zoo / best_jax:.2f} | {pct:.0f} |")


def _median(recs: list[dict], key: str = "ex_per_s") -> float:
  values = [r[key] for r in recs if key in r]
  return statistics.median(values) if values else float("nan")


def print_table(results, clean: float = 0.1) -> None:
  """Per case and implementation: the median over rounds, and over the
  "clean" rounds (other processes used < `clean` of the CPU time)."""
  print(f"\n| model | batch | impl | ex/s, median of rounds | clean rounds "
        f"(others < {clean:.0%} CPU) | rounds: ex/s (others' CPU) | "
        "zoo / impl (clean) |")
  print("|---|---|---|---|---|---|---|")
  for (model, batch, name), recs in results.items():
    ok = [r for r in recs if "ex_per_s" in r]
    if not ok:
      continue
    quiet = [r for r in ok if r.get("others_cpu", 1.0) < clean]
    zoo = [r for r in results.get((model, batch, "zoo"), []) if "ex_per_s" in r]
    zoo_quiet = [r for r in zoo if r.get("others_cpu", 1.0) < clean]
    ratio = (_median(zoo_quiet) / _median(quiet)) if quiet and zoo_quiet else 0
    pct = ""
    if "pct_of_matmul_peak" in ok[0]:
      pct = f" ({_median(ok, 'pct_of_matmul_peak'):.0f} % of matmul peak)"
    rounds = ", ".join(f"{r['ex_per_s']:,.0f} ({r.get('others_cpu', 0):.0%})"
                       for r in ok)
    print(f"| {model} | {batch} | {name} | {_median(ok):,.0f}{pct} | "
          f"{_median(quiet):,.0f} ({len(quiet)}) | {rounds} | {ratio:.2f} |")


if __name__ == "__main__":
  main()
