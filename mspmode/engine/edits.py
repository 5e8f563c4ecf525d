"""Edits between commands: the culprit a fix reveals, whether a command already carries a fix's
edit, and transplanting a fix onto a new command.

A fix is kept as the pair (failed command, fixing command). :func:`adapt` transplants that edit
onto a new command: tokens the fix kept from the failed command are slots filled from the new
command, tokens it added are literals (``sed -i X f`` → ``sed -i '' X f`` makes
``sed -i 's/a/b/' g`` into ``sed -i '' 's/a/b/' g``); a word the fix repeated or derived from
the failed command is taken or derived from the new one. When the fix rewrote everything there
is nothing to transplant and the fix is suggested as it was. :func:`rewrap` puts a changed inner
command back inside its wrappers (``ssh h '…'``).
"""

from __future__ import annotations

import re
import shlex
from collections import Counter
from collections.abc import Callable, Sequence
from difflib import SequenceMatcher

from mspmode.engine.culprit import COMMAND, NONE, OPERATOR, OPTION, SUBCOMMAND, SYNTAX, Culprit, has_words
from mspmode.engine.keys import family, is_option, option_keys, positionals, scripts_of
from mspmode.engine.memory import FailurePattern
from mspmode.engine.tokenize import OP, POSIX, POWERSHELL, WORD, Nested, Script, Token, parse_cached
from mspmode.engine.tokens import CMD

__all__ = [
    "adapt",
    "added_words",
    "already_fixed",
    "culprit_from_edit",
    "derivation",
    "inserts_after",
    "rewrap",
]


def _flat(script: Script) -> list[Token]:
    return [t for t in script.tokens if not (t.kind == OP and t.text == "\n")]


def _roles(script: Script) -> dict[tuple[int, int], tuple[str, str | None]]:
    """(start, end) of each top-level word → (role, program): program / option / arg."""
    roles: dict[tuple[int, int], tuple[str, str | None]] = {}
    top = {(t.start, t.end) for t in script.tokens}
    for seg in script.segments:
        if seg.program is None:
            continue
        for i, w in enumerate(seg.words):
            span = (w.start, w.end)
            if span not in top:
                continue
            if i == seg.program_at:
                roles[span] = ("program", seg.program)
            elif i > seg.program_at and w.text.startswith(("-", "/")) and len(w.text) > 1:
                roles[span] = ("option", seg.program)
            elif i > seg.program_at:
                ordinal = next((n for n, p in enumerate(positionals(seg)) if p is w), 9)
                roles.setdefault(span, (f"arg{ordinal}", seg.program))
    return roles


def culprit_from_edit(failed: Script, fix: Script) -> Culprit | None:
    """The culprit a fix reveals when the error named none: the option it removed, replaced or
    added a value after, the operator it replaced, the program it swapped, the verb or the
    object it replaced — or, when it only added words (``-UseBasicParsing``, ``exec -T``, a
    statement before the command), the program or verb *without* them."""
    f, x = _flat(failed), _flat(fix)
    roles = _roles(failed)
    ops = SequenceMatcher(None, [t.text for t in f], [t.text for t in x], autojunk=False).get_opcodes()
    found = _edited(failed, f, ops, roles)
    if found is None and all(tag in ("equal", "insert") for tag, *_ in ops):
        return _without(failed, fix, ops, f)
    return found


