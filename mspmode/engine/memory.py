"""The engine's plain-data memory: hosts with their traits, recorded commands, failure patterns,
and the indexes the pre-check needs to answer in O(1)-ish time.

Everything is a struct (``engine/struct.py``) of plain values so that services can persist it
(``FailurePattern`` maps onto the ``failure_patterns`` columns, see :meth:`FailurePattern.row`)
and rebuild it.
Nothing here decides anything: :mod:`learn` writes memory, :mod:`precheck` reads it.

Indexes (all dictionaries):

* ``host_lookup``: every spelling of a host (name, short name, FQDN, IP, alias; as
  :func:`host_key` makes it) → the key of the first host answering to it
* ``shared_spellings``: a spelling several hosts answer to → all their keys, oldest first (the
  same private IP at two clients): :func:`resolve_host` picks among them for a :class:`HostScope`
* ``by_culprit``: culprit key (``cmd:systemctl``) → pattern ids
* ``by_fingerprint``: ``error_message_hash`` → pattern ids
* ``by_group``: grouping key (class + culprit, or class + fingerprint) → pattern id
* ``exact``: (host key, normalised command) → index of the last record of that exact command
* ``failed_commands``: normalised command → indexes of the records where it failed for a
  reason that is no one moment's (not transient): the same command on a host alike
* ``successes``: culprit key → {host key: index of the last success containing it}
* ``pending``: host key → recent deterministic failures still waiting for their fix
* ``fixed_commands``: the normalised failed command of a fix (:func:`learn.fixed_key`) → ids of
  the patterns with that fix, and ``fixed_by_class``: failure class → ids of the patterns with
  a fix — together, every pattern a failure's fix transfer can take a fix from
  (:func:`transfer.suggest_fixes`), without scanning them all

``touched`` collects the ids of patterns changed since a caller last took them (see
:func:`learn.take_touched`): what a service must write back. With ``lazy_refresh`` the derived
text columns of a pattern are brought up to date only when taken, once per batch rather than
once per command; with ``keep_outputs`` False only failures keep (the head of) their output: the store has
the rest.
"""

from __future__ import annotations

from datetime import UTC, datetime

from mspmode.engine.culprit import Culprit
from mspmode.engine.fingerprint import Fingerprint
from mspmode.engine.struct import field, struct

TYPE_CHECKING = False  # typing costs a pre-check hook 5 ms of imports
if TYPE_CHECKING:
    from typing import Any

__all__ = [
    "LOCAL",
    "CommandRecord",
    "FailurePattern",
    "FixObservation",
    "Host",
    "HostEvidence",
    "HostScope",
    "Memory",
    "add_host",
    "host_candidates",
    "host_key",
    "host_name",
    "resolve_host",
]

LOCAL = ""  # host key of the local machine (a command with no host and no wrapper target)

# Trait keys that describe where or what a host is for, not what it can run.
HOST_FIELDS = ("hostname", "ip_address", "aliases", "fqdn", "client", "kind")


@struct
class Host:
    """A host as the engine knows it. ``name`` is unique in a memory: the hostname, suffixed
    when another client's host of the same name came first (``hostname`` then keeps the name
    people use). ``owner`` is the client it belongs to (an opaque id): who may find it."""

    name: str
    traits: dict[str, Any] = field(default_factory=dict)
    aliases: list[str] = field(default_factory=list)
    ip_address: str | None = None
    fqdn: str | None = None
    client: str | None = None
    auto_created: bool = False
    owner: str | None = None
    hostname: str | None = None

    @property
    def key(self) -> str:
        return host_key(self.name)


@struct(frozen=True)
class HostScope:
    """Whose hosts a name may mean, for one caller: the hosts of ``owners`` (None: every
    host), those of ``client`` first (the client of the session a command belongs to), and
    ``client`` is whom a host first met in a command belongs to. A host outside ``owners``
    does not exist for the caller: names resolve as if it had never been recorded."""

    owners: frozenset[str] | None = None
    client: str | None = None

    def sees(self, owner: str | None) -> bool:
        return self.owners is None or owner in self.owners


