"""A progress bar of a claim run on a terminal: claims done, running and left (tqdm, on stderr).

:func:`progress_bar` returns ``None`` unless the stream (standard error by default) is a
terminal, so nothing changes in a pipe, a log file or CI (``l2l check --progress`` keeps its one
line per claim there), and the bar never touches standard output, where ``--json`` goes. Set
``TQDM_DISABLE=1`` to turn it off on a terminal too. It only displays: the verdicts do not depend
on it.
"""

from __future__ import annotations

import sys
from typing import Any, TextIO

__all__ = ["ClaimBar", "progress_bar"]


class ClaimBar:
    """``total`` claims: :meth:`start` (a claim began), :meth:`done` (it ended, or came from the
    cache), :meth:`write` (a line printed above the bar), :meth:`close`."""

    def __init__(self, total: int, stream: TextIO, ids: list[str] | None = None):
        from tqdm import tqdm

        self._ids = ids or []
        self._running: dict[int, None] = {}
        self._cached = 0
        self._total = total
        self._bar = tqdm(total=total, file=stream, unit="claim", dynamic_ncols=True, leave=False,
                         bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} done{postfix} [{elapsed}<{remaining}]")
        self._show()

    def _show(self) -> None:
        left = self._total - self._bar.n - len(self._running)
        text = f"{len(self._running)} running, {left} left"
        if self._cached:
            text += f", {self._cached} cached"
        if self._running:
            first = next(iter(self._running))
            if first < len(self._ids):
                text += f": {self._ids[first]}"
        self._bar.set_postfix_str(text, refresh=True)

    def start(self, i: int) -> None:
        self._running[i] = None
        self._show()

    def done(self, i: int, cached: bool = False) -> None:
        self._running.pop(i, None)
        self._cached += bool(cached)
        self._bar.update(1)
        self._show()

    def write(self, line: str, file: TextIO | None = None) -> None:
        """Print ``line`` to ``file`` (default: the bar's stream) above the bar."""
        self._bar.write(line, file=file or sys.stderr)

    def close(self) -> None:
        self._bar.close()


def progress_bar(total: int, ids: list[str] | None = None, stream: Any = None) -> ClaimBar | None:
    """A :class:`ClaimBar` on ``stream`` (standard error) when it is a terminal, else None."""
    stream = sys.stderr if stream is None else stream
    try:
        if not stream.isatty():
            return None
        return ClaimBar(total, stream, ids)
    except Exception:  # noqa: BLE001 - no tqdm, or a stream without isatty: no bar, same run
        return None