def _edited(
    failed: Script,
    f: list[Token],
    ops: Sequence[tuple[str, int, int, int, int]],
    roles: dict[tuple[int, int], tuple[str, str | None]],
) -> Culprit | None:
    for tag, i1, i2, _j1, _j2 in ops:
        if tag == "equal":
            continue
        touched = f[i1:i2] if tag in ("delete", "replace") else ([f[i1 - 1]] if i1 > 0 else [])
        for tok in touched:
            role, prog = roles.get((tok.start, tok.end), ("", None))
            if tok.kind in ("op", "redir"):
                return Culprit(OPERATOR, tok.text, "op:" + tok.text, rule="fix_edit")
            if role == "option" and prog:
                spelled = option_keys(tok, failed.dialect)[0]
                return Culprit(OPTION, tok.text, f"opt:{prog}:{spelled}", prog, rule="fix_edit")
            if role == "program" and prog and tag != "insert":
                return Culprit(COMMAND, tok.value, "use:" + prog, prog, rule="fix_edit")
            if role.startswith("arg") and prog and tag in ("replace", "delete") and _object_like(tok.value):
                ordinal = int(role[3:] or 9)
                if ordinal == 0:
                    key = f"sub:{family(prog)}:0:{tok.value.lower()}"
                    return Culprit(SUBCOMMAND, tok.value, key, prog, rule="fix_edit")
                if tag == "replace" and _named(tok.value):
                    # the thing acted on (a package, a collation): wherever a command names it
                    low = tok.value.lower()
                    return Culprit(SYNTAX, tok.value, "syn:" + low, sequence=(low,), rule="fix_edit")
                path = _keyword_path(failed, tok)
                if path:
                    # a device's command path (ip ipsec policy get): the words up to the one refused
                    return Culprit(SYNTAX, " ".join(path), "syn:" + path[0], sequence=path, rule="fix_edit")
    return None


def _object_like(value: str) -> bool:
    """A word that names something (a verb, a package, a keyword), not a path, URL or number."""
    return (
        2 <= len(value) <= 60
        and value[0].isalpha()
        and not any(c in value for c in "/\\:=$@*?")
        and any(c.isalpha() for c in value)
    )


def _keyword_path(script: Script, tok: Token) -> tuple[str, ...]:
    """The words from the program to ``tok`` when every one is a plain keyword; else ()."""
    for seg in script.segments:
        if seg.program is None or tok not in seg.words:
            continue
        words = seg.words[seg.program_at : seg.words.index(tok) + 1]
        if 3 <= len(words) <= 6 and all(w.value.isalpha() for w in words[1:]):
            return tuple(w.value.lower().lstrip("/") for w in words)
    return ()


def _named(value: str) -> bool:
    """A name of a thing (python-pip, utf8mb4_0900_ai_ci, libssl1.1), not a plain word (get)."""
    return any(c.isdigit() or c in "-_." for c in value)


def added_words(failed: Script, fix: Script) -> tuple[str, ...]:
    """The words the fix has that the failed command had not (lower case where the shell
    ignores case: ``-E`` is not ``-e`` to sed)."""
    fold = str.lower if fix.dialect != POSIX else str
    before = {fold(t.value) for sub in scripts_of(failed) for t in sub.tokens if t.kind == WORD}
    before |= {fold(t.text) for sub in scripts_of(failed) for t in sub.tokens if t.kind == WORD}
    out: list[str] = []
    for t in _flat(fix):
        text = fold(t.text)
        if t.kind == WORD and text not in before and fold(t.value) not in before and not _punct(text):
            out.append(text)
    return tuple(dict.fromkeys(out))


def _punct(text: str) -> bool:
    """Punctuation that is no word of the fix (``=``, ``;``); ``--`` ends options and counts."""
    return not any(c.isalnum() for c in text) and text != "--"


def _without(
    failed: Script, fix: Script, ops: Sequence[tuple[str, int, int, int, int]], f: list[Token]
) -> Culprit | None:
    """The fix only added words: the culprit is the program (or its verb, or the wrapper the
    words went into) called without them."""
    added = added_words(failed, fix)
    if not added:
        return None
    inserted_at = next(i1 for tag, i1, *_ in ops if tag == "insert")
    for seg in failed.segments:
        if seg.program is None or seg.where:
            continue
        for name, words in seg.wrapper_words:
            if words[-1].text == "-m":
                continue  # python3 -m MODULE: the module is what ran
            if (
                words
                and words[0].start <= (f[inserted_at - 1].start if inserted_at else -1) < words[-1].end + 1
            ):
                return Culprit(COMMAND, name, "cmd:" + name, name, rule="fix_edit", absent=added)
        args = [w for w in seg.args if w.kind == WORD]
        first = args[0] if args else None
        prog = seg.program
        if first is not None and not is_option(first, seg.dialect) and _object_like(first.value):
            key = f"sub:{family(prog)}:0:{first.value.lower()}"
            return Culprit(SUBCOMMAND, first.value, key, prog, rule="fix_edit", absent=added)
        shown = seg.words[seg.program_at].value
        return Culprit(COMMAND, shown, "use:" + family(prog), prog, rule="fix_edit", absent=added)
    return None


