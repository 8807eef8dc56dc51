r"""Writes docs/MODELS.md, the model cards, from the published pretrained
models (their manifest and weights) or from finished runs' results.json.

  python scripts/model_cards.py --pretrained --out docs/MODELS.md
  python scripts/model_cards.py runs/fm-* --out /tmp/MODELS.md

Nothing on a card is typed by hand. Per recipe (dataset, model and every
config field but the seed) it gives: parameters and forward FLOPs per example
(XLA's count, from the run's own checkpoint through `zoo.load`), test
accuracy (mean ± std when several seeds ran; the members of a K-seed
ensemble run, `config.ensemble.size=K`, count as K seeds, and its training
time is that of all K together), training time, the device, the
published reference, and the command that reproduces the run: the dataset's
recipe file `configs/<dataset>.py:<model>` plus a `--config.<field>=<value>`
for every field where the run differs from that recipe today.
"""

import argparse
import importlib.util
import pathlib
import shlex
import statistics
import sys
from typing import Any, Optional, Sequence

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import zoo  # noqa: E402
from zoo.config import serialize  # noqa: E402
from zoo.pretrained import publish  # noqa: E402
from zoo.report import compare  # noqa: E402

# Published test accuracies (data/README.md beside the repo, and the papers).
REFERENCES = {
    ("fashion_mnist", "logistic"): "about 0.84 (Zalando benchmark)",
    ("fashion_mnist", "mlp"): "0.87-0.89 (Zalando benchmark)",
    ("fashion_mnist", "cnn"): "0.91-0.92 (2-conv CNNs, Zalando benchmark)",
    ("fashion_mnist", "lenet5"): "0.91-0.92 (small 2-conv CNNs, Zalando)",
    ("fashion_mnist", "resnet20"): "about 0.949 (ResNet-18, Zalando benchmark)",
    ("fashion_mnist", "resnet18"): "about 0.949 (Zalando benchmark)",
    ("cifar10", "resnet20"): "0.9125 (He et al. 2016, Table 6)",
    ("cifar10", "resnet32"): "0.9249 (He et al. 2016, Table 6)",
    ("cifar10", "resnet44"): "0.9283 (He et al. 2016, Table 6)",
    ("cifar10", "resnet56"): "0.9303 (He et al. 2016, Table 6)",
}
# Fields that say where things are, not how the model was trained.
_NOT_RECIPE = ("seed", "data.dir", "data.tfds_data_dir",
               "train.compilation_cache_dir")
# A K-seed ensemble (config.ensemble.size) is the recipe over K seeds: its
# members count as runs of the recipe beside single runs.
_NOT_GROUPED = (*_NOT_RECIPE, "ensemble.size")


