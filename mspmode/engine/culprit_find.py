"""Find what exactly failed: the rules of :mod:`culprit_rules` read the word an error names,
and the word is looked up in the command's own tokens to decide what it is (a command, an option
of a named program, a subcommand, an operator, a SQL construct, the account's verb) and which
program it belongs to. When the error names nothing the command has, the script it ran is the
culprit; a permission refusal is the account's use of the program."""

from __future__ import annotations

import re

from mspmode.engine.classify import CAPABILITY_CLASSES, PERMISSION_DENIED, USAGE_ERROR, Classification
from mspmode.engine.culprit import (
    COMMAND,
    OPERAND_EATEN,
    OPERATOR,
    OPTION,
    SUBCOMMAND,
    SYNTAX,
    Culprit,
    eats_last,
    sql_construct,
)
from mspmode.engine.culprit_rules import CULPRIT_RULES, CulpritRule
from mspmode.engine.keys import (
    MAX_POSITIONAL_COUNT,
    MAX_SUBCOMMAND_ORDINAL,
    dashless_keys,
    effective_user,
    expansion_shapes,
    is_option,
    lower_dialect,
    option_keys,
    positionals,
    punctuation_only,
    scripts_of,
)
from mspmode.engine.lazyre import lazy
from mspmode.engine.tokenize import (
    OP,
    OPEN,
    POWERSHELL,
    REDIR,
    WORD,
    Script,
    Segment,
    Token,
    normalize_program,
)

__all__ = ["find_culprit"]

_REFUSED_OBJECT = lazy(
    r"""permission\ denied\ for\ (?:table|relation|schema|database|sequence|view|function)
    \ "?(?P<name>[\w.$]{1,200})""",
    re.IGNORECASE | re.VERBOSE,
)
_PREFIX = lazy(r"^\s*-?(?P<prog>[\w./\\-]{1,100}?)(?:\.exe)?\s?:\ ", re.MULTILINE)
_PS_CATEGORY = lazy(r"CategoryInfo\s*:[^\[\n]{0,200}\[(?P<prog>[\w-]{1,100})\]")
WRAPPER_ARGUMENT = "wrapper_argument"  # rule of a culprit that is a wrapper which ran its own argument


# --------------------------------------------------------------------------------------------
# Finding the culprit of a failure


def find_culprit(classification: Classification, output: str, script: Script) -> Culprit | None:
    """The culprit of a failure of ``script`` that printed ``output``, or None if the error
    names nothing we can tie to the command (then only an exact repeat is recognised)."""
    cls = classification.failure_class
    text = output[:20_000] if isinstance(output, str) else ""
    if '\\"' in text:
        # A message quoted inside another one escapes its quotes (runc's exec: \"bash\": … inside
        # containerd's, kubectl's or a JSON body): the rules read the inner message as printed.
        text = text.replace('\\"', '"')
    if cls == PERMISSION_DENIED:
        return _as_permission(text, script)
    usage = cls == USAGE_ERROR
    if cls not in CAPABILITY_CLASSES and classification.rule not in _NAMING_STATE_RULES:
        return None
    unresolved = False
    for rule in CULPRIT_RULES:
        if usage and rule.hint not in _USAGE_HINTS and rule.name not in _USAGE_RULES:
            continue
        m = rule.regex.search(text)
        if not m:
            continue
        groups = m.groupdict()
        word = next((v for k, v in groups.items() if k.startswith("word") and v), "").strip()
        prog_hint = (groups.get("prog") or "").strip() or None
        found = _resolve(rule, word, prog_hint, text, script, groups)
        if found is not None:
            return found
        unresolved = unresolved or bool(word)
    if unresolved and not usage:
        # The error names what the command does not: it failed inside what the command ran
        # (a script, a dump fed to a client) — that is what a repeat would run again.
        found = _as_script(script, classification.rule)
        if found is not None:
            return found
    if classification.rule == "exit:127" or classification.rule == "exit:9009":
        programs = [s for s in script.segments if s.program]
        if len(programs) == 1:
            seg = programs[0]
            return Culprit(
                COMMAND, seg.program or "", _k("cmd:" + (seg.program or ""), seg), seg.program,
                rule=classification.rule, where=seg.where,
            )  # fmt: skip
    return None