@struct
class CommandRecord:
    """One command as it ran: where, what, how it ended, and what the engine made of it."""

    index: int
    host: str  # host key ("" = local machine)
    command: str
    exit_code: int | None
    output: str  # cleaned and truncated
    at: datetime | None
    session: str | None
    effective: str  # the script that ran on the host (the inside of ssh '…' etc.)
    dialect: str
    normalized: str  # normalised effective command (exact-repeat key)
    failure_class: str | None = None
    is_transient: bool = False
    culprit: Culprit | None = None
    pattern_id: str | None = None
    previous_on_host: int = -1  # the record run on the same host just before this one

    @property
    def succeeded(self) -> bool:
        return self.failure_class is None


@struct
class HostEvidence:
    """A pattern's record on one host: how often it failed there and whether it was resolved."""

    host: str
    first_seen: datetime | None
    last_seen: datetime | None
    count: int = 1
    last_command: str = ""
    last_index: int = -1  # the record of its latest failure there
    resolved_at: datetime | None = None  # a later success there says it no longer fails
    resolved_by: str | None = None


@struct
class FixObservation:
    """A successful command that did the failed command's job differently, soon after."""

    host: str
    failed_command: str
    fix_command: str
    at: datetime | None
    session: str | None
    similarity: float
    dialect: str
    inserts: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (anchor token, tokens the fix put after it)
    failed_index: int = -1  # the record of the failure it fixed
    fix_index: int = -1  # the record of the fixing command
    added: tuple[str, ...] = ()  # words the fix has that the failed command had not
    kept: bool = False  # the fix still has the culprit: its added words mark the fixed form


@struct
class FailurePattern:
    """A failure seen before, grouped across commands and hosts, with its culprit, the hosts
    it failed and worked on, and the fixes seen. The attributes named like the columns of
    ``failure_patterns`` are kept current by :mod:`learn` after every change."""

    id: str
    group_key: str
    failure_class: str
    is_transient: bool
    culprit: Culprit | None
    fingerprint: Fingerprint
    pattern_type: str
    severity: str
    first_seen: datetime | None
    last_seen: datetime | None
    hosts: dict[str, HostEvidence] = field(default_factory=dict)
    success_hosts: set[str] = field(default_factory=set)
    fixes: list[FixObservation] = field(default_factory=list)
    occurrence_count: int = 0
    is_active: bool = True
    shape: str = ""  # the classify rule that read its first failure (what a state change lifts)
    # Trait features of the hosts it fails on (feature -> those hosts), and features refuted by a
    # host with that feature where the culprit worked; kept incrementally by learn.
    trait_hosts: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    refuted: set[tuple[str, str]] = field(default_factory=set)
    # Columns derived from the state above (refreshed by learn.refresh_pattern).
    pattern_signature: str = ""
    error_pattern: str = ""
    error_message_hash: str = ""
    affected_systems: list[str] = field(default_factory=list)
    affected_os_versions: list[str] = field(default_factory=list)
    triggering_commands: list[str] = field(default_factory=list)
    typical_error_messages: list[str] = field(default_factory=list)
    failure_description: str = ""
    root_cause: str = ""
    recommended_solution: str = ""
    alternative_approaches: list[str] = field(default_factory=list)
    workaround_commands: list[str] = field(default_factory=list)
    distinguishing_traits: dict[str, Any] = field(default_factory=dict)
    confidence_level: str = "suspected"
    host_count: int = 0  # len(active_hosts()), kept by learn as evidence changes
    fix_observed: bool = False
    last_fix_at: datetime | None = None

    @property
    def culprit_text(self) -> str | None:
        return self.culprit.text if self.culprit else None

    @property
    def culprit_kind(self) -> str:
        return self.culprit.kind if self.culprit else "none"

    def active_hosts(self) -> list[str]:
        return [h for h, ev in self.hosts.items() if ev.resolved_at is None]

    def row(self) -> dict[str, Any]:
        """The pattern as a ``failure_patterns`` row (ids of hosts/clients are the caller's)."""
        return {
            "id": self.id,
            "pattern_type": self.pattern_type,
            "pattern_signature": self.pattern_signature[:500],
            "error_pattern": self.error_pattern,
            "error_message_hash": self.error_message_hash,
            "failure_class": self.failure_class,
            "culprit": self.culprit_text,
            "culprit_kind": self.culprit_kind,
            "is_transient": self.is_transient,
            "confidence_level": self.confidence_level,
            "affected_systems": list(self.affected_systems),
            "affected_os_versions": list(self.affected_os_versions),
            "distinguishing_traits": dict(self.distinguishing_traits),
            "triggering_commands": list(self.triggering_commands),
            "failure_description": self.failure_description,
            "typical_error_messages": list(self.typical_error_messages),
            "root_cause": self.root_cause,
            "recommended_solution": self.recommended_solution,
            "alternative_approaches": list(self.alternative_approaches),
            "workaround_commands": list(self.workaround_commands),
            "occurrence_count": self.occurrence_count,
            "host_count": self.host_count,
            "fix_observed": self.fix_observed,
            "last_fix_at": self.last_fix_at,
            "first_seen": self.first_seen,
            "last_seen": self.last_seen,
            "severity": self.severity,
            "is_active": self.is_active,
        }


