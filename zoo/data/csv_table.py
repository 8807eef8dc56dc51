"""CSV tables: numeric feature columns and one class-label column.

`data.name='csv'` reads `data.path` (a CSV file with a header row). The label
column is `data.label_column`; the features are `data.feature_columns`, or
every other column when that is empty. Labels may be integers (classes in
numeric order) or strings (in sorted order), or the order `data.classes`
gives, which also drops every row whose label it does not list.

Splits are stratified and drawn from the seed: test (`data.test_fraction`),
then validation (`data.validation_fraction` of the rest, carved exactly as
the loop does for sources without one), then train. The
features are standardised with the train split's mean and std only; those
statistics, the feature names and the label mapping are returned as
`Dataset.preprocessing` (the loop saves them as `preprocessing.json`) and
`standardize` applies them to new rows.
"""

import csv
import dataclasses
import difflib
import math
import os
from typing import Any, Sequence

from absl import logging
import numpy as np

from zoo import errors
from zoo.config.spec import DataSpec
from zoo.data.dataset import Dataset, Split
from zoo.data import splits
from zoo.data.splits import stratified_split

# Cells that count as missing (compared after strip() and lower()).
MISSING = frozenset({"", "na", "n/a", "nan", "null", "none"})
_DROP_HINT = ("Fill it in, or drop such rows with "
              "--config.data.drop_missing=True.")


@dataclasses.dataclass(frozen=True)
class Table:
  """The selected columns of a CSV. `features` float64 `[n, f]`, `labels`
  (label cells as stripped strings) `[n]`, `lines` (file line of each row)
  `[n]`; `dropped_lines` lists rows dropped for missing cells."""
  features: np.ndarray
  labels: np.ndarray
  lines: np.ndarray
  feature_names: tuple[str, ...]
  dropped_lines: tuple[int, ...] = ()


def read_table(path: str, label_column: str,
               feature_columns: Sequence[str] = (),
               drop_missing: bool = False) -> Table:
  """Parses `path`; raises DataError naming file, line and column if bad."""
  header, rows = _read_rows(path)
  label_idx, feature_idx = _select_columns(header, label_column,
                                           feature_columns, path)
  names = tuple(header[j] for j in feature_idx)
  features, labels, lines, dropped = [], [], [], []
  for line, row in rows:
    missing = [header[j] for j in (label_idx, *feature_idx)
               if row[j].strip().lower() in MISSING]
    if missing and drop_missing:
      dropped.append(line)
      continue
    if missing:
      raise errors.DataError(
          f"{path} line {line}, column {missing[0]!r}: the cell is empty or "
          f"NaN ({row[header.index(missing[0])]!r}). {_DROP_HINT}")
    features.append([_number(row[j], path, line, header[j])
                     for j in feature_idx])
    labels.append(row[label_idx].strip())
    lines.append(line)
  if not labels:
    raise errors.DataError(
        f"{path} has no rows left to use (header only, or every row had a "
        f"missing cell). Check the file.")
  return Table(np.asarray(features, np.float64).reshape(-1, len(names)),
               np.asarray(labels, dtype=object), np.asarray(lines), names,
               tuple(dropped))


def _read_rows(path: str) -> tuple[list[str], list[tuple[int, list[str]]]]:
  """The header and `(line number, cells)` of every non-blank row."""
  if not os.path.isfile(path):
    raise errors.DataError(
        f"CSV file data.path={path!r} not found (absolute: "
        f"{os.path.abspath(path)}). Fix it with --config.data.path=FILE.csv.")
  try:
    with open(path, newline="", encoding="utf-8-sig") as f:
      reader = csv.reader(f)
      header = [h.strip() for h in next(reader, [])]
      rows = [(reader.line_num, r) for r in reader if r]
  except (UnicodeDecodeError, csv.Error) as e:
    raise errors.DataError(f"{path} is not a readable UTF-8 CSV file: "
                           f"{e}.") from None
  if not header:
    raise errors.DataError(f"{path} is empty; it needs a header row naming "
                           "the columns, then one row per example.")
  duplicates = sorted({h for h in header if header.count(h) > 1})
  if duplicates:
    raise errors.DataError(f"{path}: column names {duplicates} appear more "
                           "than once in the header; rename them.")
  for line, row in rows:
    if len(row) != len(header):
      raise errors.DataError(
          f"{path} line {line} has {len(row)} cells but the header has "
          f"{len(header)} columns. Fix that row.")
  return header, rows