# State classes whose error names what failed (the script a policy refuses): culprit kept.
_NAMING_STATE_RULES = frozenset({"ps_execution_policy"})
# Usage errors whose error names what was wrong with the call.
_USAGE_HINTS = frozenset({"positional", "option_value", "option_last"})
# an option in the wrong place; a word where no argument belongs
_USAGE_RULES = frozenset({"bad_flag", "option_order", "windows_invalid_argument"})
_SCRIPT_EXTENSIONS = (".ps1", ".psm1", ".sh", ".bash", ".py", ".pl", ".rb", ".bat", ".cmd", ".php", ".js")
_INTERPRETERS = frozenset(
    {"bash", "sh", "zsh", "ash", "dash", "ksh", "python", "python2", "python3", "perl", "ruby", "php",
     "node", "powershell", "pwsh", "cscript", "wscript"}
)  # fmt: skip


def _k(key: str, seg: Segment | None) -> str:
    return f"{key}@{seg.where}" if seg is not None and seg.where else key


def _as_script(script: Script, rule: str) -> Culprit | None:
    """The script the command runs (``./x.sh``, ``.\\x.ps1``, ``bash x.sh``, ``pwsh -File
    x.ps1``) or the file it feeds a program (``mysql db < dump.sql``)."""
    for seg in script.segments:
        if not seg.program:
            continue
        if seg.program.endswith(_SCRIPT_EXTENSIONS):
            text = seg.words[seg.program_at].value
            return Culprit(
                COMMAND, text, _k("cmd:" + seg.program, seg), seg.program, rule=rule, where=seg.where
            )
        if seg.program in _INTERPRETERS:
            for ordinal, w in enumerate(positionals(seg)[: MAX_SUBCOMMAND_ORDINAL + 1]):
                if w.value.lower().endswith(_SCRIPT_EXTENSIONS):
                    key = _k(f"sub:{seg.program}:{ordinal}:{w.value.lower()}", seg)
                    return Culprit(SUBCOMMAND, w.value, key, seg.program, rule=rule, where=seg.where)
    for sub in scripts_of(script):
        toks = sub.tokens
        for i, tok in enumerate(toks[:-1]):
            if tok.kind == REDIR and tok.text.endswith("<") and toks[i + 1].kind == WORD:
                value = toks[i + 1].value
                if _has_letter(value):
                    return Culprit(SYNTAX, value, "syn:" + value.lower(), rule=rule)
    return None


def _has_letter(text: str) -> bool:
    return any(ch.isalpha() for ch in text)


_SUDO_REFUSED = lazy(
    r"""is\ not\ in\ the\ sudoers\ file | no\ valid\ sudoers\ sources
    | is\ not\ allowed\ to\ (?:run\ sudo|execute)""",
    re.IGNORECASE | re.VERBOSE,
)


def _as_permission(text: str, script: Script) -> Culprit | None:
    """A refusal of this account: the program (with the verb it was asked) as run by the same
    account — another account (``sudo``) or a read of another verb is not it. When sudo itself
    refused (not in the sudoers file), the culprit is sudo, whatever it was to run."""
    if _SUDO_REFUSED.search(text):
        for seg in script.segments:
            for name, words in seg.wrapper_words:
                if name in ("sudo", "doas"):
                    return Culprit(
                        COMMAND,
                        words[0].value,
                        _k("cmd:" + name, seg),
                        name,
                        rule="sudo_refused",
                        where=seg.where,
                    )
    hints = _program_hints(text, None)
    segments = [s for s in script.segments if s.program]
    if not segments:
        return None
    chosen = next((s for s in segments if s.program in hints), None)
    if chosen is None:
        if len({s.program for s in segments}) != 1:
            return None
        chosen = segments[0]
    named = {m.group("name").lower() for m in _REFUSED_OBJECT.finditer(text)}
    for w in chosen.words:
        value = w.value
        pathlike = len(value) >= 3 and any(c in value for c in "/\\") and value in text
        if w.kind == WORD and (pathlike or value.lower() in named):
            return None  # a file, folder or table it named was refused: that object, not the program
    prog = chosen.program or ""
    user = effective_user(chosen)
    found = positionals(chosen)
    args = [w for w in chosen.args if w.kind == WORD]
    verb = found[0].value.lower() if found and args and found[0] is args[0] else ""
    key = _k(f"perm:{prog}{'@' + user if user else ''}", chosen)
    return Culprit(
        COMMAND, prog, key, prog, sequence=(verb,) if verb else (), rule="permission", where=chosen.where
    )


