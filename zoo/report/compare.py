"""`python launch.py --compare DIR1 DIR2 ...`: several runs side by side.

Each DIR is a workdir holding results.json, or a folder whose immediate
subfolders are workdirs (e.g. `runs/`). Rows are key results, then every
config field whose value differs between the runs.
"""

import json
import os
from typing import Any, Callable, Optional, Sequence

from zoo import errors

RESULTS_FILE = "results.json"


def find_runs(paths: Sequence[str]) -> list[str]:
  """The workdirs named by `paths` (expanding folders of workdirs)."""
  if not paths:
    raise errors.ConfigError(
        "--compare needs workdirs to compare: python launch.py --compare "
        "runs/mlp runs/cnn (or a folder of workdirs, e.g. runs/).")
  runs = []
  for path in paths:
    if os.path.isfile(os.path.join(path, RESULTS_FILE)):
      runs.append(path)
      continue
    children = sorted(
        os.path.join(path, d) for d in os.listdir(path)
        if os.path.isfile(os.path.join(path, d, RESULTS_FILE))
    ) if os.path.isdir(path) else []
    if not children:
      raise errors.DataError(
          f"No {RESULTS_FILE} in {path!r} or its subfolders: give the "
          "--workdir of finished runs (a run writes results.json at its end).")
    runs.extend(children)
  return runs


def load_results(workdir: str) -> dict[str, Any]:
  path = os.path.join(workdir, RESULTS_FILE)
  try:
    with open(path, encoding="utf-8") as f:
      return json.load(f)
  except (OSError, ValueError) as e:
    raise errors.DataError(f"Cannot read {path}: {e}. Re-run that workdir "
                           "or leave it out of --compare.") from e


def _acc(x: Optional[float]) -> str:
  return "-" if x is None else f"{x:.4f}"


def _macro_f1(r: dict[str, Any]) -> str:
  report = r.get("classification_report") or {}
  return _acc(report.get("macro avg", {}).get("f1-score"))


_ROWS: list[tuple[str, Callable[[dict[str, Any]], str]]] = [
    ("model", lambda r: r["model"]),
    ("dataset", lambda r: r["dataset"]),
    ("parameters", lambda r: f"{r['num_params']:,}"),
    ("train/val/test", lambda r: f"{r['num_train_examples']}/"
     f"{r.get('num_validation_examples') or 0}/{r['num_test_examples']}"),
    ("epochs", lambda r: str(r["config"]["train"]["num_epochs"])),
    ("steps", lambda r: str(r["steps"])),
    ("best val accuracy", lambda r: _acc(r.get("best_validation_accuracy"))),
    ("best val epoch", lambda r: str(r.get("best_validation_epoch") or "-")),
    ("test accuracy", lambda r: _acc(r["test_accuracy"])),
    ("test loss", lambda r: f"{r['test_loss']:.4f}"),
    ("test macro F1", _macro_f1),
    ("train seconds", lambda r: f"{r['train_seconds']:.1f}"),
    ("devices", lambda r: f"{r['num_devices']} x {r['platform']}"),
]


def _flatten(tree: Any, prefix: str = "") -> dict[str, Any]:
  if not isinstance(tree, dict):
    return {prefix: tree}
  out = {}
  for key, value in tree.items():
    out.update(_flatten(value, f"{prefix}.{key}" if prefix else key))
  return out


def _config_diff(results: Sequence[dict[str, Any]]) -> list[str]:
  flat = [_flatten(r.get("config", {})) for r in results]
  keys = sorted(set().union(*flat))
  return [k for k in keys if len({json.dumps(f.get(k)) for f in flat}) > 1]


def compare_table(names: Sequence[str],
                  results: Sequence[dict[str, Any]]) -> str:
  """A plain-text table: one column per run, one row per result."""
  rows = [(label, [fn(r) for r in results]) for label, fn in _ROWS]
  for key in _config_diff(results):
    rows.append((f"config.{key}",
                 [json.dumps(_flatten(r.get("config", {})).get(key))
                  for r in results]))
  header = ("run", list(names))
  label_w = max(len(label) for label, _ in [header] + rows)
  col_w = [max(len(cells[i]) for _, cells in [header] + rows)
           for i in range(len(names))]
  lines = []
  for n, (label, cells) in enumerate([header] + rows):
    lines.append("  ".join([f"{label:<{label_w}}"] + [
        f"{c:<{w}}" for c, w in zip(cells, col_w)]).rstrip())
    if n == 0:
      lines.append("-" * len(lines[0]))
  return "\n".join(lines)


def compare_runs(paths: Sequence[str]) -> str:
  """The table for the workdirs named by `paths`."""
  runs = find_runs(paths)
  return compare_table(runs, [load_results(r) for r in runs])
