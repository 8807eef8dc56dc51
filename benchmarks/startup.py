r"""Time to first step, first run vs second run of the same config.

  python benchmarks/startup.py --config configs/cnn.py
  python benchmarks/startup.py --config configs/mlp.py --runs 3

Runs `launch.py` (one epoch on --data_dir) --runs times with one new, empty
compilation cache folder, and prints one JSON line per run: the run's
`seconds_to_first_step` (results.json: from the start of
zoo.experiment.train_and_evaluate until the first chunk of steps is done, so
data, init and compilation, to the first finished step), its
`train_seconds`, and the wall time of the whole process (Python and JAX
imports included). The first run fills the cache; later ones read it.
--json PATH records the runs as one row of a table file (results_json.py).
"""

import argparse
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time

REPO = pathlib.Path(__file__).resolve().parents[1]


def main() -> None:
  p = argparse.ArgumentParser()
  p.add_argument("--config", default="configs/mlp.py")
  p.add_argument("--data_dir", default="../shared/data/mnist-5k")
  p.add_argument("--runs", type=int, default=2)
  p.add_argument("--extra", default="", help="More launch.py flags.")
  p.add_argument("--json", default="",
                 help="Also record the result in this table file (e.g. "
                 "benchmarks/results/startup.json; see results_json.py).")
  args = p.parse_args()
  firsts, walls = [], []
  with tempfile.TemporaryDirectory() as tmp:
    cache = os.path.join(tmp, "cache")
    for i in range(args.runs):
      workdir = os.path.join(tmp, f"run{i}")
      cmd = [sys.executable, str(REPO / "launch.py"),
             f"--config={args.config}", f"--config.data.dir={args.data_dir}",
             f"--workdir={workdir}", "--config.train.num_epochs=1",
             f"--config.train.compilation_cache_dir={cache}",
             *args.extra.split()]
      t0 = time.perf_counter()
      out = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True,
                           check=False)
      wall = time.perf_counter() - t0
      if out.returncode:
        sys.exit(out.stderr[-3000:])
      with open(os.path.join(workdir, "results.json"), encoding="utf-8") as f:
        results = json.load(f)
      print(json.dumps({
          "config": args.config, "run": i + 1,
          "cache": "empty" if i == 0 else "filled by run 1",
          "seconds_to_first_step": results["seconds_to_first_step"],
          "train_seconds": results["train_seconds"],
          "process_wall_s": round(wall, 2),
          "steps_per_call": results["config"]["train"]["steps_per_call"],
          "load_avg_1m": round(os.getloadavg()[0], 2)}), flush=True)
      firsts.append(results["seconds_to_first_step"])
      walls.append(round(wall, 2))
  if args.json:
    sys.path.insert(0, str(REPO / "benchmarks"))
    import results_json  # pylint: disable=g-import-not-at-top
    results_json.record(args.json, {
        "config": args.config, "extra": args.extra,
        "seconds_to_first_step": firsts, "process_wall_s": walls},
        ["config", "extra"])


if __name__ == "__main__":
  main()
