"""The cmd.exe and COMMAND.COM lexer: ``/switch``, ``^`` escapes, ``IF``/``FOR``."""

from __future__ import annotations

from mspmode.engine.tokens import CLOSE, OP, OPEN, REDIR, WORD, Lexer

__all__ = ["lex_cmd"]

_CMD_OPS = ("&&", "||", "|", "&")
_CMD_REDIRS = ("2>&1", "1>&2", "2>>", "1>>", "2>", "1>", ">>", ">", "<")
_CMD_WORD_END = " \t\r\n&|<>()"


def lex_cmd(text: str) -> Lexer:
    lx = Lexer(text)
    s, n = text, len(text)
    i = 0
    while i < n and not lx.full():
        c = s[i]
        if c in " \t\r":
            i += 1
            continue
        if c == "\n":
            lx.emit("\n", "\n", OP, i, i + 1)
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
        op = lx.emit_operator(i, _CMD_REDIRS, REDIR) or lx.emit_operator(i, _CMD_OPS, OP)
        if op:
            i += len(op)
            continue
        start = i
        value: list[str] = []
        quoted = False
        while i < n and s[i] not in _CMD_WORD_END:
            if s[i] == "^" and i + 1 < n:
                value.append(s[i + 1])
                i += 2
                continue
            if s[i] == '"':
                quoted = True
                j = s.find('"', i + 1)
                if j < 0:
                    lx.problems.append('unterminated "')
                    value.append(s[i + 1 :].rstrip("\r\n"))
                    i = n
                    break
                value.append(s[i + 1 : j])
                i = j + 1
                continue
            value.append(s[i])
            i += 1
        lx.emit(s[start:i], "".join(value), WORD, start, i, quoted)
    return lx