def inserts_after(
    failed: Script, fix: Script, culprit: Culprit | None
) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """Tokens the fix inserted right after the culprit token (``-i`` → ``-i ''``)."""
    if culprit is None or culprit.kind in (NONE,):
        return ()
    f, x = _flat(failed), _flat(fix)
    out: list[tuple[str, tuple[str, ...]]] = []
    ops = SequenceMatcher(None, [t.text for t in f], [t.text for t in x], autojunk=False).get_opcodes()
    for tag, i1, _i2, j1, j2 in ops:
        if tag == "insert" and i1 > 0 and f[i1 - 1].text == culprit.text:
            out.append((culprit.text, tuple(t.text for t in x[j1:j2])))
    return tuple(out)


def already_fixed(pattern: FailurePattern, script: Script) -> bool:
    """Whether the command already has a fix's edit — every word the fix added (the option, the
    statement before it), or the culprit followed by what the fix inserted after it — so the
    culprit's presence is no longer a repeat of the failure."""
    for fix in pattern.fixes:
        # (sudo and friends change the account, which the culprit's keys already tell apart;
        # the word alone — a package named sudo — is no sign of the fix)
        words = tuple(w for w in fix.added if w not in _ACCOUNT_WRAPPERS) if fix.kept else ()
        if words and has_words(script, words):
            return True
        for anchor, inserted in fix.inserts:
            n = len(inserted)
            for sub in scripts_of(script):
                toks = [t.text for t in _flat(sub)]
                for i, t in enumerate(toks):
                    if t == anchor and tuple(toks[i + 1 : i + 1 + n]) == inserted:
                        return True
    return False


_ACCOUNT_WRAPPERS = frozenset({"sudo", "doas", "su", "runuser"})


def _pre(tokens: list[Token], j: int, text: str) -> str:
    if j == 0:
        return ""
    gap = text[tokens[j - 1].end : tokens[j].start]
    return gap if gap and not gap.strip() else (" " if gap or tokens[j].start > tokens[j - 1].end else "")