@struct
class Memory:
    hosts: dict[str, Host] = field(default_factory=dict)
    host_lookup: dict[str, str] = field(default_factory=dict)
    shared_spellings: dict[str, list[str]] = field(default_factory=dict)
    commands: list[CommandRecord] = field(default_factory=list)
    patterns: dict[str, FailurePattern] = field(default_factory=dict)
    by_group: dict[str, str] = field(default_factory=dict)
    by_culprit: dict[str, list[str]] = field(default_factory=dict)
    by_fingerprint: dict[str, set[str]] = field(default_factory=dict)
    exact: dict[tuple[str, str], int] = field(default_factory=dict)
    failed_commands: dict[str, list[int]] = field(default_factory=dict)
    successes: dict[str, dict[str, int]] = field(default_factory=dict)
    pending: dict[str, list[int]] = field(default_factory=dict)
    fixed_commands: dict[str, set[str]] = field(default_factory=dict)
    fixed_by_class: dict[str, set[str]] = field(default_factory=dict)
    touched: set[str] = field(default_factory=set)
    last_on_host: dict[str, int] = field(default_factory=dict)  # host key -> its latest record
    lazy_refresh: bool = False
    keep_outputs: bool = True

    def host(self, key: str) -> Host | None:
        return self.hosts.get(key)

    def traits(self, key: str) -> dict[str, Any]:
        h = self.hosts.get(key)
        return h.traits if h else {}

    def display_name(self, key: str) -> str | None:
        if key == LOCAL:
            return None
        h = self.hosts.get(key)
        return (h.hostname or h.name) if h else key


def host_name(name: str | None) -> str:
    """A host name (or FQDN, alias, IP) as it is stored and shown: Unicode NFKC (fullwidth
    ``ＤＣ０１``, ligatures and other compatibility forms become their plain letters), without
    format characters (zero-width spaces, soft hyphens), trimmed; its case is kept."""
    text = (name or "").strip()
    if text.isascii():
        return text
    # Here, not at the top: most names are ASCII, and a pre-check hook pays for imports.
    import unicodedata

    text = unicodedata.normalize("NFKC", text)
    return "".join(c for c in text if unicodedata.category(c) != "Cf").strip()


def host_key(name: str | None) -> str:
    """The one form every host name and every spelling that finds a host is compared in:
    :func:`host_name`, casefolded (``Straße`` is ``strasse``), without an FQDN's trailing dot."""
    text = host_name(name).casefold()
    return text.rstrip(".") or text


def _dotted_number(spelling: str) -> bool:
    return spelling.replace(".", "").isdigit()


def _spellings(host: Host) -> list[str]:
    names = [host.name, host.hostname, host.fqdn, host.ip_address, *host.aliases]
    out: list[str] = []
    for n in names:
        if not n or not isinstance(n, str):
            continue
        low = host_key(n)
        if not low:
            continue
        out.append(low)
        if "." in low and not _dotted_number(low):
            out.append(low.split(".", 1)[0])  # the short name of an FQDN
    return list(dict.fromkeys(out))


