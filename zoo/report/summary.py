"""The one-screen summary printed at the end of a run."""

import os
from typing import Any, Optional


def _pct(x: Optional[float]) -> str:
  return "n/a" if x is None else f"{x:.4f} ({100 * x:.2f}%)"


def format_summary(results: dict[str, Any], workdir: str) -> str:
  """A plain-text summary (no control characters) of a run's results."""
  cfg = results.get("config", {})
  train_cfg = cfg.get("train", {})
  num_val = results.get("num_validation_examples") or 0
  splits = (f"{results['num_train_examples']:,} train / {num_val:,} "
            f"validation / {results['num_test_examples']:,} test")
  if results.get("best_validation_epoch") is not None:
    validation = (f"best accuracy {_pct(results['best_validation_accuracy'])}"
                  f" at epoch {results['best_validation_epoch']}; last "
                  f"{_pct(results.get('final_validation_accuracy'))}")
  else:
    validation = "none (config.data.validation_fraction=0)"
  rows = [
      ("model", f"{results['model']} ({results['num_params']:,} parameters)"),
      ("dataset", f"{results['dataset']}: {splits}"),
      ("devices", f"{results['num_devices']} x {results['platform']}"
                  + _precision(results)),
      ("epochs", f"{train_cfg.get('num_epochs', '?')} ({results['steps']:,} "
                 f"steps of batch "
                 f"{results.get('batch_size', train_cfg.get('batch_size', '?'))})"),
      ("validation", validation),
      ("test", _test_line(results)),
      ("time", f"{results['train_seconds']:.1f} s training"
               + _first_step(results)),
  ]
  rows += _member_table(results)
  for warning in results.get("warnings", []):
    rows.append(("WARNING", warning))
  paths = [os.path.join(workdir, "results.json")]
  paths += list(results.get("files", {}).values())
  rows += [("files" if i == 0 else "", p) for i, p in enumerate(paths)]
  width = max(len(k) for k, _ in rows)
  title = f" {results['model']} on {results['dataset']}: run summary "
  lines = [f"{title:=^72}"]
  lines += [f"{k:<{width}}  {v}" for k, v in rows]
  lines.append("=" * 72)
  return "\n".join(lines)


def _precision(results: dict[str, Any]) -> str:
  precision = results.get("precision", "float32")
  return "" if precision == "float32" else f", {precision} compute"


def _test_line(results: dict[str, Any]) -> str:
  """A single run's test accuracy and loss; an ensemble's mean ± std over
  its members and the accuracy of their averaged probabilities."""
  k = results.get("num_members", 1)
  if k == 1:
    return (f"accuracy {_pct(results['test_accuracy'])}, loss "
            f"{results['test_loss']:.4f}")
  rates = {m["learning_rate"] for m in results["members"]}
  what = "seeds" if len(rates) == 1 else "members"
  return (f"accuracy {results['test_accuracy_mean']:.4f} ± "
          f"{results['test_accuracy_std']:.4f} over {k} {what}; ensemble "
          f"of {k}: {results['ensemble_test_accuracy']:.4f}")


def _member_table(results: dict[str, Any]) -> list[tuple[str, str]]:
  """A learning-rate sweep's members, one row each, the best (validation
  accuracy, else test accuracy) marked with '*'."""
  members = results.get("members", [])
  if len({m["learning_rate"] for m in members}) < 2:
    return []
  key = ("best_validation_accuracy"
         if members[0]["best_validation_accuracy"] is not None
         else "test_accuracy")
  best = max(range(len(members)), key=lambda i: members[i][key])
  what = key.replace("best_", "best ").replace("_", " ")
  rows = [("members", f"  {'seed':>5}  {'rate':>9}  {'test acc':>8}  "
                      f"{'best val':>8}  (*: {what})")]
  for i, m in enumerate(members):
    val = m["best_validation_accuracy"]
    rows.append(("", f"{'*' if i == best else ' '} {m['seed']:>5}  "
                     f"{m['learning_rate']:>9.3g}  {m['test_accuracy']:>8.4f}"
                     f"  {'n/a' if val is None else f'{val:.4f}':>8}"))
  return rows


def _first_step(results: dict[str, Any]) -> str:
  seconds = results.get("seconds_to_first_step")
  steps = results.get("config", {}).get("train", {}).get("steps_per_call")
  text = f", first step after {seconds:.1f} s" if seconds else ""
  return text + (f" ({steps} steps per call)" if steps else "")
