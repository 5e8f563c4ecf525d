"""The POSIX shell lexer: sh, bash, zsh, ash/BusyBox, dash, ksh — quotes, ``$( )``, ``<( )``,
heredocs, redirections with file descriptors."""

from __future__ import annotations

from mspmode.engine.lazyre import lazy
from mspmode.engine.tokens import CLOSE, OP, OPEN, REDIR, WORD, Lexer

__all__ = ["lex_posix"]

_POSIX_OPS = ("&&", "||", ";;&", ";;", ";&", "|&", "<(", ">(", "|", "&", ";", "(", ")")
_POSIX_REDIRS = ("&>>", "&>", ">>", ">&", ">|", "<<<", "<<-", "<<", "<&", "<>", ">", "<")
_POSIX_OP_START = frozenset("&|;()<>")
_POSIX_WORD_END = " \t\r\n;&|<>()"
# A run of characters that mean nothing special inside a word: most words are only that, and
# taking them in one regex step rather than character by character is most of the lexer's time.
_POSIX_PLAIN = lazy(r"[^ \t\r\n;&|<>()\\'\"$`]+")


def lex_posix(text: str) -> Lexer:
    lx = Lexer(text)
    s, n = text, len(text)
    i = 0
    heredocs: list[tuple[str, bool]] = []
    expect_heredoc_word = ""
    while i < n and not lx.full():
        c = s[i]
        if c in " \t\r":
            i += 1
            continue
        if c == "\\" and i + 1 < n and s[i + 1] == "\n":
            i += 2
            continue
        if c == "\n":
            lx.emit("\n", "\n", OP, i, i + 1)
            i += 1
            if heredocs:
                i = _skip_heredoc_bodies(s, i, heredocs)
                heredocs = []
            continue
        if c == "#":
            j = s.find("\n", i)
            i = n if j < 0 else j
            continue
        # A file descriptor number glued to a redirection: 2>&1, 2>/dev/null.
        if c.isdigit():
            j = i
            while j < n and s[j].isdigit():
                j += 1
            if j < n and s[j] in "<>":
                for op in _POSIX_REDIRS:
                    if s.startswith(op, j) and not op.startswith("&"):
                        end = j + len(op)
                        if op in (">&", "<&") and end < n and (s[end].isdigit() or s[end] == "-"):
                            end += 1  # 2>&1, 1>&2, 3<&-
                        lx.emit(s[i:end], s[i:end], REDIR, i, end)
                        if op in ("<<", "<<-"):
                            expect_heredoc_word = op
                        i = end
                        break
                continue
        matched = False
        if c in _POSIX_OP_START:
            for op in _POSIX_OPS:
                if s.startswith(op, i):
                    if op in ("<(", ">("):
                        lx.emit(op, op, OPEN, i, i + 2)
                    elif op == "(":
                        lx.emit(op, op, OPEN, i, i + 1)
                    elif op == ")":
                        lx.emit(op, op, CLOSE, i, i + 1)
                    else:
                        lx.emit(op, op, OP, i, i + len(op))
                    i += len(op)
                    matched = True
                    break
            if matched:
                continue
            redir = lx.emit_operator(i, _POSIX_REDIRS, REDIR)
            if redir:
                if redir in ("<<", "<<-"):
                    expect_heredoc_word = redir
                i += len(redir)
                continue
        start = i
        plain = _POSIX_PLAIN.match(s, i)
        if plain is not None:
            j = plain.end()
            # Done if the word ends there (arr=(a b) goes on: its parenthesis is the word's).
            if j >= n or (s[j] in _POSIX_WORD_END and not (s[j] == "(" and s[j - 1] == "=")):
                word = plain.group()
                lx.emit(word, word, WORD, start, j)
                i = j
                if expect_heredoc_word:
                    heredocs.append((word, expect_heredoc_word == "<<-"))
                    expect_heredoc_word = ""
                continue
        i, value, quoted = _posix_word(lx, i)
        lx.emit(s[start:i], value, WORD, start, i, quoted)
        if expect_heredoc_word:
            heredocs.append((value, expect_heredoc_word == "<<-"))
            expect_heredoc_word = ""
    return lx


def _skip_heredoc_bodies(s: str, i: int, heredocs: list[tuple[str, bool]]) -> int:
    for delim, strip_tabs in heredocs:
        while i < len(s):
            j = s.find("\n", i)
            line = s[i:] if j < 0 else s[i:j]
            i = len(s) if j < 0 else j + 1
            if (line.lstrip("\t") if strip_tabs else line) == delim:
                break
    return i


def _posix_word(lx: Lexer, i: int) -> tuple[int, str, bool]:
    s, n = lx.s, lx.n
    value: list[str] = []
    quoted = False
    while i < n:
        c = s[i]
        if c in _POSIX_WORD_END:
            # arr=(a b) and the like: a parenthesis glued to '=' belongs to the word.
            if c == "(" and value and value[-1].endswith("="):
                j = lx.skip_balanced(i + 1, "(", ")")
                value.append(s[i:j])
                i = j
                continue
            break
        if c == "\\":
            if i + 1 < n:
                value.append(s[i + 1])
            i = min(i + 2, n)
            continue
        if c == "'":
            quoted = True
            j = s.find("'", i + 1)
            if j < 0:
                lx.problems.append("unterminated '")
                value.append(s[i + 1 :])
                return n, "".join(value), quoted
            value.append(s[i + 1 : j])
            i = j + 1
            continue
        if c == "$" and i + 1 < n and s[i + 1] == "'":
            quoted = True
            j = i + 2
            while j < n and s[j] != "'":
                j += 2 if s[j] == "\\" else 1
            if j >= n:
                lx.problems.append("unterminated $'")
                value.append(s[i + 2 :])
                return n, "".join(value), quoted
            value.append(s[i + 2 : j])
            i = j + 1
            continue
        if c == '"':
            quoted = True
            j = i + 1
            buf: list[str] = []
            while j < n and s[j] != '"':
                if s[j] == "\\" and j + 1 < n:
                    buf.append(s[j + 1] if s[j + 1] in '"\\$`\n' else s[j : j + 2])
                    j += 2
                    continue
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
        if c == "$" and i + 1 < n and s[i + 1] in "({":
            close = ")" if s[i + 1] == "(" else "}"
            j = lx.skip_balanced(i + 2, s[i + 1], close)
            value.append(s[i:j])
            i = j
            continue
        if c == "`":
            j = s.find("`", i + 1)
            j = n if j < 0 else j + 1
            value.append(s[i:j])
            i = j
            continue
        value.append(c)
        i += 1
    return i, "".join(value), quoted
