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
                 f"steps of batch {train_cfg.get('batch_size', '?')})"),
      ("validation", validation),
      ("test", f"accuracy {_pct(results['test_accuracy'])}, loss "
               f"{results['test_loss']:.4f}"),
      ("time", f"{results['train_seconds']:.1f} s training"
               + _first_step(results)),
  ]
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


def _first_step(results: dict[str, Any]) -> str:
  seconds = results.get("seconds_to_first_step")
  steps = results.get("config", {}).get("train", {}).get("steps_per_call")
  text = f", first step after {seconds:.1f} s" if seconds else ""
  return text + (f" ({steps} steps per call)" if steps else "")