def adapt(failed: Script, fix: Script, new: Script) -> str | None:
    """The fix's edit applied to ``new``, or None when it cannot be transplanted (the fix
    rewrote the command, or ``new`` lacks the tokens the fix changed)."""
    f, x, n = _flat(failed), _flat(fix), _flat(new)
    if not f or not x or not n:
        return None
    done_first = _before_the_retry(failed, fix, new, x, f)
    if done_first is not None:
        return done_first
    xt, nt = [t.text for t in x], [t.text for t in n]
    # Compare as the shell does: PowerShell, cmd and SQL ignore case.
    fold = new.dialect != POSIX
    ft = [t.text.lower() if fold else t.text for t in f]
    xc = [t.lower() for t in xt] if fold else xt
    nc = [t.lower() for t in nt] if fold else nt
    fx = SequenceMatcher(None, ft, xc, autojunk=False).get_opcodes()
    if not any(tag == "equal" for tag, *_ in fx):
        return None
    image: list[list[int]] = [[] for _ in f]
    gap: list[list[int]] = [[] for _ in range(len(f) + 1)]
    for tag, i1, i2, j1, j2 in SequenceMatcher(None, ft, nc, autojunk=False).get_opcodes():
        if tag == "equal":
            for k in range(i2 - i1):
                image[i1 + k].append(j1 + k)
        elif tag == "replace":
            # Words of one kind in the same order pair up (git am / git commit -m x: the verb is
            # the verb); what the new command has more after them is its own, kept after them.
            k = 0
            longer = j2 - j1 > i2 - i1
            while longer and k < i2 - i1 and _kind(f[i1 + k]) == _kind(n[j1 + k]):
                image[i1 + k].append(j1 + k)
                k += 1
            if longer and k == i2 - i1:
                gap[i2].extend(range(j1 + k, j2))
                continue
            if longer:
                # … and from the end (grep test.py test / grep -lir . test: the options before)
                back = 0
                while back < i2 - i1 - k and _kind(f[i2 - 1 - back]) == _kind(n[j2 - 1 - back]):
                    back += 1
                if k + back == i2 - i1:
                    for b in range(back):
                        image[i2 - 1 - b].append(j2 - 1 - b)
                    gap[i1 + k].extend(range(j1 + k, j2 - back))
                    continue
            i1, j1 = i1 + k, j1 + k
            # The ends match up (tar xvf foo.tar / tar --extract -f "foo bar.tar": the archive is
            # the last word of both); what the new command has more goes with the first word.
            extra = max(0, (j2 - j1) - (i2 - i1))
            for k, j in enumerate(range(j1, j2)):
                image[min(i1 + max(0, k - extra), i2 - 1)].append(j)
        elif tag == "insert":
            gap[i1].extend(range(j1, j2))
    # Tokens the fix moved (systemctl status X → service X status) are slots, not literals.
    removed = {i for tag, i1, i2, _j1, _j2 in fx if tag in ("delete", "replace") for i in range(i1, i2)}
    by_text: dict[str, list[int]] = {}
    for i in sorted(removed):
        by_text.setdefault(ft[i], []).append(i)
    moved: dict[int, int] = {}
    for tag, _i1, _i2, j1, j2 in fx:
        if tag in ("insert", "replace"):
            for j in range(j1, j2):
                cands = by_text.get(xc[j])
                if cands and len(cands) == 1 and cands[0] not in moved.values():
                    moved[j] = cands[0]
    moved_from = set(moved.values())
    reorder = bool(moved) and sorted(ft) == sorted(xc)
    if reorder:
        # The fix put the words in another order: where the new command's own words go among
        # them is not known — but those before the reordered words stay before them, and
        # operands added at the end stay at the end.
        span = [i for tag, i1, i2, _j1, _j2 in fx if tag != "equal" for i in (i1, i2)]
        lo, hi = min(span), max(span)
        if any(gap[lo + 1 : hi]) or any(_kind(n[j]) != "word" for j in gap[hi]):
            return None

    pieces: list[tuple[str, str]] = []

    def emit_n(j: int) -> None:
        pieces.append((_pre(n, j, new.text), nt[j]))

    for tag, i1, i2, j1, j2 in fx:
        if tag == "equal":
            for i in range(i1, i2):
                for j in gap[i]:
                    emit_n(j)
                for j in image[i]:
                    emit_n(j)
            continue
        if tag == "replace" and i2 - i1 == j2 - j1:
            # Token for token: transplant the changes to tokens the new command shares, keep the
            # new command's own data where it differs (apt-get install -y x → apk add y).
            same = 0
            for i, j in zip(range(i1, i2), range(j1, j2), strict=True):
                for k in gap[i]:
                    emit_n(k)
                if image[i] and all(nc[k] == ft[i] for k in image[i]):
                    pieces.append((_pre(x, j, fix.text), xt[j]))
                    same += 1
                elif len(image[i]) == 1 and (d := _derive(x[j], [f[i]], [image[i]], n, new.dialect)):
                    # The fix derived this word from the failed one (javac foo → javac foo.java):
                    # derive it the same way from the new command's word.
                    pieces.append((_pre(x, j, fix.text), d))
                    same += 1
                else:
                    for k in image[i]:
                        emit_n(k)
            if not same:
                return None
            continue
        if reorder and tag == "insert":
            for j in gap[i1]:
                emit_n(j)
            gap[i1] = []
        for i in range(i1, i2):
            for j in gap[i]:
                emit_n(j)
            if i in moved_from:
                continue
            if any(nc[j] != ft[i] for j in image[i]):
                return None
        for j in range(j1, j2):
            if j in moved and image[moved[j]]:
                first = True
                for k in image[moved[j]]:
                    pieces.append((_pre(x, j, fix.text) if first else _pre(n, k, new.text), nt[k]))
                    first = False
            elif (copied := _copy_of(xc[j], ft, image)) is not None:
                # The fix repeated a word of the failed command (cd foo → mkdir -p foo && cd foo):
                # the new command's word goes there.
                pieces.append((_pre(x, j, fix.text), nt[copied]))
            elif derived := _derive(x[j], f, image, n, new.dialect):
                # … or a word derived from one (tar xf foo.tar → mkdir -p foo && …).
                pieces.append((_pre(x, j, fix.text), derived))
            else:
                if x[j].kind == WORD and xc[j] in nc and xc[j] not in ft:
                    return None  # the new command has that part of the fix already
                if tag == "insert" and gap[i1] and _kind(x[j1]) == "word":
                    # words (no option and its values) put where the new command has words of its
                    # own: which of them stands for what is not known (man read → man 3 read / man 2 read)
                    return None
                pieces.append((_pre(x, j, fix.text), xt[j]))
    for j in gap[len(f)]:
        emit_n(j)
    if not pieces:
        return None
    removed_words = Counter(ft[i] for tag, i1, i2, _j1, _j2 in fx if tag == "delete" for i in range(i1, i2))
    made = Counter(text.lower() if fold else text for _pre_text, text in pieces)
    if any(made[w] > xc.count(w) for w in removed_words):
        return None  # what the fix took out is still there (a word the new command repeats)
    out = pieces[0][1]
    for pre, text in pieces[1:]:
        # A literal that started the fix now follows a token of the new command (sudo …), or a
        # token that started the new command follows a literal (mkdir -p foo && cd …).
        joined = _wordish(out[-1]) or out.endswith(("&&", "||", ";", "|"))
        if not pre and out and text and joined and _wordish(text[0]):
            pre = " "
        out += pre + text
    if " ".join(out.split()) == " ".join(new.text.split()):
        return None
    return out


