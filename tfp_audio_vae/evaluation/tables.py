"""Results as Markdown tables: one formatter for the example, the experiments and the model card.

A column is ``(header, dotted key, format)``: the key finds the value in a row's nested dict
(``"generation.unconditional.inception_score"``), the format writes it (``"{:.2f}"``); a row that
lacks the value gets ``–``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

Column = tuple[str, str, str]
"""A table column: its header, the dotted key of its value in a row, its format (``"{:.1%}"``)."""


def lookup(row: Mapping[str, Any], key: str) -> Any:
    """``row``'s value at a dotted ``key`` (``"generation.unconditional.level_db"``), else None."""
    value: Any = row
    for part in key.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    return value


def table(rows: Sequence[Mapping[str, Any]], columns: Sequence[Column]) -> str:
    """A Markdown table: one line per row, one cell per column (``–`` where the row lacks it)."""
    lines = [
        "| " + " | ".join(header for header, _, _ in columns) + " |",
        "|" + "---|" * len(columns),
    ]
    for row in rows:
        cells = []
        for _, key, fmt in columns:
            value = lookup(row, key)
            cells.append("–" if value is None else fmt.format(value))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