def _select_columns(header: list[str], label_column: str,
                    feature_columns: Sequence[str],
                    path: str) -> tuple[int, list[int]]:
  """Indices of the label column and of the feature columns."""
  for name, field in [(label_column, "label_column"),
                      *((c, "feature_columns") for c in feature_columns)]:
    if name not in header:
      close = difflib.get_close_matches(name, header, n=1)
      hint = f" Did you mean {close[0]!r}?" if close else ""
      raise errors.ConfigError(
          f"config.data.{field} names column {name!r}, which {path} does not "
          f"have.{hint} Its columns: {', '.join(header)}.")
  features = list(feature_columns) or [h for h in header if h != label_column]
  if label_column in features:
    raise errors.ConfigError(
        f"config.data.feature_columns lists the label column "
        f"{label_column!r}; remove it.")
  if not features:
    raise errors.DataError(f"{path} has no feature columns besides the label "
                           f"column {label_column!r}.")
  return header.index(label_column), [header.index(c) for c in features]


def _number(cell: str, path: str, line: int, column: str) -> float:
  try:
    value = float(cell)
  except ValueError:
    raise errors.DataError(
        f"{path} line {line}, column {column!r}: {cell!r} is not a number. "
        "Features must be numeric: fix the cell, or leave the column out "
        "with --config.data.feature_columns=(...).") from None
  if not math.isfinite(value):
    raise errors.DataError(f"{path} line {line}, column {column!r}: {cell!r} "
                           "is not a finite number. Fix the cell.")
  return value


def encode_labels(table: Table, classes: Sequence[Any], path: str,
                  label_column: str) -> tuple[np.ndarray, np.ndarray,
                                              tuple[str, ...]]:
  """Returns (keep mask `[n]`, class indices of the kept rows, class names).

  Integer labels sort numerically, string labels alphabetically; `classes`
  (if not empty) keeps only those labels, in its order.
  """
  texts = table.labels
  numeric = all(_is_int(t) for t in texts)
  keys = np.asarray([str(int(t)) if numeric else t for t in texts], object)
  present = sorted(set(keys), key=int if numeric else str)
  if classes:
    wanted = [_class_key(c, numeric) for c in classes]
    absent = [c for c in wanted if c not in present]
    if absent or len(set(wanted)) != len(wanted):
      raise errors.ConfigError(
          f"config.data.classes={tuple(classes)!r} must list distinct labels "
          f"of column {label_column!r} in {path}; it has {present}"
          f"{f' (no {absent})' if absent else ''}.")
    present = wanted
  if len(present) < 2:
    raise errors.DataError(
        f"{path}: column {label_column!r} needs at least two classes to "
        f"classify; it has {present}.")
  index = {k: i for i, k in enumerate(present)}
  keep = np.asarray([k in index for k in keys])
  labels = np.asarray([index[k] for k in keys[keep]], np.int32)
  counts = np.bincount(labels, minlength=len(present))
  if counts.min() < 2:
    c = int(counts.argmin())
    line = table.lines[keep][labels == c][0]
    raise errors.DataError(
        f"{path}: label {present[c]!r} of column {label_column!r} has only "
        f"one example (line {line}); each class needs two or more to appear "
        "in both the train and test splits. Add examples, remove that row, "
        "or leave the class out with --config.data.classes=(...).")
  return keep, labels, tuple(present)


def _is_int(text: str) -> bool:
  try:
    int(text)
    return True
  except ValueError:
    return False


def _class_key(c: Any, numeric: bool) -> str:
  text = str(c).strip()
  if text.startswith("(") and "," in text:
    raise errors.ConfigError(
        f"config.data.classes was read as the single label {text!r}. Quote "
        "string labels: --config.data.classes='(\"low\", \"high\")'.")
  return str(int(text)) if numeric and _is_int(text) else text


