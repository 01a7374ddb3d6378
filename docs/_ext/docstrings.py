"""matgrad's docstrings read as reST without mistaking their math prose for markup.

The docstrings are numpydoc with reST inline markup (``code``, :func:`…`), and their prose
writes math in Unicode: an absolute value |err| or a call f(**arrays). reST would read
``|err|`` as a substitution and ``(**`` as the start of bold text and fail the build, so
outside literal text these characters are escaped before the docstring is parsed.
"""

from __future__ import annotations

import re
from typing import Any

from sphinx.application import Sphinx

_INLINE_LITERAL = re.compile(r"(``.+?``|`[^`]+`)")  # ``code`` and roles' `targets`
_CALL_STARS = re.compile(r"(?<=[(\[,] )\*|(?<=[(\[])\*+|(?<=, )\*+")


def _escape(text: str) -> str:
    """Escape '|' and the stars of f(*args, **kwargs) in one line, outside `...` spans."""
    parts = _INLINE_LITERAL.split(text)
    for i in range(0, len(parts), 2):  # even items lie outside the literal spans
        parts[i] = _CALL_STARS.sub(lambda m: "\\*" * len(m.group(0)), parts[i].replace("|", "\\|"))
    return "".join(parts)


def escape_prose(lines: list[str]) -> list[str]:
    """The docstring's lines, with literal blocks (after '::') and doctests left as they are."""
    out: list[str] = []
    literal_indent: int | None = None  # indentation of the line that opened a '::' block
    doctest = False
    for line in lines:
        indent, stripped = len(line) - len(line.lstrip()), line.strip()
        if literal_indent is not None and stripped and indent <= literal_indent:
            literal_indent = None
        doctest = stripped.startswith(">>>") or (doctest and bool(stripped))
        literal = literal_indent is not None
        out.append(line if literal or doctest else _escape(line))
        if not literal and stripped.endswith("::"):
            literal_indent = indent
    return out


def _process(app: Sphinx, what: str, name: str, obj: Any, options: Any, lines: list[str]) -> None:
    lines[:] = escape_prose(lines)


def setup(app: Sphinx) -> dict[str, object]:
    # Before numpydoc (priority 500) turns the sections into reST of its own.
    app.connect("autodoc-process-docstring", _process, priority=400)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