def _resolve(
    rule: CulpritRule, word: str, prog_hint: str | None, text: str, script: Script, groups: dict[str, str]
) -> Culprit | None:
    hint = rule.hint
    if hint == "position":
        return _at_marker(groups.get("before") or "", script, rule.name)
    if hint == "underline":
        return _underlined(groups, script, rule.name)
    if hint == "caret":
        return _under_caret(groups, script, rule.name)
    if hint == "positional":
        return _as_positional(word, text, script, rule.name)
    if hint == "option_value":
        return _as_option_value(word, groups.get("value") or "", text, script, rule.name)
    if hint == "command":
        return _as_command(word, rule.name, script, text)
    if hint == "first_program":
        for seg in script.segments:
            if seg.program:
                return Culprit(
                    COMMAND,
                    seg.words[seg.program_at].value,
                    _k("cmd:" + seg.program, seg),
                    seg.program,
                    rule=rule.name,
                    where=seg.where,
                )
        return None
    if hint == "option":
        return _as_option(word, prog_hint, text, script, rule.name)
    if hint == "option_last":
        return _as_option_eating(groups, prog_hint, text, script, rule.name)
    if hint == "subcommand":
        return _as_subcommand(word, prog_hint, script, rule.name)
    if hint == "operator":
        return Culprit(OPERATOR, word, "op:" + word, rule=rule.name) if word else None
    if hint == "token":
        return _as_token(word, text, script, rule.name)
    if hint == "bare_argument":
        return _as_token(word, text, script, rule.name) if word and word[0] not in "-/" else None
    if hint == "token_syntax":
        return _as_syntax_token(word, script, rule.name)
    if hint == "substitution":
        return _as_substitution(script, rule.name)
    if hint == "sql":
        return sql_construct(word, script, rule.name)
    if hint == "object":
        return _as_object(word, script, rule.name)
    if hint == "sql_word" and word:
        return Culprit(SYNTAX, word, "syn:" + word.lower(), sequence=(word.lower(),), rule=rule.name)
    return None


def _as_object(word: str, script: Script, rule: str) -> Culprit | None:
    """A name the error says is missing (a package), as the command has it."""
    low = word.strip("'\".,").lower()
    for sub in scripts_of(script):
        if any(t.kind == WORD and t.value.lower() == low for t in sub.tokens):
            return Culprit(SYNTAX, word, "syn:" + low, sequence=(low,), rule=rule)
    return None


def _token_at(script: Script, pos: int) -> Token | None:
    for tok in script.tokens:
        if tok.start <= pos < tok.end:
            return tok
    return None


def _as_word_token(tok: Token, script: Script, rule: str) -> Culprit | None:
    """A token a parser pointed at: an operator, an option, a program — as the command has it."""
    if tok.kind in (OP, REDIR) or punctuation_only(tok.text):
        return Culprit(OPERATOR, tok.text, "op:" + tok.text, rule=rule)
    if tok.kind != WORD:
        return None
    for seg in script.segments:
        if tok not in seg.words:
            continue
        if seg.program is None and script.dialect == POWERSHELL and tok.text.startswith("-"):
            return Culprit(OPERATOR, tok.text, "op:" + tok.text.lower(), rule=rule)
        if seg.program and seg.program_at >= 0 and seg.words[seg.program_at] is tok:
            return Culprit(COMMAND, tok.value, _k("cmd:" + seg.program, seg), seg.program, rule=rule)
        if seg.program and is_option(tok, seg.dialect):
            c = option_keys(tok, seg.dialect)[0]
            return Culprit(OPTION, tok.text, _k(f"opt:{seg.program}:{c}", seg), seg.program, rule=rule)
    return None


