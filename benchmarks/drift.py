r"""How far training drifts between CPUs: the same recipe and seed under two
XLA:CPU instruction sets, as another machine would compile it.

  python benchmarks/drift.py --recipes mlp cnn --seeds 0 1 2

Each run is `python launch.py --config=configs/<recipe>.py
--config.data.dir=../shared/data/mnist-5k --config.seed=S`, once with this
machine's instruction set (XLA's default) and once with
`XLA_FLAGS=--xla_cpu_max_isa=AVX` (no AVX2/AVX-512: an older or smaller
CPU). On one machine and jaxlib a run repeats bitwise; across instruction
sets XLA picks other kernels, and the rounding differences grow over
training. Prints each pair's test accuracy and loss and the largest
accuracy difference: the tolerance to state beside a published number.
"""

import argparse
import json
import os
import pathlib
import subprocess
import sys
import tempfile

REPO = pathlib.Path(__file__).resolve().parents[1]
ISAS = {"native": "", "AVX": "--xla_cpu_max_isa=AVX"}


def run(recipe: str, seed: int, xla_flags: str, data_dir: str,
        workdir: str) -> dict:
  env = {**os.environ, "XLA_FLAGS": xla_flags}
  subprocess.run(
      [sys.executable, str(REPO / "launch.py"),
       f"--config={REPO / 'configs' / recipe}.py",
       f"--config.data.dir={data_dir}", f"--config.seed={seed}",
       "--config.report.progress_bar=false", "--config.report.plots=false",
       "--config.report.tensorboard=false", f"--workdir={workdir}"],
      cwd=REPO, env=env, check=True, capture_output=True, text=True)
  return json.loads((pathlib.Path(workdir) / "results.json").read_text())


def main() -> None:
  p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  p.add_argument("--recipes", nargs="+", default=["mlp"])
  p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
  p.add_argument("--data_dir", default=str(REPO.parent / "shared" / "data" /
                                           "mnist-5k"))
  args = p.parse_args()
  print("| recipe | seed | " + " | ".join(
      f"{name} accuracy / loss" for name in ISAS) + " | difference |")
  print("|---|---|" + "---|" * len(ISAS) + "---|")
  worst = 0.0
  with tempfile.TemporaryDirectory() as root:
    for recipe in args.recipes:
      for seed in args.seeds:
        got = [run(recipe, seed, flags, args.data_dir,
                   f"{root}/{recipe}-{seed}-{name}")
               for name, flags in ISAS.items()]
        accuracies = [r["test_accuracy"] for r in got]
        diff = max(accuracies) - min(accuracies)
        worst = max(worst, diff)
        cells = " | ".join(f"{r['test_accuracy']:.4f} / {r['test_loss']:.4f}"
                           for r in got)
        print(f"| {recipe} | {seed} | {cells} | {diff:.4f} |", flush=True)
  print(f"\nlargest test-accuracy difference: {worst:.4f}")


if __name__ == "__main__":
  main()
