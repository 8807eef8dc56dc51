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


class ClassificationHook(hooks.Hook):
  """Adds the test report and confusion matrix to results; writes the text
  report to `workdir/classification_report.txt` (process 0 only)."""

  def __init__(self, workdir: str):
    self.workdir = workdir

  def on_train_end(self, run: Any, results: dict[str, Any]) -> None:
    ds = run.setup.dataset
    labels, predictions = ds.test.labels, run.test["predictions"]
    text, table = classification_report(labels, predictions, ds.class_names)
    results["class_names"] = list(ds.class_names)
    results["classification_report"] = table
    results["confusion_matrix"] = confusion_matrix(
        labels, predictions, ds.num_classes).tolist()
    if files.is_writer():
      path = os.path.join(self.workdir, REPORT_FILE)
      header = (f"{results['model']} on {results['dataset']}: test split, "
                f"{len(labels)} examples\n\n")
      files.write_text(path, header + text)
      files.record(results, "classification_report", path)
