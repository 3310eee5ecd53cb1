"""``l2l eval --format table``: an evaluation's results as Markdown pipe tables for people.

One row per result, one column per field (in the order the fields first appear); numbers with 14
significant digits, JSON ``null`` (a value that does not exist, e.g. a derivative at f = 0) as
``-``, short lists inline, nested records as ``key: value`` pairs. A list longer than
:data:`MAX_INLINE` (a loss curve, a schedule) is shown in the row by its length and then in full,
one entry per row, in a table of its own under the result's number. The JSON form (``--format
json``) is the complete, machine-readable one.

>>> print(results_table({"results": [{"eta": 0.25, "t": 2, "loss": [1.0, 0.5, 0.125]}]}))
| eta | t | loss |
|---|---|---|
| 0.25 | 2 | [1, 0.5, 0.125] |
>>> print(results_table({"results": [{"t": 5, "loss": [1.0, 0.5, 0.25, 0.125, 0.0625, 0.03125]}]}))
| t | loss |
|---|---|
| 5 | 6 values (below) |
<BLANKLINE>
result 1
<BLANKLINE>
| index | loss |
|---|---|
| 0 | 1 |
| 1 | 0.5 |
| 2 | 0.25 |
| 3 | 0.125 |
| 4 | 0.0625 |
| 5 | 0.03125 |
"""

from __future__ import annotations

from typing import Any

__all__ = ["results_table", "cell_text", "MAX_INLINE"]

MAX_INLINE = 4  #: lists up to this length are shown inside their cell


def cell_text(value: Any) -> str:
    """One value as table-cell text (``|`` escaped so a cell never splits)."""
    if value is None:
        text = "-"
    elif isinstance(value, bool):
        text = str(value).lower()
    elif isinstance(value, float):
        text = f"{value:.14g}"
    elif isinstance(value, list):
        text = f"[{', '.join(cell_text(v) for v in value)}]"
    elif isinstance(value, dict):
        text = "; ".join(f"{k}: {cell_text(v)}" for k, v in value.items())
    else:
        text = str(value)
    return text.replace("|", "\\|").replace("\n", " ")


def _long(value: Any) -> bool:
    return isinstance(value, list) and len(value) > MAX_INLINE


def _table(columns: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns), *("| " + " | ".join(r) + " |" for r in rows)]


def results_table(out: dict) -> str:
    """The ``results`` of an ``l2l eval`` output as Markdown tables (see the module docstring)."""
    results = out.get("results", [])
    columns: list[str] = []
    for r in results:
        columns.extend(k for k in r if k not in columns)
    rows = [[f"{len(r[k])} values (below)" if _long(r.get(k)) else cell_text(r.get(k)) for k in columns] for r in results]
    lines = _table(columns, rows)
    for number, r in enumerate(results, 1):
        long = [k for k in columns if _long(r.get(k))]
        for size in sorted({len(r[k]) for k in long}):
            keys = [k for k in long if len(r[k]) == size]
            lines += ["", f"result {number}", ""]
            lines += _table(["index", *keys], [[str(i), *(cell_text(r[k][i]) for k in keys)] for i in range(size)])
    return "\n".join(lines)
