"""Values as text for the report's tables and files (shared by the Markdown, HTML and LaTeX renderers)."""

from __future__ import annotations

import json
from typing import Any

__all__ = ["cell", "json_text"]


def cell(value: Any) -> str:
    """A value for a Markdown table cell: JSON for structures, no pipes or newlines."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else json.dumps(value)
    return text.replace("|", "\\|").replace("\n", " ")


def json_text(value: Any) -> str:
    return json.dumps(value, indent=1, allow_nan=False, default=str)