def _at_marker(before: str, script: Script, rule: str) -> Culprit | None:
    """PowerShell 2.0's ``<<<<``: the parser stopped after ``before``, inside or after a token."""
    before = before.strip()
    if before.startswith("..."):
        before = before[3:].lstrip()
    if not before:
        return None
    at = script.text.find(before)
    if at < 0:
        return None
    pos = at + len(before)
    tok = _token_at(script, pos - 1) if not before[-1].isspace() else None
    if tok is None or (tok.end == pos and tok.text[-1:].isalnum()):
        tok = _token_at(script, pos) or tok
    return _as_word_token(tok, script, rule) if tok is not None else None


def _underlined(groups: dict[str, str], script: Script, rule: str) -> Culprit | None:
    echo, pad, tilde = groups.get("echo") or "", groups.get("pad") or "", groups.get("tilde") or ""
    column = len(pad) - 1  # "+ " before the echo, "+" before the padding
    if column < 0 or column >= len(echo):
        return None
    marked = echo[column : column + len(tilde)].strip()
    if not marked or len(marked) > 40:
        return None
    for tok in script.tokens:
        if tok.text == marked:
            return _as_word_token(tok, script, rule)
    return None


def _under_caret(groups: dict[str, str], script: Script, rule: str) -> Culprit | None:
    """The keyword path up to the word a device put its caret under (``show ip device``): the
    echoed line holds the command after the prompt, which says where the command starts."""
    echo, pad = groups.get("echo") or "", groups.get("pad") or ""
    command = " ".join(script.text.split())
    at = echo.find(command) if command else -1
    if at < 0:
        return None
    pos = len(pad) - at
    words = [t for t in script.tokens if t.kind == WORD]
    for i, tok in enumerate(words):
        if tok.end > pos:
            seq = tuple(t.value.lower() for t in words[: i + 1])
            return Culprit(
                SYNTAX, " ".join(t.value for t in words[: i + 1]), "syn:" + seq[0], sequence=seq, rule=rule
            )
    return None


def _as_positional(word: str, text: str, script: Script, rule: str) -> Culprit | None:
    """One argument too many: the program called with an argument at that position."""
    hints = _program_hints(text, None)
    for seg in sorted(script.segments, key=lambda s: 0 if s.program in hints else 1):
        if not seg.program:
            continue
        for ordinal, w in enumerate(positionals(seg)[:MAX_POSITIONAL_COUNT]):
            if w.value == word or w.text == word:
                shown = f"{seg.words[seg.program_at].value} with {ordinal + 1} positional arguments"
                key = _k(f"pos:{seg.program}:{ordinal}", seg)
                return Culprit(SYNTAX, shown, key, seg.program, rule=rule, where=seg.where)
    return None


def _as_option_value(word: str, value: str, text: str, script: Script, rule: str) -> Culprit | None:
    """A value the parameter does not take here (an older version's ValidateSet)."""
    option = _as_option(word, None, text, script, rule)
    if option is None or not value:
        return option
    base, at, where = option.key.partition("@")
    key = f"{base}={value.lower()}" + (at + where if at else "")
    return Culprit(OPTION, f"{option.text} {value}", key, option.program, rule=rule, where=option.where)