def standardize(inputs: np.ndarray,
                preprocessing: dict[str, Any]) -> np.ndarray:
  """`(inputs - mean) / std` with saved statistics: `[n, f]` -> float32."""
  mean = np.asarray(preprocessing["mean"], np.float64)
  std = np.asarray(preprocessing["std"], np.float64)
  return ((inputs - mean) / std).astype(np.float32)


def load_csv(cfg: DataSpec, seed: int) -> Dataset:
  """The `data.name='csv'` source (see the module docstring)."""
  path = _check_config(cfg)
  table = read_table(path, cfg.label_column, tuple(cfg.feature_columns),
                     cfg.drop_missing)
  keep, labels, class_names = encode_labels(table, tuple(cfg.classes), path,
                                            cfg.label_column)
  features = table.features[keep]
  rest, test = stratified_split(labels, cfg.test_fraction, seed)
  raw = Dataset(
      name=os.path.basename(path), train=Split(features[rest], labels[rest]),
      test=Split(features[test], labels[test]), num_classes=len(class_names),
      class_names=class_names,
      source=(f"CSV {os.path.abspath(path)}: {len(labels)} rows, "
              f"{len(table.feature_names)} features, label column "
              f"{cfg.label_column!r}"),
      warnings=_dropped_warning(table, path))
  # The loop's own validation carve, done here so that scaling sees train only.
  raw = splits.with_validation(raw, cfg.validation_fraction, seed)
  prep = _preprocessing(raw.train.inputs, table, class_names, cfg, path)
  scale = lambda s: None if s is None else Split(standardize(s.inputs, prep),
                                                 s.labels)
  return dataclasses.replace(raw, train=scale(raw.train),
                             validation=scale(raw.validation),
                             test=scale(raw.test), preprocessing=prep)


def _dropped_warning(table: Table, path: str) -> tuple[str, ...]:
  if not table.dropped_lines:
    return ()
  lines = table.dropped_lines
  warning = (f"Dropped {len(lines)} row(s) of {path} with missing cells "
             f"(lines {list(lines[:10])}{'...' if len(lines) > 10 else ''}).")
  logging.warning(warning)
  return (warning,)


def _check_config(cfg: DataSpec) -> str:
  if not isinstance(cfg.path, str) or not cfg.path:
    raise errors.ConfigError(
        "data.name='csv' needs config.data.path: the CSV file to read. Set "
        "it with --config.data.path=FILE.csv.")
  if not isinstance(cfg.label_column, str) or not cfg.label_column:
    raise errors.ConfigError(
        f"config.data.label_column={cfg.label_column!r} must name the label "
        "column, e.g. --config.data.label_column=price_range.")
  if not all(isinstance(c, str) for c in cfg.feature_columns):
    raise errors.ConfigError(
        f"config.data.feature_columns={tuple(cfg.feature_columns)!r} must be "
        "column names, e.g. --config.data.feature_columns='(\"ram\", \"pc\")'.")
  return cfg.path


def _preprocessing(train_features: np.ndarray, table: Table,
                   class_names: tuple[str, ...],
                   cfg: DataSpec, path: str) -> dict[str, Any]:
  """What predicting on new rows needs: columns, scaling, label mapping."""
  num_features = train_features.shape[1]
  mean, std = np.zeros(num_features), np.ones(num_features)
  if cfg.standardize:
    mean, std = train_features.mean(0), train_features.std(0)
    constant = std < 1e-12
    if constant.any():
      logging.warning("Constant feature column(s) in the train split, left "
                      "centred but unscaled: %s",
                      [n for n, c in zip(table.feature_names, constant) if c])
    std = np.where(constant, 1.0, std)
  return {
      "source": os.path.abspath(path),
      "label_column": cfg.label_column,
      "feature_columns": list(table.feature_names),
      "standardized": bool(cfg.standardize),
      "mean": mean.tolist(),
      "std": std.tolist(),
      "class_names": list(class_names),
      "label_to_index": {n: i for i, n in enumerate(class_names)},
  }
