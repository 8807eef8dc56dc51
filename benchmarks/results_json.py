"""The benchmarks' `--json PATH`: a measured row into a table file.

A table file (benchmarks/results/*.json) holds one table of
docs/performance.md: `title`, `machine`, `date`, `command`, `note`, `key`
(the fields that name a row), `columns` and `rows`;
`python scripts/perf_tables.py` renders it. `record` adds a measurement to
such a file, or starts a new one holding only `key` and `rows`.
"""

import datetime
import json
import os
import pathlib
from typing import Any, Sequence


def record(path: str, row: dict[str, Any], key: Sequence[str]) -> None:
  """Merges `row` into the table at `path`: into the row with the same
  values of the file's `key` fields (else `key`), else as a new row; the
  row's other fields (e.g. a hand-written `decision`) are kept."""
  file = pathlib.Path(path)
  table = (json.loads(file.read_text(encoding="utf-8")) if file.exists()
           else {"key": list(key), "rows": []})
  names = table.get("key", list(key))
  row = {**row, "measured": datetime.date.today().isoformat(),
         "load_avg_1m": round(os.getloadavg()[0], 2)}
  for old in table["rows"]:
    if all(old.get(k) == row.get(k) for k in names):
      old.update(row)
      break
  else:
    table["rows"].append(row)
  file.write_text(json.dumps(table, indent=1, ensure_ascii=False) + "\n",
                  encoding="utf-8")
