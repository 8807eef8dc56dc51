r"""Writes docs/config.md, the config-field reference, from the field table
(zoo/config/spec.py, through `zoo.config.reference`) and configs/default.py's
model hyperparameters.

  python scripts/config_reference.py            # rewrites docs/config.md
  python scripts/config_reference.py --check    # exit 1 if it is stale
"""

import argparse
import pathlib
import sys

REPO = pathlib.Path(__file__).resolve().parents[1]
PAGE = REPO / "docs" / "config.md"

HEADER = """# Config fields

Generated from the field table in `zoo/config/spec.py` (and the catalogue
models' hyperparameters in `configs/default.py`) by
`python scripts/config_reference.py`; do not edit by hand. The same list
prints with `python launch.py --config=configs/mlp.py --config_help`. Each
field is set on the command line as `--config.<field>=<value>`; a recipe
(`configs/mlp.py`, ...) starts from these defaults and changes only what
differs. How to train and override:
[training-and-configs.md](training-and-configs.md).
"""


def render(table) -> str:
  """The Markdown of docs/config.md for `reference.rows(...)`."""
  sections: dict[str, list] = {}
  for row in table:
    section = row.field.split(".")[0] if "." in row.field else "top level"
    sections.setdefault(section, []).append(row)
  out = [HEADER]
  for section, rows in sections.items():
    out.append(f"## {section}\n")
    out.append("| field | default | doc |\n|---|---|---|")
    above = None
    for row in rows:
      doc = row.doc.replace("|", "\\|")
      shown = "(as above)" if doc and doc == above else doc
      out.append(f"| `{row.field}` | `{row.default!r}` | {shown} |")
      above = doc
    out.append("")
  return "\n".join(out)


def page() -> str:
  sys.path.insert(0, str(REPO))
  from configs import default  # pylint: disable=g-import-not-at-top
  from zoo.config import reference  # pylint: disable=g-import-not-at-top
  return render(reference.rows(default.get_config(), default.MODEL_DOCS))


def main(argv=None) -> int:
  p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  p.add_argument("--check", action="store_true",
                 help="Only say whether docs/config.md is up to date.")
  args = p.parse_args(argv)
  text = page()
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
