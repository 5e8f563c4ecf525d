"""The learning engine: pure Python, plain data in and out, nothing else of ours imported.

    memory = Memory()
    ingest(memory, {"kind": "host", "hostname": "AD1", "powershell_version": "2.0", ...})
    record(memory, "AD1", "Get-LocalUser", 1, "... is not recognized ...", at, session)
    check(memory, "AD1", "Get-LocalUser -Name x").to_dict()

Steps, one module each: ``tokenize`` (shell-aware tokens, wrappers, targets) → ``classify``
(failure class, transient or not) → ``culprit`` (what failed) → ``normalize`` and
``fingerprint`` (grouping) → ``learn`` (patterns, fixes) → ``generalize`` (traits) →
``precheck`` (verdicts), with ``explain`` writing the sentences and ``memory`` holding the data.
"""

from mspmode.engine.classify import Classification, classify
from mspmode.engine.culprit import Culprit
from mspmode.engine.culprit_find import find_culprit
from mspmode.engine.edits import adapt
from mspmode.engine.explain import explain_pattern
from mspmode.engine.fingerprint import Fingerprint, error_pattern, fingerprint
from mspmode.engine.generalize import TraitMatch, match_traits, trait_features
from mspmode.engine.keys import command_keys
from mspmode.engine.learn import Learned, ingest, record, similarity
from mspmode.engine.memory import (
    CommandRecord,
    FailurePattern,
    FixObservation,
    Host,
    HostEvidence,
    HostScope,
    Memory,
    add_host,
    resolve_host,
)
from mspmode.engine.normalize import clean_output, normalize, normalize_message, truncate
from mspmode.engine.precheck import CheckResult, check
from mspmode.engine.reading import Reading, read_ahead
from mspmode.engine.tokenize import Script, Segment, Token, guess_dialect, parse, targets, tokenize

__all__ = [
    "CheckResult",
    "Classification",
    "CommandRecord",
    "Culprit",
    "FailurePattern",
    "Fingerprint",
    "FixObservation",
    "Host",
    "HostEvidence",
    "HostScope",
    "Learned",
    "Memory",
    "Reading",
    "Script",
    "Segment",
    "Token",
    "TraitMatch",
    "adapt",
    "add_host",
    "check",
    "classify",
    "clean_output",
    "command_keys",
    "error_pattern",
    "explain_pattern",
    "find_culprit",
    "fingerprint",
    "guess_dialect",
    "ingest",
    "match_traits",
    "normalize",
    "normalize_message",
    "parse",
    "read_ahead",
    "record",
    "resolve_host",
    "similarity",
    "targets",
    "tokenize",
    "trait_features",
    "truncate",
]
