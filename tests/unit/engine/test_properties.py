"""Tokenisers and the whole engine never raise on odd input; tokens cover what they claim."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from mspmode.engine import (
    Memory,
    add_host,
    check,
    classify,
    find_culprit,
    parse,
    read_ahead,
    record,
    targets,
    tokenize,
)
from mspmode.engine.keys import command_keys
from mspmode.engine.tokenize import DIALECTS

SHELLY = st.text(alphabet="ab -|&;<>(){}[]'\"`$\\/%@#=,.*?!~^\n\t0123456789:", max_size=120)
ANY = st.text(max_size=200)
COMMANDS = SHELLY | ANY


@settings(max_examples=400, deadline=None)
@given(COMMANDS, st.sampled_from(DIALECTS))
def test_tokenize_never_raises_and_spans_are_sound(text: str, dialect: str) -> None:
    tokens = tokenize(text, dialect)
    last = 0
    for tok in tokens:
        assert 0 <= tok.start <= tok.end <= len(text)
        assert tok.start >= last or tok.start == tok.end
        assert text[tok.start : tok.end] == tok.text
        last = tok.end


@settings(max_examples=400, deadline=None)
@given(COMMANDS, st.sampled_from((*DIALECTS, None)))
def test_parse_is_total_and_deterministic(text: str, dialect: str | None) -> None:
    a = parse(text, dialect)
    b = parse(text, dialect)
    assert [t.text for t in a.tokens] == [t.text for t in b.tokens]
    assert [s.program for s in a.segments] == [s.program for s in b.segments]
    assert command_keys(a) == command_keys(b)
    for _host, script, chain in targets(a):
        assert isinstance(script.text, str)
        assert all(0 <= n.start <= n.end for n in chain)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.none(), st.integers(-300, 300)), ANY, COMMANDS)
def test_classify_and_culprit_never_raise(code: int | None, output: str, command: str) -> None:
    c = classify(code, output)
    if code == 0:
        assert c is None
    if c is not None:
        find_culprit(c, output, parse(command))


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["h1", "H1", "h2", None, "192.0.2.1", ""]),
            COMMANDS,
            st.one_of(st.none(), st.integers(-5, 300)),
            st.one_of(
                ANY, st.binary(max_size=100), st.sampled_from(["-ash: x: not found", "Invalid switch - /I"])
            ),
        ),
        max_size=8,
    ),
    COMMANDS,
)
def test_record_and_check_never_raise(
    events: list[tuple[str | None, str, int | None, str | bytes]], probe: str
) -> None:
    memory = Memory()
    add_host(memory, "h1", {"shell_type": "sh", "busybox": True}, ip_address="192.0.2.1")
    add_host(memory, "h2", {"shell_type": "powershell", "powershell_version": "2.0"})
    for host, command, code, output in events:
        record(memory, host, command, code, output, "2026-01-01T00:00:00Z", "s")
    for host in ("h1", "h2", None, "unknown-host"):
        result = check(memory, host, probe)
        assert result.verdict in ("block", "warn", "allow")
        assert not result.reason.startswith("engine error"), result.reason
        assert result.to_dict()["command"] == probe


WRAPPED = st.sampled_from(
    [
        "sed -i s/a/b/ f",
        "sed -i '' s/a/b/ f",
        "ssh root@192.0.2.1 'sed -i s/a/b/ f'",
        "ssh h2 Get-LocalUser",
        "Get-LocalUser -Name x",
        "net user x /domain",
        "ssh newbox 'ls --color'",
    ]
)
OUTPUTS = st.sampled_from(
    [
        "",
        "ok",
        "sed: -I or -i may not be used with stdin",
        "The term 'Get-LocalUser' is not recognized as the name of a cmdlet",
        "ls: unrecognized option '--color'",
        "Permission denied",
    ]
)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["h1", "H1", "h2", None, "192.0.2.1", "", "newbox"]),
            WRAPPED | COMMANDS,
            st.one_of(st.none(), st.sampled_from([0, 1, 2, 127])),
            OUTPUTS | ANY,
            st.booleans(),
        ),
        max_size=10,
    )
)
def test_a_command_read_ahead_is_learned_as_one_read_by_record(
    events: list[tuple[str | None, str, int | None, str, bool]],
) -> None:
    """``read_ahead`` (in an import's reading process) changes nothing ``record`` learns, even
    when the host it was read for has changed shell since (``stale``: read with no hosts)."""
    plain, ahead, bare = Memory(), Memory(), Memory()
    for memory in (plain, ahead):
        add_host(memory, "h1", {"shell_type": "sh", "busybox": True}, ip_address="192.0.2.1")
        add_host(memory, "h2", {"shell_type": "powershell", "powershell_version": "2.0"})
    for host, command, code, output, stale in events:
        reading = read_ahead(bare if stale else ahead, host, command, code, output)
        one = record(plain, host, command, code, output, "2026-01-01T00:00:00Z", "s")
        two = record(ahead, host, command, code, output, "2026-01-01T00:00:00Z", "s", reading)
        assert (one.record, one.classification, one.culprit, one.fingerprint, one.pattern_id) == (
            two.record,
            two.classification,
            two.culprit,
            two.fingerprint,
            two.pattern_id,
        )
    assert plain.patterns == ahead.patterns
    for p in ahead.patterns.values():
        assert p.host_count == len(p.active_hosts())