def _kind(tok: Token) -> str:
    """What a token is to alignment: an option, a word, or the operator it is."""
    if tok.kind != WORD:
        return tok.text
    return "option" if tok.text.startswith("-") and len(tok.text) > 1 else "word"


def _before_the_retry(failed: Script, fix: Script, new: Script, x: list[Token], f: list[Token]) -> str | None:
    """A fix that runs something first and then the failed command as it was (``vagrant up
    && vagrant ssh``, ``git pull && git push``): the first part made from the new command the
    way it was made from the failed one, then the new command (``vagrant up devbox &&
    vagrant ssh devbox``)."""
    ands = [i for i, t in enumerate(x) if t.kind == OP and t.text == "&&"]
    if len(ands) != 1 or [t.text for t in x[ands[0] + 1 :]] != [t.text for t in f]:
        return None
    head_text = fix.text[: x[ands[0]].start].strip()
    if not head_text:
        return None
    if len(x[: ands[0]]) == len(f) >= 2:
        made = adapt(failed, parse_cached(head_text, fix.dialect), new)
        if made is not None:
            return f"{made} && {new.text.strip()}"
    # The first part as it was, when the new command has every word of the failed one (vim →
    # pacman -S gvim && vim; sudo vim → pacman -S gvim && sudo vim): the same command, wrapped.
    failed_words = {t.text for t in f if t.kind == WORD}
    if failed_words and failed_words <= {t.text for t in _flat(new) if t.kind == WORD}:
        return f"{head_text} && {new.text.strip()}"
    return None


def _copy_of(token: str, failed: list[str], image: list[list[int]]) -> int | None:
    """Where in the new command the one word of the failed command equal to ``token`` went
    (None when no word, or several, of the failed command are ``token``, or it has no single
    image, or the word is an operator)."""
    if not token or not _wordish(token[0]) or failed.count(token) != 1:
        return None
    seen = image[failed.index(token)]
    return seen[0] if len(seen) == 1 else None


_SEPARATORS = ".-_/:"