def _as_command(word: str, rule: str, script: Script, text: str = "") -> Culprit | None:
    if not word or len(word) > 200 or any(ch.isspace() for ch in word.strip()):
        return None
    if word == "--":
        # a client passed its end-of-options marker on as the command (docker-compose v1)
        for seg in script.segments:
            if seg.program and any(w.text == "--" for w in seg.args):
                return Culprit(OPTION, "--", _k(f"opt:{seg.program}:--", seg), seg.program, rule=rule)
        return None
    if word.startswith("-") and text:
        return _as_option(word, None, text, script, rule)
    prog = normalize_program(word)
    if not prog:
        return None
    shown = word
    # PowerShell runs a bare name through its shim script (yarn → …\npm\yarn.ps1)
    stem = prog[: -len(".ps1")] if prog.endswith(".ps1") else prog
    for seg in script.segments:
        if seg.program in (prog, stem):
            name = seg.program or prog
            shown = seg.words[seg.program_at].value
            return Culprit(COMMAND, shown, _k("cmd:" + name, seg), name, rule=rule, where=seg.where)
        for name, words in seg.wrapper_words:
            if name == prog:
                return Culprit(
                    COMMAND, words[0].value, _k("cmd:" + prog, seg), prog, rule=rule, where=seg.where
                )
    for seg in script.segments:
        # a wrapper's own argument run as the command (BusyBox 1.24 timeout takes "15" for one)
        for name, words in seg.wrapper_words:
            if any(w.value == word for w in words[1:]):
                key = _k("cmd:" + name, seg)
                return Culprit(COMMAND, words[0].value, key, name, rule=WRAPPER_ARGUMENT, where=seg.where)
    # Named by what the command ran (a script): missing where that ran — in a container, the
    # container's, not the host's.
    inside = next((seg for seg in script.segments if seg.where), None)
    return Culprit(
        COMMAND, shown, _k("cmd:" + prog, inside), prog, rule=rule, where=inside.where if inside else ""
    )


def _program_hints(text: str, prog_hint: str | None) -> list[str]:
    hints = [normalize_program(prog_hint)] if prog_hint else []
    first_lines = text[:2000]
    hints.extend(normalize_program(m.group("prog")) for m in _PREFIX.finditer(first_lines))
    hints.extend(normalize_program(m.group("prog")) for m in _PS_CATEGORY.finditer(first_lines))
    return [h for h in hints if h]


def _as_option(word: str, prog_hint: str | None, text: str, script: Script, rule: str) -> Culprit | None:
    word = word.strip().rstrip(".,;:").split("=", 1)[0]
    if word == "-":
        return _first_long_option(prog_hint, text, script, rule)
    if not word or word == "--":
        return None
    if word[0] in "-/":
        candidates = [word]
    elif len(word) > 1:
        candidates = ["--" + word, "-" + word, "/" + word]  # a long option's name
    else:
        candidates = ["-" + word, "--" + word, "/" + word]
    hints = _program_hints(text, prog_hint)
    segments = [s for s in script.segments if s.program]
    ordered = sorted(segments, key=lambda s: 0 if s.program in hints else 1)
    for seg in ordered:
        owners: list[tuple[str, tuple[Token, ...]]] = [(seg.program or "", seg.args)]
        owners.extend((name, words[1:]) for name, words in seg.wrapper_words)
        # the program the error names first (xargs: illegal option -- r, in xargs -r rm -r)
        owners.sort(key=lambda owner: 0 if owner[0] in hints else 1)
        for owner, words in owners:
            for w in words:
                if is_option(w, seg.dialect):
                    spelled = option_keys(w, seg.dialect)
                elif not (spelled := dashless_keys(seg, w)):
                    continue
                for cand in candidates:
                    c = cand.lower().split(":", 1)[0] if lower_dialect(seg.dialect) else cand
                    if c in spelled or (lower_dialect(seg.dialect) and c == w.text.lower()):
                        shown = cand if cand in w.text else w.text
                        key = _k(f"opt:{owner}:{c}", seg)
                        return Culprit(OPTION, shown, key, owner, rule=rule, where=seg.where)
    # The option is not spelled in the command (an alias, a long form): trust the named program.
    for seg in segments:
        if seg.program in hints:
            c = candidates[0].lower() if lower_dialect(seg.dialect) else candidates[0]
            key = _k(f"opt:{seg.program}:{c}", seg)
            return Culprit(OPTION, candidates[0], key, seg.program, rule=rule, where=seg.where)
    return None


def _as_option_eating(
    groups: dict[str, str], prog_hint: str | None, text: str, script: Script, rule: str
) -> Culprit | None:
    """An option named by the error that took the command's last operand as its value: the
    culprit is that option *followed by the last word alone*, so the same call with the option
    moved (sed -i -e … file) or its value attached (sed -i.bak … file) is not the failure."""
    for name in ("word", "word2", "word3"):
        found = (
            _as_option(groups.get(name) or "", prog_hint, text, script, rule) if groups.get(name) else None
        )
        if found is None or found.program is None:
            continue
        option = found.key.rsplit(":", 1)[1]
        if eats_last(script, found.program, option):
            return Culprit(
                OPTION, found.text, found.key, found.program, (option, OPERAND_EATEN), rule, where=found.where
            )
    return None


