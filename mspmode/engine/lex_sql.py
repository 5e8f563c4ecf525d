"""The SQL lexer: statements separated by ``;``, strings, quoted identifiers, comments."""

from __future__ import annotations

from mspmode.engine.tokens import CLOSE, OP, OPEN, PUNCT, WORD, Lexer

__all__ = ["lex_sql"]

_SQL_PUNCT = ("<>", "!=", "<=", ">=", "::", "||", "->>", "->", ":=")


def lex_sql(text: str) -> Lexer:
    lx = Lexer(text)
    s, n = text, len(text)
    i = 0
    while i < n and not lx.full():
        c = s[i]
        if c.isspace():
            i += 1
            continue
        if s.startswith("--", i):
            j = s.find("\n", i)
            i = n if j < 0 else j
            continue
        if s.startswith("/*", i):
            j = s.find("*/", i + 2)
            i = n if j < 0 else j + 2
            continue
        if c == ";":
            lx.emit(c, c, OP, i, i + 1)
            i += 1
            continue
        if c == "(":
            lx.emit(c, c, OPEN, i, i + 1)
            i += 1
            continue
        if c == ")":
            lx.emit(c, c, CLOSE, i, i + 1)
            i += 1
            continue
        if c in "'\"`[":
            close = "]" if c == "[" else c
            j = i + 1
            buf: list[str] = []
            while j < n:
                if s[j] == "\\" and c != "[" and j + 1 < n:
                    buf.append(s[j + 1])
                    j += 2
                    continue
                if s[j] == close:
                    if close != "]" and j + 1 < n and s[j + 1] == close:
                        buf.append(close)
                        j += 2
                        continue
                    break
                buf.append(s[j])
                j += 1
            if j >= n:
                lx.problems.append(f"unterminated {c}")
                lx.emit(s[i:], "".join(buf), WORD, i, n, True)
                break
            lx.emit(s[i : j + 1], "".join(buf), WORD, i, j + 1, True)
            i = j + 1
            continue
        if c.isalnum() or c in "_@$#":
            j = i + 1
            while j < n and (s[j].isalnum() or s[j] in "_$#@."):
                j += 1
            lx.emit(s[i:j], s[i:j], WORD, i, j)
            i = j
            continue
        for op in _SQL_PUNCT:
            if s.startswith(op, i):
                lx.emit(op, op, PUNCT, i, i + len(op))
                i += len(op)
                break
        else:
            lx.emit(c, c, PUNCT, i, i + 1)
            i += 1
    return lx