def recipe_config(dataset: str, model: str):
  """(the recipe argument, its config today): `configs/<dataset>.py:<model>`
  where that file exists, else configs/default.py (the model then comes in
  an override)."""
  path = REPO / "configs" / f"{dataset}.py"
  if path.exists():
    spec = importlib.util.spec_from_file_location(f"_recipe_{dataset}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return f"configs/{dataset}.py:{model}", module.get_config(model)
  from configs import default  # pylint: disable=g-import-not-at-top
  return "configs/default.py", default.get_config()


def _flag_value(value: Any) -> str:
  if isinstance(value, (list, tuple)):
    return repr(tuple(value))
  return str(value)


def overrides(run_config: dict[str, Any],
              recipe: dict[str, Any]) -> list[str]:
  """`--config.k=v` for each recipe field the run set otherwise (fields that
  one of the two lacks, from another version of the zoo, are left out)."""
  run, base = serialize.flatten(run_config), serialize.flatten(recipe)
  flags = []
  for key in sorted(run.keys() & base.keys()):
    if key in _NOT_RECIPE:
      continue
    value, default = run[key], base[key]
    if isinstance(value, list) or isinstance(default, (list, tuple)):
      value, default = tuple(value), tuple(default)
    if value != default:
      flags.append(f"--config.{key}={shlex.quote(_flag_value(run[key]))}")
  return flags


def command(results: dict[str, Any], workdir: str) -> str:
  """The launch command that trains this run again, into runs/<the name of
  `workdir`> (any seed shown is the run's own)."""
  config = results["config"]
  argument, recipe = recipe_config(results["dataset"], results["model"])
  parts = ["python launch.py", f"--config={argument}"]
  if config["data"].get("dir"):
    parts.append(f"--config.data.dir={config['data']['dir']}")
  parts += overrides(config, recipe.to_dict())
  if config.get("seed", 0) != recipe.seed:
    parts.append(f"--config.seed={config['seed']}")
  parts.append(f"--workdir=runs/{pathlib.Path(workdir).name}")
  return " ".join(parts)


def _recipe_key(results: dict[str, Any]) -> tuple:
  flat = serialize.flatten(results["config"])
  return (results["dataset"], results["model"],
          tuple(sorted((k, repr(v)) for k, v in flat.items()
                       if k not in _NOT_GROUPED)))


def _accuracies(results: dict[str, Any]) -> dict[int, float]:
  """The run's test accuracy per seed: each member's of a K-seed ensemble
  (not of a learning-rate sweep: other recipes), else the run's own."""
  members = results.get("members") or []
  if len(members) > 1 and len({m["learning_rate"] for m in members}) == 1:
    return {m["seed"]: m["test_accuracy"] for m in members}
  return {results["config"].get("seed", 0): results["test_accuracy"]}


def _mean_std(values: Sequence[float], digits: int = 4) -> str:
  if len(values) == 1:
    return f"{values[0]:.{digits}f}"
  return (f"{statistics.mean(values):.{digits}f} ± "
          f"{statistics.stdev(values):.{digits}f}")


def card(runs: Sequence[tuple[str, dict[str, Any]]]) -> dict[str, str]:
  """One recipe's row from its runs (same recipe, one per seed)."""
  workdir, first = runs[0]
  flops = zoo.load(workdir).flops_per_example()
  seconds = [r["train_seconds"] for _, r in runs]
  minutes = statistics.mean(seconds) >= 60
  by_seed: dict[int, float] = {}
  for _, r in runs:  # A seed trained twice counts once (its first run).
    by_seed = {**_accuracies(r), **by_seed}
  accuracies = list(by_seed.values())
  seeds = f" ({len(accuracies)} seeds)" if len(accuracies) > 1 else ""
  return {
      "dataset": first["dataset"],
      "model": first["model"],
      "params": f"{first['num_params']:,}",
      "mflops": "?" if flops is None else f"{flops / 1e6:.3g}",
      "test accuracy": _mean_std(accuracies) + seeds,
      "training": (_mean_std([s / 60 for s in seconds], 1) + " min" if minutes
                   else _mean_std(seconds, 1) + " s"),
      "device": publish.device(first),
      "published": REFERENCES.get((first["dataset"], first["model"]), "-"),
      "command": command(first, workdir),
  }


def pretrained_cards(manifest_path: str) -> list[dict[str, str]]:
  """A card per entry of the package's manifest (scripts/publish.py's), in
  its order:
  the numbers the run measured (its card), parameters and FLOPs counted
  from the published weights through `zoo.load(name)`."""
  import json  # pylint: disable=g-import-not-at-top
  entries = json.loads(pathlib.Path(manifest_path).read_text("utf-8"))
  cards = []
  for name, entry in entries.items():
    flops = zoo.load(name).flops_per_example()
    card_ = entry["card"]
    seconds = card_["train_seconds"]
    cards.append({
        "dataset": card_["dataset"],
        "model": entry["model"]["name"],
        "name": name,
        "params": f"{card_['num_params']:,}",
        "mflops": "?" if flops is None else f"{flops / 1e6:.3g}",
        "test accuracy": f"{card_['test_accuracy']:.4f}",
        "training": (f"{seconds / 60:.1f} min" if seconds >= 60
                     else f"{seconds:.1f} s"),
        "device": card_["device"],
        "published": REFERENCES.get((card_["dataset"],
                                     entry["model"]["name"]), "-"),
        "command": card_["command"],
    })
  return cards


def group(workdirs: Sequence[str]) -> list[list[tuple[str, dict[str, Any]]]]:
  """Runs grouped by recipe (everything but the seed), in first-seen order."""
  groups: dict[tuple, list] = {}
  for workdir in workdirs:
    results = compare.load_results(workdir)
    groups.setdefault(_recipe_key(results), []).append((workdir, results))
  return list(groups.values())


def render(cards: Sequence[dict[str, str]], runs: Sequence[str],
           note: str = "", out: str = "") -> str:
  """docs/MODELS.md: a table per dataset, then each recipe's command.

  The header names the command that made it: with `--out OUT` iff `out`.
  """
  command = " ".join(["python scripts/model_cards.py", *runs]
                     + (["--out", out] if out else []))
  source = ("the published pretrained models (their manifest and weights)"
            if "--pretrained" in runs else
            "the runs' results.json and checkpoints")
  lines = ["# Model cards", "",
           f"Generated from {source} by",
           f"`{command}`; do not edit by hand.",
           "FLOPs: XLA's count for one example's forward pass. Training time:",
           "the training loop's wall time (compilation and validation "
           "included).", ""]
  if note:
    lines += [note, ""]
  header = ("model", "params", "mflops", "test accuracy", "training",
            "device", "published")
  titles = ("model", "parameters", "MFLOPs / example", "test accuracy",
            "training time", "device", "published reference")
  for dataset in dict.fromkeys(c["dataset"] for c in cards):
    rows = [c for c in cards if c["dataset"] == dataset]
    lines += [f"## {dataset}", "", "| " + " | ".join(titles) + " |",
              "|" + "---|" * len(titles)]
    lines += ["| " + " | ".join(f"`{c[h]}`" if h == "model" else c[h]
                                for h in header) + " |" for c in rows]
    lines += [""] + [f"- `{c['model']}`"
                     + (f" (`zoo.load(\"{c['name']}\")`)" if "name" in c
                        else "") + f": `{c['command']}`" for c in rows]
    lines.append("")
  return "\n".join(lines)


def main(argv: Optional[Sequence[str]] = None) -> None:
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("runs", nargs="*", help="Run folders (or their parents).")
  parser.add_argument("--pretrained", action="store_true",
                      help="Cards of the package's pretrained models "
                      "(zoo/pretrained/weights/manifest.json) instead of runs.")
  parser.add_argument("--out", default="", help="Write here (default: print).")
  parser.add_argument("--note", default="",
                      help="A line under the header, e.g. how busy the "
                      "machine was.")
  args = parser.parse_args(argv)
  if args.pretrained:
    from zoo.pretrained import manifest  # pylint: disable=g-import-not-at-top
    cards = pretrained_cards(str(manifest.PACKAGE_MANIFEST))
    text = render(cards, ["--pretrained"], args.note, args.out)
  elif args.runs:
    workdirs = compare.find_runs(args.runs)
    cards = [card(runs) for runs in group(workdirs)]
    text = render(cards, args.runs, args.note, args.out)
  else:
    parser.error("give run folders, or --pretrained")
  if args.out:
    pathlib.Path(args.out).write_text(text + "\n")
    print(f"Wrote {len(cards)} model cards to {args.out}")
  else:
    print(text)


if __name__ == "__main__":
  main()
