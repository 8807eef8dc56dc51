r"""Writes docs/config.md, the config-field reference, from configs/default.py.

  python scripts/config_reference.py            # rewrites docs/config.md
  python scripts/config_reference.py --check    # exit 1 if it is stale

Every leaf field of `default.get_config()` with its default and the comment
above its assignment in configs/default.py (or after it on the same line),
in the file's order, one table per section; a section's own comment (above
`config.<section> = ...`) introduces its table. A field assigned right below
another with no comment of its own shares that one's comment; a model's
hyperparameters (`config.model.<name>.*`) share the comment of
`config.model.<name>`.
"""

import argparse
import pathlib
import re
import sys
from typing import Any, Iterator

REPO = pathlib.Path(__file__).resolve().parents[1]
SOURCE = REPO / "configs" / "default.py"
PAGE = REPO / "docs" / "config.md"
_ASSIGN = re.compile(r"^\s*config\.([a-z0-9_.]+)\s*=\s*(.*)$")
_INLINE = re.compile(r"\s#\s*(.*)$")

HEADER = """# Config fields

Generated from `configs/default.py` by `python scripts/config_reference.py`;
do not edit by hand. Each field is set on the command line as
`--config.<field>=<value>`; a recipe (`configs/mlp.py`, ...) starts from these
defaults and changes only what differs. How to train and override:
[training-and-configs.md](training-and-configs.md).
"""


def comments(source: str) -> dict[str, str]:
  """Field (e.g. 'train.batch_size') -> the comment above or beside it."""
  docs, block, previous = {}, [], ""
  for line in source.splitlines():
    stripped = line.strip()
    if stripped.startswith("#"):
      text = stripped.lstrip("#").strip()
      if not re.fullmatch(r"---.*---", text):
        block.append(text)
      continue
    match = _ASSIGN.match(line)
    if match:
      inline = _INLINE.search(match.group(2))
      text = " ".join(block + ([inline.group(1)] if inline else []))
      # Uncommented right below another field: that field's comment covers
      # both (e.g. image_mean and image_std).
      docs[match.group(1)] = text or previous
      previous = docs[match.group(1)] if "." in match.group(1) else ""
    elif not line.startswith("      "):  # Not an assignment's continuation.
      previous = ""
    block = []  # A comment documents only the line right below it.
  return docs


def leaves(config: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
  """(dotted field, default) of every leaf of a ConfigDict, in order."""
  for key, value in config.items():
    if hasattr(value, "items"):
      yield from leaves(value, f"{prefix}{key}.")
    else:
      yield f"{prefix}{key}", value


def _doc(field: str, docs: dict[str, str]) -> str:
  """The field's comment; a model hyperparameter's is its model's."""
  parts = field.split(".")
  while parts:
    name = ".".join(parts)
    if docs.get(name):
      return docs[name]
    if not field.startswith("model.") or len(parts) <= 2:
      break
    parts.pop()
  return ""


def render(config: Any, source: str) -> str:
  """The Markdown of docs/config.md."""
  docs = comments(source)
  order = {name: i for i, name in enumerate(docs)}
  def position(item: tuple[str, Any]) -> int:  # Where configs/default.py
    parts = item[0].split(".")                 # assigns it (or its model).
    while len(parts) > 1 and ".".join(parts) not in order:
      parts.pop()
    return order.get(".".join(parts), len(order))
  sections: dict[str, list[tuple[str, Any]]] = {}
  for field, default in sorted(leaves(config), key=position):
    section = field.split(".")[0] if "." in field else "top level"
    sections.setdefault(section, []).append((field, default))
  out = [HEADER]
  for section, fields in sections.items():
    out.append(f"## {section}\n")
    if docs.get(section):
      out.append(docs[section] + "\n")
    out.append("| field | default | doc |\n|---|---|---|")
    above = None
    for field, default in fields:
      doc = _doc(field, docs).replace("|", "\\|")
      shown = "(as above)" if doc and doc == above else doc
      out.append(f"| `{field}` | `{default!r}` | {shown} |")
      above = doc
    out.append("")
  return "\n".join(out)


def main(argv=None) -> int:
  p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  p.add_argument("--check", action="store_true",
                 help="Only say whether docs/config.md is up to date.")
  args = p.parse_args(argv)
  sys.path.insert(0, str(REPO))
  from configs import default  # pylint: disable=g-import-not-at-top
  text = render(default.get_config(), SOURCE.read_text(encoding="utf-8"))
  if args.check:
    current = PAGE.read_text(encoding="utf-8") if PAGE.exists() else ""
    if current != text:
      print("docs/config.md is stale: run python scripts/config_reference.py")
      return 1
    return 0
  PAGE.write_text(text, encoding="utf-8")
  return 0


if __name__ == "__main__":
  sys.exit(main())
