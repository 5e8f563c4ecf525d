"""The PowerShell lexer: Windows PowerShell 2.0–5.1 and PowerShell 7 — ``-Parameter``, script
blocks, ``$( )``/``@( )``, here-strings, the call operator ``&``."""

from __future__ import annotations

from mspmode.engine.lazyre import lazy
from mspmode.engine.tokens import CLOSE, OP, OPEN, PUNCT, REDIR, WORD, Lexer

__all__ = ["lex_powershell"]

_PS_OPS = ("&&", "||", "|", ";")
_PS_REDIRS = ("2>&1", "1>&2", "*>&1", "3>&1", "*>>", "*>", "2>>", "2>", "1>>", "1>", ">>", ">", "<")
_PS_REDIR_START = frozenset("123*><")
_PS_WORD_END = " \t\r\n;|&(){},"
_PS_PLAIN = lazy(r"[^ \t\r\n;|&(){},`'\"\[$]+")  # as _POSIX_PLAIN, for PowerShell words


def lex_powershell(text: str) -> Lexer:
    lx = Lexer(text)
    s, n = text, len(text)
    i = 0
    while i < n and not lx.full():
        c = s[i]
        if c in " \t\r\ufeff":
            i += 1
            continue
        if c == "`" and i + 1 < n and s[i + 1] in "\r\n":
            i += 2
            continue
        if c == "\n":
            lx.emit("\n", "\n", OP, i, i + 1)
            i += 1
            continue
        if c == "<" and s.startswith("<#", i):
            j = s.find("#>", i + 2)
            i = n if j < 0 else j + 2
            continue
        if c == "#":
            j = s.find("\n", i)
            i = n if j < 0 else j
            continue
        if c == "-" and s.startswith("--%", i):
            # Stop-parsing token: the rest of the line goes to the program as it is.
            j = s.find("\n", i)
            j = n if j < 0 else j
            lx.emit(s[i:j], s[i + 3 : j].strip(), WORD, i, j)
            i = j
            continue
        if c == "@" and (s.startswith("@'", i) or s.startswith('@"', i)):
            q = s[i + 1]
            j = s.find("\n" + q + "@", i + 2)
            if j < 0:
                lx.problems.append("unterminated here-string")
                lx.emit(s[i:], s[i + 2 :], WORD, i, n, True)
                break
            lx.emit(s[i : j + 3], s[i + 2 : j].lstrip("\r\n"), WORD, i, j + 3, True)
            i = j + 3
            continue
        if c in "@$" and (s.startswith("@(", i) or s.startswith("@{", i) or s.startswith("$(", i)):
            lx.emit(s[i : i + 2], s[i : i + 2], OPEN, i, i + 2)
            i += 2
            continue
        if c in "({":
            lx.emit(c, c, OPEN, i, i + 1)
            i += 1
            continue
        if c in ")}":
            lx.emit(c, c, CLOSE, i, i + 1)
            i += 1
            continue
        if c == ",":
            lx.emit(c, c, PUNCT, i, i + 1)
            i += 1
            continue
        op = (lx.emit_operator(i, _PS_REDIRS, REDIR) if c in _PS_REDIR_START else None) or (
            lx.emit_operator(i, _PS_OPS, OP) if c in "&|;" else None
        )
        if op:
            i += len(op)
            continue
        if c == "=" and not s.startswith("==", i):
            # An assignment operator glued to what follows ($A =New-Object …): its own token.
            lx.emit("=", "=", WORD, i, i + 1)
            i += 1
            continue
        if c == "&":
            # The call operator (& 'C:\x.exe') or, at the end of a pipeline, a background job.
            lx.emit("&", "&", WORD if _ps_call_position(lx) else OP, i, i + 1)
            i += 1
            continue
        start = i
        plain = _PS_PLAIN.match(s, i)
        if plain is not None and (plain.end() >= n or s[plain.end()] in _PS_WORD_END):
            word = plain.group()
            lx.emit(word, word, WORD, start, plain.end())
            i = plain.end()
            continue
        i, value, quoted = _ps_word(lx, i)
        lx.emit(s[start:i], value, WORD, start, i, quoted)
    return lx


def _ps_call_position(lx: Lexer) -> bool:
    if not lx.out:
        return True
    prev = lx.out[-1]
    return prev.kind in (OP, OPEN) or prev.text in ("=",)


def _ps_word(lx: Lexer, i: int) -> tuple[int, str, bool]:
    s, n = lx.s, lx.n
    value: list[str] = []
    quoted = False
    while i < n:
        c = s[i]
        if c in _PS_WORD_END:
            break
        if c == "`" and i + 1 < n:
            value.append(s[i + 1])
            i += 2
            continue
        if c == "'":
            quoted = True
            j = i + 1
            buf: list[str] = []
            while True:
                k = s.find("'", j)
                if k < 0:
                    lx.problems.append("unterminated '")
                    buf.append(s[j:])
                    value.append("".join(buf))
                    return n, "".join(value), quoted
                buf.append(s[j:k])
                if k + 1 < n and s[k + 1] == "'":
                    buf.append("'")
                    j = k + 2
                    continue
                i = k + 1
                break
            value.append("".join(buf))
            continue
        if c == '"':
            quoted = True
            j = i + 1
            buf = []
            while j < n:
                if s[j] == "`" and j + 1 < n:
                    buf.append(s[j : j + 2])
                    j += 2
                    continue
                if s[j] == '"':
                    if j + 1 < n and s[j + 1] == '"':
                        buf.append('"')
                        j += 2
                        continue
                    break
                if s.startswith("$(", j):
                    k = lx.skip_balanced(j + 2, "(", ")")
                    buf.append(s[j:k])
                    j = k
                    continue
                buf.append(s[j])
                j += 1
            if j >= n:
                lx.problems.append('unterminated "')
                value.append("".join(buf))
                return n, "".join(value), quoted
            value.append("".join(buf))
            i = j + 1
            continue
        if c == "[":
            j = lx.skip_balanced(i + 1, "[", "]")
            value.append(s[i:j])
            i = j
            continue
        if c == "$" and i + 1 < n and s[i + 1] == "{":
            j = s.find("}", i + 2)
            j = n if j < 0 else j + 1
            value.append(s[i:j])
            i = j
            continue
        if c == "$" and i + 1 < n and s[i + 1] == "(":
            break
        value.append(c)
        i += 1
    return i, "".join(value), quoted
