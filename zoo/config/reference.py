"""The config reference: every field of a config with its default and one-line
doc, from the field table (`resolve.table()`). `launch.py --config_help`
prints it; scripts/config_reference.py renders it as docs/config.md."""

from typing import Any, Iterator, Mapping, NamedTuple

from zoo.config import resolve


class Row(NamedTuple):
  field: str  # Dotted, e.g. 'train.batch_size'.
  default: Any
  doc: str


def _leaves(config: Mapping[str, Any], prefix: str = "") -> Iterator[
    tuple[str, Any]]:
  for key, value in config.items():
    if hasattr(value, "items"):
      yield from _leaves(value, f"{prefix}{key}.")
    else:
      yield f"{prefix}{key}", value


def rows(config: Mapping[str, Any],
         model_docs: Mapping[str, str]) -> list[Row]:
  """The table's fields, in its order, with `config`'s defaults (a recipe's
  values), then each model section's hyperparameters `model.<name>.*`
  (documented by `model_docs[name]`) right after the model fields."""
  values = dict(_leaves(config))
  out, models_at = [], None
  for f in resolve.table():
    out.append(Row(f.path, values.get(f.path, f.default), f.doc))
    if f.path.startswith("model."):
      models_at = len(out)
  hyper = [Row(name, value, model_docs.get(name.split(".")[1], ""))
           for name, value in values.items()
           if name.startswith("model.") and name.count(".") >= 2]
  return out[:models_at] + hyper + out[models_at:]


def as_text(table: list[Row]) -> str:
  """One line per field: `--config.<field>=<default>  <doc>`."""
  lines = []
  for row in table:
    lines.append(f"--config.{row.field}={row.default!r}")
    if row.doc:
      lines.append(f"    {row.doc}")
  return "\n".join(lines)