def _first_long_option(prog_hint: str | None, text: str, script: Script, rule: str) -> Culprit | None:
    """BSD getopt reads ``--max-depth`` as ``-`` then ``-``: "illegal option -- -" names the
    first long option of the program it prefixes."""
    hints = _program_hints(text, prog_hint)
    owners: list[tuple[str, tuple[Token, ...], Segment]] = []
    for seg in script.segments:
        owners.extend((name, words[1:], seg) for name, words in seg.wrapper_words)  # xargs --null
        if seg.program:
            owners.append((seg.program, seg.args, seg))
    for owner, words, seg in sorted(owners, key=lambda o: 0 if o[0] in hints else 1):
        for w in words:
            if w.text.startswith("--") and len(w.text) > 2:
                key = _k(f"opt:{owner}:--*", seg)  # every long option, not this one only
                return Culprit(OPTION, "--…", key, owner, rule=rule, where=seg.where)
    return None


def _as_subcommand(word: str, prog_hint: str | None, script: Script, rule: str) -> Culprit | None:
    low = word.lower().strip("'\"`")
    if not low:
        return None
    hint = normalize_program(prog_hint) if prog_hint else None
    for seg in script.segments:
        if seg.program is None or (hint and seg.program != hint and not seg.program.startswith(hint)):
            continue
        for ordinal, w in enumerate(positionals(seg)[: MAX_SUBCOMMAND_ORDINAL + 1]):
            if w.value.lower() == low:
                key = _k(f"sub:{seg.program}:{ordinal}:{low}", seg)
                return Culprit(SUBCOMMAND, w.value, key, seg.program, rule=rule, where=seg.where)
    if hint and any(seg.program == hint for seg in script.segments):
        return Culprit(SUBCOMMAND, word, f"sub:{hint}:0:{low}", hint, rule=rule)
    return None


def _as_token(word: str, text: str, script: Script, rule: str) -> Culprit | None:
    """A word named by a generic message: whichever part of the command it is."""
    word = word.strip().strip("'\"`").rstrip(".,;:")
    if not word:
        return None
    prog = normalize_program(word)
    for seg in script.segments:
        if seg.program == prog and seg.program_at >= 0 and seg.words[seg.program_at].value == word:
            return _as_command(word, rule, script)
    if word[0] in "-/":
        found = _as_option(word, None, text, script, rule)
        if found is not None:
            return found
    hints = _program_hints(text, None)
    for seg in sorted(script.segments, key=lambda s: 0 if s.program in hints else 1):
        if seg.program is None:
            continue
        for ordinal, w in enumerate(positionals(seg)[: MAX_SUBCOMMAND_ORDINAL + 1]):
            if w.value.lower() == word.lower():
                key = _k(f"sub:{seg.program}:{ordinal}:{word.lower()}", seg)
                return Culprit(SUBCOMMAND, w.value, key, seg.program, rule=rule, where=seg.where)
    return None


def _as_syntax_token(word: str, script: Script, rule: str) -> Culprit | None:
    """A parser's "unexpected token": an operator if it is punctuation we can find, else nothing
    general (a stray ``fi`` or ``done`` is a one-off typo, not a capability of the host)."""
    if not punctuation_only(word):
        return None
    for sub in scripts_of(script):
        for tok in sub.tokens:
            operator_like = tok.kind in (OP, REDIR, OPEN) or (tok.kind == WORD and punctuation_only(tok.text))
            if not operator_like or tok.text in ("(", "{", ";", "\n"):
                continue
            if tok.text == word or (word in tok.text and len(tok.text) <= 3):
                return Culprit(OPERATOR, tok.text, "op:" + tok.text, rule=rule)
    return None


def _as_substitution(script: Script, rule: str) -> Culprit | None:
    for sub in scripts_of(script):
        for tok in sub.tokens:
            if tok.kind == WORD and "${" in tok.text:
                for shape in expansion_shapes(tok.text):
                    return Culprit(SYNTAX, shape, "syn:" + shape, rule=rule)
    return None
