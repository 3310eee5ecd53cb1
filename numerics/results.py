"""Result objects for people: their fields in ``help()``, a short ``repr`` and an HTML table.

:func:`result_type` decorates a result dataclass: it appends a "Fields" section to the class
docstring (each field with the text of its ``#:`` comment, or of its ``- ``name``: text`` bullet
in the docstring), gives it a ``repr`` that abridges arrays (shape, dtype and a few values) and a
``_repr_html_`` table for notebooks. :func:`returns` appends the same section to the docstring of
a function returning that type, so ``help(evaluate)`` lists what comes back.

>>> from dataclasses import dataclass
>>> import numpy as np
>>> @result_type
... @dataclass(frozen=True)
... class Demo:
...     '''A demo result.
...
...     - ``x``: the values
...     - ``status``: "ok" or why not
...     '''
...     x: np.ndarray
...     status: str = "ok"
>>> Demo(np.arange(10.0))
Demo(x=array(shape=(10,), float64: 0, 1, 2, …, 9), status='ok')
>>> print(Demo.__doc__.split("Fields")[1].strip())
------
x
    the values
status
    "ok" or why not
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import html
import inspect
import linecache
import re
from typing import Any, Callable, TypeVar

import numpy as np

__all__ = ["result_type", "returns", "field_docs", "short_value"]

T = TypeVar("T")
_COMMENT = re.compile(r"^\s+(\w+)\s*:[^#]*#:\s*(.+?)\s*$")
_BULLET = re.compile(r"^\s*-\s+``(\w+)``(?:,\s*``\w+``)*\s*:\s*(.+)$")


@functools.lru_cache(maxsize=None)
def _class_lines(filename: str) -> tuple[list[str], dict[str, tuple[int, int]]]:
    """The lines of a module's source and ``{class qualname: (first line, last line)}``, parsed
    once per module (``inspect.getsource`` parses the whole module again for every class: 0.8 s of
    the package's import time for its 114 result types and functions, measured)."""
    lines = linecache.getlines(filename)
    spans: dict[str, tuple[int, int]] = {}

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.ClassDef):
                name = prefix + child.name
                spans.setdefault(name, (child.lineno, child.end_lineno or child.lineno))
                visit(child, name + ".")
            elif isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                visit(child, prefix + child.name + ".<locals>.")

    try:
        visit(ast.parse("".join(lines)), "")
    except (SyntaxError, ValueError):
        pass
    return lines, spans


def _class_source(cls: type) -> str:
    """The source of ``cls`` (its ``class`` statement), or "" where it cannot be found."""
    try:
        filename = inspect.getsourcefile(cls) or inspect.getfile(cls)
    except (OSError, TypeError):  # no source (e.g. a frozen application, a class made in a doctest)
        return ""
    lines, spans = _class_lines(filename)
    span = spans.get(cls.__qualname__)
    if span is None:  # defined in a way the parse does not see (exec, a notebook): ask inspect
        try:
            return inspect.getsource(cls)
        except (OSError, TypeError):
            return ""
    return "".join(lines[span[0] - 1:span[1]])


def field_docs(cls: type) -> dict[str, str]:
    """``{field: text}`` from the ``#:`` comments in the class body (or the docstring's bullets)."""
    docs: dict[str, str] = {}
    source = _class_source(cls)
    for line in source.splitlines():
        m = _COMMENT.match(line)
        if m:
            docs.setdefault(m.group(1), m.group(2))
    for line in (cls.__doc__ or "").splitlines():
        m = _BULLET.match(line)
        if m:
            docs.setdefault(m.group(1), m.group(2))
    return docs


def _fields_section(cls: type) -> str:
    docs = field_docs(cls)
    lines = ["Fields", "------"]
    for f in dataclasses.fields(cls):
        lines.append(f.name)
        if docs.get(f.name):
            lines.append("    " + docs[f.name])
    return "\n".join(lines)


def short_value(value: Any, edge: int = 3) -> str:
    """A value in a few characters: arrays as shape, dtype and their first and last entries."""
    if isinstance(value, np.ndarray):
        flat = value.reshape(-1)
        if value.dtype.kind in "fc":
            show = [f"{x:.6g}" for x in flat]
        else:
            show = [str(x) for x in flat]
        if len(show) > 2 * edge:
            show = [*show[:edge], "…", *show[-1:]]
        return f"array(shape={value.shape}, {value.dtype}: {', '.join(show)})"
    if isinstance(value, float):
        return f"{value:.6g}"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def result_type(cls: type[T]) -> type[T]:
    """Decorate a result dataclass (see the module docstring)."""
    if not dataclasses.is_dataclass(cls):
        raise TypeError(f"{cls.__name__} must be a dataclass")
    cls.__doc__ = inspect.cleandoc(cls.__doc__ or cls.__name__) + "\n\n" + _fields_section(cls)

    def __repr__(self: Any) -> str:
        parts = [f"{f.name}={short_value(getattr(self, f.name))}" for f in dataclasses.fields(self) if f.repr]
        return f"{type(self).__name__}({', '.join(parts)})"

    def _repr_html_(self: Any) -> str:
        docs = field_docs(type(self))
        rows = "".join(
            f"<tr><th>{html.escape(f.name)}</th><td><code>{html.escape(short_value(getattr(self, f.name)))}</code></td>"
            f"<td>{html.escape(docs.get(f.name, ''))}</td></tr>"
            for f in dataclasses.fields(self) if f.repr
        )
        return f"<table><caption>{html.escape(type(self).__name__)}</caption>{rows}</table>"

    cls.__repr__ = __repr__  # type: ignore[method-assign]
    cls._repr_html_ = _repr_html_  # type: ignore[attr-defined]
    return cls


def returns(cls: type) -> Callable[[Callable], Callable]:
    """Append "Returns a CLS with fields ..." (the class's Fields section) to a function's docstring."""

    def wrap(fn: Callable) -> Callable:
        doc = inspect.cleandoc(fn.__doc__ or "")
        fn.__doc__ = f"{doc}\n\nReturns a :class:`{cls.__name__}`.\n\n{_fields_section(cls)}"
        return fn

    return wrap