def add_host(
    memory: Memory,
    name: str,
    traits: dict[str, Any] | None = None,
    *,
    aliases: list[str] | tuple[str, ...] = (),
    ip_address: str | None = None,
    fqdn: str | None = None,
    client: str | None = None,
    auto_created: bool = False,
    owner: str | None = None,
    hostname: str | None = None,
) -> Host:
    """Add or update a host. Traits are merged (a new value replaces an old one)."""
    key = host_key(name)
    host = memory.hosts.get(key)
    clean = {str(k): v for k, v in (traits or {}).items() if k not in HOST_FIELDS}
    if host is None:
        host = Host(name=name.strip() or name, traits=clean, auto_created=auto_created)
        memory.hosts[key] = host
    else:
        host.traits.update(clean)
        host.auto_created = host.auto_created and auto_created
    for alias in aliases:
        if isinstance(alias, str) and alias and alias not in host.aliases:
            host.aliases.append(alias)
    host.ip_address = ip_address or host.ip_address
    host.fqdn = fqdn or host.fqdn
    host.client = client or host.client
    host.owner = owner or host.owner
    host.hostname = hostname or host.hostname
    lookup, shared = memory.host_lookup, memory.shared_spellings
    for spelling in _spellings(host):
        first = lookup.get(spelling)
        if first is None:
            lookup[spelling] = key
        elif first != key:
            keys = shared.setdefault(spelling, [first])
            if key not in keys:
                keys.append(key)
            if spelling == key:  # a host's own name comes before another's alias or short name
                lookup[spelling] = key
                keys.remove(key)
                keys.insert(0, key)
    return host


def host_candidates(memory: Memory, spelling: str) -> list[str]:
    """Keys of every host answering to ``spelling`` (as :func:`host_key` makes it), oldest
    first, whoever owns them."""
    keys = memory.shared_spellings.get(spelling)
    if keys:
        return keys
    key = memory.host_lookup.get(spelling)
    return [] if key is None else [key]


def _pick(memory: Memory, spelling: str, scope: HostScope | None, near: str | None) -> str | None:
    """The host ``spelling`` means for ``scope``: the one a command runs on (``near``: a replay
    names the host it ran on), else one of the scope's client's, else one of ``near``'s
    client's, else the oldest; never one the scope does not see."""
    keys = memory.shared_spellings.get(spelling) if scope is not None or near is not None else None
    if not keys:
        key = memory.host_lookup.get(spelling)  # one host has it: the common case, kept cheap
        if key is None or scope is None or scope.owners is None:
            return key
        host = memory.hosts.get(key)
        return key if host is not None and host.owner in scope.owners else None
    hosts = memory.hosts
    owners = scope.owners if scope is not None else None
    seen = [k for k in keys if k in hosts and (owners is None or hosts[k].owner in owners)]
    if len(seen) <= 1:
        return seen[0] if seen else None
    if near is not None and near in seen:
        return near
    near_host = hosts.get(near) if near else None
    for owner in (scope.client if scope else None, near_host.owner if near_host else None):
        if owner is not None:
            for k in seen:
                if hosts[k].owner == owner:
                    return k
    return seen[0]


def resolve_host(
    memory: Memory, name: str | None, scope: HostScope | None = None, near: str | None = None
) -> str | None:
    """The key of the host ``name`` refers to (names, FQDNs, short names, IPs, aliases,
    ``user@host``, ``[fe80::1]``; compared as :func:`host_key` makes them), or None if it is
    not known — to ``scope``: a host it does not see is not known. ``near``: the key of the host
    the command naming ``name`` runs on (see :func:`_pick`)."""
    if not name or not isinstance(name, str):
        return None
    low = name.strip()
    # host_key, inlined with the rest: a pre-check resolves a name or two every time.
    low = low.lower() if low.isascii() else host_name(low).casefold()
    if "@" in low:
        low = low.rsplit("@", 1)[1]
    low = low.strip("[]\\/")
    low = low.rstrip(".") or low
    if not low:
        return None
    key = _pick(memory, low, scope, near)
    if key is None and "." in low and not _dotted_number(low):
        key = _pick(memory, low.split(".", 1)[0], scope, near)
    return key


def utc(at: datetime | str | None) -> datetime | None:
    """A timezone-aware UTC datetime from a datetime or an ISO 8601 string (None if unreadable)."""
    if at is None:
        return None
    if type(at) is datetime and at.tzinfo is UTC:
        return at  # what a recorder passes: already UTC
    if isinstance(at, str):
        try:
            at = datetime.fromisoformat(at.strip().replace("Z", "+00:00"))
        except ValueError:
            return None
    if not isinstance(at, datetime):
        return None
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
