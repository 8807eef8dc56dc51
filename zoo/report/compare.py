"""`python launch.py --compare DIR1 DIR2 ...`: several runs, one row each.

Each DIR is a workdir holding results.json, or a folder whose immediate
subfolders are workdirs (e.g. `runs/`). One row per run, so that many runs
stay readable in a terminal: key results, then every field (config field or
fact such as the device count) whose value differs between the runs.
"""

import json
import os
import textwrap
from typing import Any, Callable, Optional, Sequence

from zoo import errors
from zoo.config import serialize

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


WIDTH = 120  # No line is longer, however many runs.
_MIN_TEXT = 8  # Names shrink to this before any line grows past WIDTH.
Cell = Callable[[dict[str, Any]], str]


def _acc(x: Optional[float]) -> str:
  return "-" if x is None else f"{x:.4f}"


def _macro_f1(r: dict[str, Any]) -> str:
  report = r.get("classification_report") or {}
  return _acc(report.get("macro avg", {}).get("f1-score"))


def _best_val(r: dict[str, Any]) -> str:
  acc, epoch = r.get("best_validation_accuracy"), r.get("best_validation_epoch")
  return "-" if acc is None else f"{acc:.4f} ({epoch or '-'})"


def _test_acc(r: dict[str, Any]) -> str:
  """The test accuracy; an ensemble's mean ± std over its members and its
  averaged probabilities' accuracy ('0.9367±0.0021 ens 0.9512')."""
  if r.get("num_members", 1) == 1:
    return _acc(r["test_accuracy"])
  return (f"{r['test_accuracy_mean']:.4f}±{r['test_accuracy_std']:.4f} "
          f"ens {r['ensemble_test_accuracy']:.4f}")


# What a run is: a column where the runs differ, else said once.
_DESCRIPTION: list[tuple[str, Cell]] = [
    ("model", lambda r: r["model"]),
    ("dataset", lambda r: r["dataset"]),
    ("params", lambda r: f"{r['num_params']:,}"),
    ("epochs", lambda r: str(r["config"]["train"]["num_epochs"])),
]
_TEXT_COLUMNS = ("run", "model", "dataset")  # These may be cut to fit.
# Their config fields, left out of "Fields that differ".
_DESCRIBED = ("model.name", "data.name", "train.num_epochs")
_RESULTS: list[tuple[str, Cell]] = [
    ("best val (epoch)", _best_val),
    ("test acc", _test_acc),
    ("test loss", lambda r: f"{r['test_loss']:.4f}"),
    ("macro F1", _macro_f1),
    ("train s", lambda r: f"{r['train_seconds']:.1f}"),
]
# Facts listed once if every run shares them, else under "Fields that differ".
_FACTS: list[tuple[str, Cell]] = [
    ("steps", lambda r: str(r["steps"])),
    ("train/val/test", lambda r: f"{r['num_train_examples']}/"
     f"{r.get('num_validation_examples') or 0}/{r['num_test_examples']}"),
    ("devices", lambda r: f"{r['num_devices']} x {r['platform']}"),
]


def _cells(fn: Cell, results: Sequence[dict[str, Any]]) -> list[str]:
  out = []
  for r in results:
    try:
      out.append(fn(r))
    except (KeyError, TypeError, ValueError):  # An older results.json.
      out.append("-")
  return out


def _config_diff(results: Sequence[dict[str, Any]]) -> list[str]:
  flat = [serialize.flatten(r.get("config", {})) for r in results]
  keys = sorted(set().union(*flat))
  return [k for k in keys if len({json.dumps(f.get(k)) for f in flat}) > 1]


def _value(flat: dict[str, Any], key: str) -> str:
  """A config value as typed on the command line; '-' where absent."""
  if key not in flat:
    return "-"
  value = flat[key]
  return value if isinstance(value, str) and value else json.dumps(value)


def short_names(paths: Sequence[str]) -> tuple[str, list[str]]:
  """(the folder holding every run, each run's path relative to it).

  ['runs/mlp', 'runs/cnn'] -> ('runs', ['mlp', 'cnn']).
  """
  full = [os.path.abspath(p) for p in paths]
  common = os.path.commonpath([os.path.dirname(p) for p in full])
  shown = os.path.relpath(common)
  return (common if shown.startswith("..") else shown), [
      os.path.relpath(p, common) for p in full]


def _clip(text: str, width: int) -> str:
  """`text` in at most `width` characters, cut in the middle with '...'."""
  if len(text) <= width:
    return text
  if width <= 3:
    return text[:width]
  head = (width - 2) // 2
  return text[:head] + "..." + text[len(text) - (width - 3 - head):]


