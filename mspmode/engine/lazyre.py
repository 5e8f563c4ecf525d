"""Regular expressions compiled on first use.

The hooks start a new Python process for every tool call and import the engine to answer one
pre-check; compiling every rule of every module at import (a hundred-odd patterns) was a third
of that import. A rule table built with :func:`lazy` costs nothing until a rule is used, and
then exactly what ``re.compile`` costs, once.
"""

from __future__ import annotations

import re

TYPE_CHECKING = False  # typing costs a pre-check hook 5 ms of imports
if TYPE_CHECKING:
    from typing import Any

__all__ = ["lazy"]

# What callers use of a pattern; after the first use these are plain attributes of the proxy,
# so later calls never pass through ``__getattr__`` again.
_METHODS = ("search", "match", "fullmatch", "finditer", "findall", "sub", "subn", "split")


class _LazyPattern:
    def __init__(self, pattern: str, flags: int) -> None:
        self._source = (pattern, flags)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)  # copy, pickle and friends probe for these
        compiled = re.compile(*self._source)
        for method in _METHODS:
            setattr(self, method, getattr(compiled, method))
        for attribute in ("pattern", "flags", "groups", "groupindex"):
            setattr(self, attribute, getattr(compiled, attribute))
        return getattr(compiled, name)

    def __repr__(self) -> str:
        return f"lazy({self._source[0]!r}, {self._source[1]})"


def lazy(pattern: str, flags: int = 0) -> re.Pattern[str]:
    """``re.compile(pattern, flags)``, done when the pattern is first used."""
    return _LazyPattern(pattern, flags)  # type: ignore[return-value]
