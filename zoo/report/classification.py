"""The test split's classification report and confusion matrix.

The report is scikit-learn's `classification_report` (precision, recall, F1
and support per class, plus accuracy and averages): saved as text in
`classification_report.txt` and as a dict in results.json, along with the
confusion matrix (rows: true class, columns: predicted class).
"""

import os
from typing import Any, Sequence

import numpy as np

from zoo.runtime import files
from zoo.train import hooks

REPORT_FILE = "classification_report.txt"


def confusion_matrix(labels: np.ndarray, predictions: np.ndarray,
                     num_classes: int) -> np.ndarray:
  """Counts `[num_classes, num_classes]` int64: [true class, predicted]."""
  flat = labels.astype(np.int64) * num_classes + predictions.astype(np.int64)
  return np.bincount(flat, minlength=num_classes**2).reshape(
      num_classes, num_classes)


def classification_report(labels: np.ndarray, predictions: np.ndarray,
                          class_names: Sequence[str]) -> tuple[str, dict]:
  """scikit-learn's report over every class, as (text, dict)."""
  from sklearn import metrics  # pylint: disable=g-import-not-at-top
  kwargs = dict(labels=list(range(len(class_names))),
                target_names=[str(c) for c in class_names], zero_division=0)
  text = metrics.classification_report(labels, predictions, digits=4, **kwargs)
  table = metrics.classification_report(labels, predictions, output_dict=True,
                                        **kwargs)
  return text, table


def report_fields(labels: np.ndarray, predictions: np.ndarray,
                  class_names: Sequence[str]) -> dict[str, Any]:
  """results.json's fields about the test split's classes: `class_names`,
  `classification_report` (a dict) and `confusion_matrix`."""
  _, table = classification_report(labels, predictions, class_names)
  return {"class_names": list(class_names), "classification_report": table,
          "confusion_matrix": confusion_matrix(
              labels, predictions, len(class_names)).tolist()}


class ClassificationHook(hooks.Hook):
  """Writes the test split's report to `workdir/classification_report.txt`
  at the end of the run (process 0 only)."""

  def __init__(self, workdir: str):
    self.workdir = workdir

  def on_train_end(self, progress: Any, test: dict[str, Any]) -> None:
    if not files.is_writer():
      return
    ds = progress.setup.dataset
    text, _ = classification_report(ds.test.labels, test["predictions"],
                                    ds.class_names)
    path = os.path.join(self.workdir, REPORT_FILE)
    header = (f"{progress.spec.model.name} on {ds.name}: test split, "
              f"{len(ds.test)} examples\n\n")
    files.write_text(path, header + text)
    progress.files["classification_report"] = path
