r"""Renders the measured tables of docs/performance.md from benchmarks/results/.

  python scripts/perf_tables.py            # rewrites the tables in place
  python scripts/perf_tables.py --check    # exit 1 if the page is stale

Each benchmarks/results/<name>.json (written by the benchmarks' --json PATH,
see benchmarks/results_json.py) fills the part of docs/performance.md between
`<!-- perf-table: <name> -->` and `<!-- end perf-table -->`: a line naming the
command, machine and date, the table, and the file's note.
"""

import argparse
import json
import pathlib
import re
import sys
from typing import Any

REPO = pathlib.Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
PAGE = REPO / "docs" / "performance.md"
_SECTION = re.compile(r"(<!-- perf-table: ([a-z0-9_]+) -->\n)(.*?)"
                      r"(<!-- end perf-table -->)", re.DOTALL)


def _cell(value: Any, column: dict[str, Any], row: dict[str, Any]) -> str:
  """One table cell: `column`'s `ratio`, `values`, `format` or a default."""
  if "ratio" in column:
    num, den = (row.get(k) for k in column["ratio"])
    value = round(num / den, 2) if num and den else None
    return "" if value is None else f"{value:.2f}"
  if value is None or value == "":
    return ""
  if "values" in column:
    return column["values"][json.dumps(value)]
  if "format" in column:
    return column["format"].format(value)
  if isinstance(value, list):
    return ", ".join(_cell(v, {}, row) for v in value)
  if isinstance(value, int) and not isinstance(value, bool):
    return f"{value:,}"
  if isinstance(value, float) and value >= 1000:
    return f"{value:,.0f}"
  text = str(value)
  return f"`{text}`" if column.get("code") else text


def render(table: dict[str, Any]) -> str:
  """The Markdown of one results file."""
  columns = table["columns"]
  date = table.get("date") or "date not recorded"
  lines = [f"**{table['title']}.** `{table['command']}`; "
           f"{table['machine']}; {date}.", "",
           "| " + " | ".join(c["label"] for c in columns) + " |",
           "|" + "---|" * len(columns)]
  for row in table["rows"]:
    lines.append("| " + " | ".join(_cell(row.get(c["key"]), c, row)
                                   for c in columns) + " |")
  if table.get("note"):
    lines += ["", table["note"]]
  return "\n".join(lines) + "\n"


def rendered_page(page: str, results: pathlib.Path = RESULTS) -> str:
  """`page` with every perf-table section rendered from `results`."""
  def fill(match: re.Match) -> str:
    path = results / f"{match.group(2)}.json"
    table = json.loads(path.read_text(encoding="utf-8"))
    return match.group(1) + render(table) + match.group(4)
  return _SECTION.sub(fill, page)


def main(argv=None) -> int:
  p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  p.add_argument("--check", action="store_true",
                 help="Only say whether docs/performance.md is up to date.")
  args = p.parse_args(argv)
  page = PAGE.read_text(encoding="utf-8")
  new = rendered_page(page)
  if args.check:
    if new != page:
      print("docs/performance.md is stale: run python scripts/perf_tables.py")
      return 1
    return 0
  PAGE.write_text(new, encoding="utf-8")
  return 0


if __name__ == "__main__":
  sys.exit(main())
