"""curves.png (loss and accuracy per epoch) and confusion_matrix.png.

Figures are drawn with matplotlib's Agg canvas directly (no pyplot), so they
need no display and leave the user's matplotlib backend alone.
"""

import os
from typing import Any, Optional, Sequence

import numpy as np

from zoo.report import classification
from zoo.runtime import files
from zoo.train import hooks

CURVES_FILE = "curves.png"
CONFUSION_FILE = "confusion_matrix.png"
_MAX_ANNOTATED_CLASSES = 30  # Beyond this the counts would not be readable.


def _figure(width: float, height: float) -> Any:
  from matplotlib import figure  # pylint: disable=g-import-not-at-top
  from matplotlib.backends import backend_agg  # pylint: disable=g-import-not-at-top
  fig = figure.Figure(figsize=(width, height), dpi=100)
  backend_agg.FigureCanvasAgg(fig)
  return fig


def plot_curves(history: Sequence[dict[str, Any]], path: str, title: str,
                best_epoch: Optional[int] = None,
                member_labels: Optional[Sequence[str]] = None) -> Any:
  """Train and validation loss (left) and accuracy (right) per epoch; saved
  to `path`, and returned (a matplotlib Figure).

  An ensemble's history (`member_*` lists of K > 1 values) draws the mean
  over the members with their min-max range as a band; with
  `member_labels` (a learning-rate sweep) one colour per member instead
  (validation dashed), and no best-epoch line (each member has its own).
  """
  from matplotlib import ticker  # pylint: disable=g-import-not-at-top
  fig = _figure(10, 4)
  epochs = [r["epoch"] for r in history]
  for ax, metric in zip(fig.subplots(1, 2), ("loss", "accuracy")):
    for split, marker in (("train", "o-"), ("validation", "s-")):
      _plot_split(ax, epochs, history, split, metric, marker, member_labels)
    if best_epoch is not None and not member_labels and any(
        r["validation_accuracy"] is not None for r in history):
      ax.axvline(best_epoch, color="gray", linestyle=":",
                 label=f"best validation accuracy (epoch {best_epoch})")
    ax.set_xlabel("epoch")
    ax.set_ylabel(metric)
    ax.set_title(metric)
    ax.xaxis.set_major_locator(ticker.MaxNLocator(integer=True))
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
  fig.suptitle(title)
  fig.tight_layout()
  _save(fig, path)
  return fig


def _plot_split(ax: Any, epochs: list[int], history: Sequence[dict[str, Any]],
                split: str, metric: str, marker: str,
                member_labels: Optional[Sequence[str]]) -> None:
  """One split's curve of `metric`: a line, a band over the members, or a
  line per member."""
  means = [r[f"{split}_{metric}"] for r in history]
  if all(v is None for v in means):
    return
  what = (f"{split} {metric} (mean over the epoch)" if split == "train"
          else f"{split} {metric}")
  members = [r.get(f"member_{split}_{metric}") for r in history]
  k = len(members[-1] or ())
  if k <= 1 or any(m is None for m in members):
    ax.plot(epochs, [np.nan if v is None else v for v in means], marker,
            label=what)
    return
  values = np.array(members, dtype=float)  # [epochs, K]
  if member_labels:  # One colour per member; validation dashed.
    for i, label in enumerate(member_labels):
      ax.plot(epochs, values[:, i], marker if split == "train" else "s--",
              color=f"C{i % 10}", markersize=3,
              label=f"{split} {metric}, {label}")
    return
  line, = ax.plot(epochs, means, marker, label=f"{what}, mean of {k}")
  ax.fill_between(epochs, values.min(1), values.max(1), alpha=0.25,
                  color=line.get_color(), label=f"{split}: min-max of {k}")


def plot_confusion_matrix(matrix: np.ndarray, class_names: Sequence[str],
                          path: str, title: str) -> None:
  """`matrix` `[C, C]` counts (rows: true class) as a labelled heat map."""
  n = len(class_names)
  size = min(max(5.0, 0.45 * n + 2.5), 16.0)
  fig = _figure(size + 1.0, size)
  ax = fig.subplots()
  image = ax.imshow(matrix, cmap="Blues")
  fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="examples")
  ax.set_xticks(range(n), [str(c) for c in class_names], rotation=45,
                ha="right", rotation_mode="anchor")
  ax.set_yticks(range(n), [str(c) for c in class_names])
  ax.set_xlabel("predicted class")
  ax.set_ylabel("true class")
  ax.set_title(title)
  if n <= _MAX_ANNOTATED_CLASSES:
    threshold = matrix.max() / 2 if matrix.size else 0
    for (i, j), count in np.ndenumerate(matrix):
      ax.text(j, i, str(count), ha="center", va="center", fontsize="small",
              color="white" if count > threshold else "black")
  fig.tight_layout()
  _save(fig, path)


def _save(fig: Any, path: str) -> None:
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  tmp = f"{path}.tmp.{os.getpid()}.png"
  fig.savefig(tmp)
  os.replace(tmp, path)


class PlotsHook(hooks.Hook):
  """Writes curves.png (the run's epoch history) and the test split's
  confusion_matrix.png into `workdir` at the end of the run (process 0)."""

  def __init__(self, workdir: str):
    self.workdir = workdir

  def on_train_end(self, progress: Any, test: dict[str, Any]) -> None:
    if not files.is_writer():
      return
    ds = progress.setup.dataset
    name = f"{progress.spec.model.name} on {ds.name}"
    if progress.history:
      path = os.path.join(self.workdir, CURVES_FILE)
      best = progress.best_epoch()
      plot_curves(progress.history, path, name,
                  best["epoch"] if best else None,
                  _sweep_labels(progress.setup.members))
      progress.files["curves"] = path
    matrix = classification.confusion_matrix(
        ds.test.labels, test["predictions"], ds.num_classes)
    path = os.path.join(self.workdir, CONFUSION_FILE)
    plot_confusion_matrix(
        matrix, ds.class_names, path,
        f"{name}: test accuracy {test['accuracy']:.4f} "
        f"({len(ds.test)} examples)")
    progress.files["confusion_matrix"] = path


def _sweep_labels(members: Any) -> Optional[list[str]]:
  """'seed s, lr r' per member of a learning-rate sweep; None otherwise."""
  if not members.learning_rates:
    return None
  return [f"seed {s}, lr {r:g}"
          for s, r in zip(members.seeds, members.learning_rates)]
