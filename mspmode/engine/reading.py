"""How a command is read on a host: in the dialect of the host's shell, through the wrappers
that name another host (``ssh H 'cmd'``) to the script that runs there — and, ahead of the
learning (:func:`read_ahead`, in an import's reading process), what its own text and output
tell before the memory is asked anything but the hosts' shells.
"""

from __future__ import annotations

from collections import namedtuple

from mspmode.engine.classify import Classification, classify
from mspmode.engine.culprit import Culprit
from mspmode.engine.culprit_find import find_culprit
from mspmode.engine.fingerprint import Fingerprint, fingerprint
from mspmode.engine.memory import LOCAL, Host, HostScope, Memory, add_host, host_key, resolve_host
from mspmode.engine.normalize import clean_output
from mspmode.engine.tokenize import Script, dialect_for_shell, parse_cached, targets

TYPE_CHECKING = False  # typing costs a pre-check hook 5 ms of imports
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import NamedTuple

__all__ = ["Reading", "dialect_of", "host_for", "parse_for_host", "read_ahead", "read_command"]


if TYPE_CHECKING:

    class Reading(NamedTuple):
        dialects: tuple[str | None, str | None]
        output: str
        classification: Classification | None = None
        culprit: Culprit | None = None
        fingerprint: Fingerprint | None = None

else:  # the same class without importing typing (a pre-check hook's cost)
    Reading = namedtuple(
        "Reading", "dialects output classification culprit fingerprint", defaults=(None, None, None)
    )
Reading.__doc__ = """What a command's own text and output tell, before the memory is asked: made ahead
by :func:`read_ahead` (an import's reading process does, beside the learning) and handed to
``learn.record`` with the same exit code and output. ``dialects`` are those the command was read
in (its host's, its target's): the culprit and fingerprint are taken only when ``record``
reads it in the same ones, else found again. A named tuple: one crosses the pipe from the
reading process for every command, and a tuple is the cheapest to pickle."""


def dialect_of(memory: Memory, key: str | None) -> str | None:
    if key is None:
        return None
    return dialect_for_shell(memory.traits(key).get("shell_type"))


def parse_for_host(memory: Memory, key: str | None, command: str) -> Script:
    """``command`` parsed in the dialect of the host's shell (guessed when unknown)."""
    return parse_cached(command, dialect_of(memory, key))


def host_for(
    memory: Memory, name: str | Host | None, scope: HostScope | None = None, near: str | None = None
) -> str:
    """The key of the host ``name`` names for ``scope`` (``near``: the host the command naming
    it runs on): LOCAL for none, the host itself when given one, a new auto-created host if
    it names none the scope sees — the scope's client's (or ``near``'s client's), named apart
    from any host of the same name the scope does not see."""
    if isinstance(name, Host):
        return name.key
    if name is None or not str(name).strip():
        return LOCAL
    found = resolve_host(memory, str(name), scope, near)
    if found is not None:
        return found
    owner = scope.client if scope is not None else None
    if owner is None and near:
        near_host = memory.hosts.get(near)
        owner = near_host.owner if near_host is not None else None
    text = str(name).strip() or str(name)
    if host_key(text) not in memory.hosts:
        return add_host(memory, text, auto_created=True, owner=owner).key
    n = 2
    while host_key(f"{text}~{n}") in memory.hosts:
        n += 1
    return add_host(memory, f"{text}~{n}", auto_created=True, owner=owner, hostname=text).key


def read_command(
    memory: Memory,
    given: str | None,
    command: str,
    host_for: Callable[[Memory, str, HostScope | None, str | None], str | None],
    scope: HostScope | None = None,
) -> tuple[tuple[str | None, str | None], str | None, Script]:
    """``command`` as run on ``given``: the dialects it is read in (the given host's, then the
    target's if a wrapper names one), the key of the host it runs on (``host_for`` of the
    target's name, for ``scope``) and the script that runs there."""
    given_dialect = dialect_of(memory, given)
    script = parse_cached(command, given_dialect)
    target_name, effective, _chain = targets(script)[0]
    if not target_name:
        return (given_dialect, None), given, effective
    key = host_for(memory, target_name, scope, given)
    target_dialect = dialect_of(memory, key)
    if target_dialect:
        # Read the remote script the way its host's shell does, whoever named the host: a
        # replay from the store names the target itself and must learn the same thing.
        effective = parse_cached(effective.text, target_dialect)
    return (given_dialect, target_dialect), key, effective


def read_ahead(
    memory: Memory, host: str | None, command: str, exit_code: int | None, output: str | bytes | None
) -> Reading:
    """What ``learn.record`` would find in the command and its output before it asks the memory
    anything but the hosts' shells, without changing ``memory``: a host not known yet is
    read in the dialect a new host gets (none)."""
    given = LOCAL if host is None or not str(host).strip() else resolve_host(memory, str(host))
    dialects, _key, effective = read_command(memory, given, command, resolve_host)
    out = clean_output(output)
    classification = classify(exit_code, out)
    if classification is None:
        return Reading(dialects, out)
    culprit = find_culprit(classification, out, effective)
    return Reading(
        dialects, out, classification, culprit, fingerprint(classification.failure_class, culprit, out)
    )