def derivation(x: str, y: str) -> Callable[[str], str | None] | None:
    """How ``y`` was made from ``x``, as a function to make the same from another word: the same
    word, a suffix or a prefix added, or cut at a separator (foo.tar → foo). None: no relation."""
    if y == x:
        return lambda v: v
    host = _url_host(x)
    if host is not None and y == host:
        return _url_host  # whois https://example.org/wiki → whois example.org
    # An affix joins at punctuation (foo → foo.java, foo.io → http://foo.io); letters added to a
    # word (base → rebase, log → login) are a different word, not a derivation.
    if len(x) >= 3 and len(y) > len(x) and y.startswith(x) and not y[len(x)].isalnum():
        suffix = y[len(x) :]
        return lambda v: v + suffix
    if len(x) >= 3 and len(y) > len(x) and y.endswith(x) and not y[-len(x) - 1].isalnum():
        prefix = y[: -len(x)]
        return lambda v: prefix + v
    if len(x) == len(y) >= 2 and x[1:] == y[1:] and not x[0].isalpha() and not y[0].isalnum():
        head = y[0]
        return lambda v: head + v[1:] if len(v) >= 2 else None  # 0a → -a: its first sign replaced
    if len(y) >= 2 and len(x) > len(y) and x.startswith(y) and x[len(y)] in _SEPARATORS:
        sep = x[len(y)]
        if len(y) == x.rindex(sep) != x.index(sep, 1):  # at the last of several (/a/b/c → /a/b)
            return lambda v: v[: v.rindex(sep)] if sep in v[1:] else None
        return lambda v: v[: v.index(sep, 1)] if sep in v[1:] else None
    if len(x) == len(y) >= 2 and x != y and x.lower() == y.lower():
        # Letters put in the other case (pacman -sv → -Sv): the same places of the other word.
        flips = [i for i in range(len(x)) if x[i] != y[i]]
        upper = [y[i].isupper() for i in flips]

        def recase(v: str) -> str | None:
            if len(v) <= flips[-1] or not all(v[i].isalpha() for i in flips):
                return None
            chars = list(v)
            for i, up in zip(flips, upper, strict=True):
                chars[i] = chars[i].upper() if up else chars[i].lower()
            return "".join(chars)

        return recase
    return None


_URL = re.compile(r"^[a-z][a-z0-9+.-]*://(?:[^@/\s]*@)?(?P<host>[^/:?#\s]+)", re.I)


def _url_host(value: str) -> str | None:
    m = _URL.match(value)
    return m.group("host") if m else None


def _derive(
    token: Token, failed: list[Token], image: list[list[int]], new: list[Token], dialect: str
) -> str | None:
    """``token`` of a fix made again from the new command, when it was made from exactly one
    word of the failed command (quoted for the shell where the result needs it)."""
    if token.kind != WORD or not token.value:
        return None
    results: set[str] = set()
    for i, tok in enumerate(failed):
        if tok.kind != WORD or len(image[i]) != 1:
            continue
        if tok.text.startswith("-") and tok.value.lower() != token.value.lower():
            continue  # an option is a word of its own, made again only in the other case (-s → -S)
        how = derivation(tok.value, token.value)
        if how is None:
            continue
        if _kind(new[image[i][0]]) != _kind(tok):
            return None  # in its place the new command has another kind of word (an option)
        made = how(new[image[i][0]].value)
        if not made:
            return None
        results.add(made)
    if len(results) != 1:
        return None
    made = results.pop()
    if dialect == POSIX:
        return shlex.quote(made)
    quote = _WORD_QUOTE.get(dialect, "'")
    return _quote(made, quote, dialect) if any(c.isspace() for c in made) else made


# The quote that keeps a word with spaces one argument, per dialect: cmd.exe knows only double
# quotes (a single quote is a character of the word: taskkill /fi 'USERNAME eq x' is four words).
_WORD_QUOTE = {CMD: '"'}


def _wordish(ch: str) -> bool:
    return ch.isalnum() or ch in "-_./\\'\"$%@~+:"


def _quote(text: str, quote: str, dialect: str) -> str:
    if quote == "'":
        if dialect == POWERSHELL:
            return "'" + text.replace("'", "''") + "'"
        return "'" + text.replace("'", "'\\''") + "'"
    if quote == '"':
        if dialect == POWERSHELL:
            return '"' + text.replace('"', '`"') + '"'
        return '"' + re.sub(r'(["\\$`])', r"\\\1", text) + '"' if dialect == POSIX else '"' + text + '"'
    return text


def rewrap(outer: Script, chain: tuple[Nested, ...], inner_text: str) -> str:
    """Put ``inner_text`` back where the innermost script of ``chain`` came from, through every
    wrapper up to ``outer`` (``ssh h 'old'`` → ``ssh h 'new'``)."""
    if not chain:
        return inner_text
    scripts = [outer, *(n.script for n in chain[:-1])]
    text = inner_text
    for parent, item in zip(reversed(scripts), reversed(chain), strict=True):
        if not (0 <= item.start <= item.end <= len(parent.text)) or item.start == item.end == 0:
            return inner_text
        quoted = _quote(text, item.quote, parent.dialect)
        if item.wrapper == "invoke-command":
            quoted = " " + text.strip() + " "
        text = parent.text[: item.start] + quoted + parent.text[item.end :]
    return text