def _fit(widths: list[int], flexible: Sequence[int], width: int) -> list[int]:
  """Widths with the `flexible` columns narrowed, widest first, until a line
  fits in `width` (never below _MIN_TEXT characters)."""
  widths = list(widths)
  excess = sum(widths) + 2 * (len(widths) - 1) - width
  while excess > 0:
    pool = [i for i in flexible if widths[i] > _MIN_TEXT]
    if not pool:
      break
    widths[max(pool, key=lambda i: widths[i])] -= 1
    excess -= 1
  return widths


def _table(columns: Sequence[tuple[str, Sequence[str]]],
           width: Optional[int] = None) -> list[str]:
  """(header, cells) columns, left-aligned two spaces apart, under a rule.

  With `width`, the text columns (`_TEXT_COLUMNS`) are cut to fit.
  """
  widths = [max(len(c) for c in [header, *cells]) for header, cells in columns]
  if width is not None:
    flexible = [i for i, (header, _) in enumerate(columns)
                if header in _TEXT_COLUMNS]
    widths = _fit(widths, flexible, width)
  rows = [[header for header, _ in columns], ["-" * w for w in widths]]
  rows += [list(row) for row in zip(*(cells for _, cells in columns))]
  return ["  ".join(f"{_clip(c, w):<{w}}" for c, w in zip(row, widths)).rstrip()
          for row in rows]


def _wrapped(numbers: Sequence[str], names: Sequence[str],
             items: Sequence[Sequence[str]], width: int) -> list[str]:
  """Each run's number and name, then its `items` wrapped beside them."""
  lines = _table([("#", numbers), ("run", names)], width // 3)
  indent = max(len(line) for line in lines) + 2
  out = []
  for line, row_items in zip(lines[2:], items):
    line = line.ljust(indent)
    for n, item in enumerate(row_items):
      item = _clip(item, width - indent)
      if n and len(line) + 2 + len(item) > width:
        out.append(line.rstrip())
        line = " " * indent + item
      else:
        line += ("  " if n else "") + item
    out.append(line.rstrip())
  return out


def _split(fields: Sequence[tuple[str, Cell]],
           results: Sequence[dict[str, Any]]
           ) -> tuple[list[str], list[tuple[str, list[str]]]]:
  """(['label value' for fields every run shares], [(label, cells)] else)."""
  same, differ = [], []
  for label, fn in fields:
    cells = _cells(fn, results)
    if len(set(cells)) == 1:
      same.append(f"{label} {cells[0]}")
    else:
      differ.append((label, cells))
  return same, differ


def _shared(title: str, items: Sequence[str], width: int) -> list[str]:
  """'title: a; b; c.' wrapped between items, never inside one."""
  text = "; ".join(item.replace(" ", "\xa0") for item in items)  # No-break.
  return [line.replace("\xa0", " ") for line in textwrap.wrap(
      f"{title}: {text}.", width, subsequent_indent="  ",
      break_on_hyphens=False)]


def compare_table(names: Sequence[str], results: Sequence[dict[str, Any]],
                  width: int = WIDTH) -> str:
  """A plain-text report of the runs, one row per run, no line over `width`.

  First each run's key results, with a column for each of model, dataset,
  parameters and epochs where the runs differ; then what every run shares;
  then the other fields that differ (steps, examples, devices, config fields
  as `config.path`), as a table if it fits in `width`, else as `field=value`
  lists.
  """
  common, short = short_names(names)
  numbers = [str(i + 1) for i in range(len(names))]
  where = "the current folder" if common == "." else common
  lines = [f"{len(names)} run{'s' if len(names) > 1 else ''} in {where}"]
  same, described = _split(_DESCRIPTION, results)
  lines += _table([("#", numbers), ("run", short), *described, *(
      (label, _cells(fn, results)) for label, fn in _RESULTS)], width)
  same_facts, differ = _split(_FACTS, results)
  if same + same_facts:
    title = "Same in every run" if len(names) > 1 else "Details"
    lines += ["", *_shared(title, same + same_facts, width)]
  flat = [serialize.flatten(r.get("config", {})) for r in results]
  differ += [(f"config.{key}", [_value(f, key) for f in flat])
             for key in _config_diff(results) if key not in _DESCRIBED]
  if not differ:
    return "\n".join(lines)
  table = _table([("#", numbers), ("run", short), *differ])
  if max(len(line) for line in table) > width:
    items = [[f"{label}={cells[i]}" for label, cells in differ]
             for i in range(len(names))]
    table = _wrapped(numbers, short, items, width)
  return "\n".join([*lines, "", "Fields that differ:", *table])


def compare_runs(paths: Sequence[str], width: int = WIDTH) -> str:
  """The report for the workdirs named by `paths` (see `compare_table`)."""
  runs = find_runs(paths)
  return compare_table(runs, [load_results(r) for r in runs], width)
