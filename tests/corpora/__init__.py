"""Test corpora. This module loads the secrets corpora, shared by every suite that must prove
secrets never reach storage (unit, API, CLI, import, hooks).

``secrets.jsonl``: realistic secret-bearing commands, outputs and contexts, one JSON object a
line::

    {"kind": "command" | "output" | "context",
     "family": "cli",                  one of FAMILIES: where such a secret is met
     "text": "...",                    the text as an agent or user would send it
     "secrets": ["..."],               substrings that must not survive anywhere it is stored
     "rule": "mysql_password",         the redaction rule it exercises ("vault": KnownSecrets)
     "expect": "...",                  optional: the exact redacted text
     "vault": true,                    optional: only a vault-known secret catches it; store
     "stored": ["..."]}                `stored` (default: `secrets`) in the vault first

``not_secrets.jsonl``: ordinary MSP commands and outputs that redaction must leave unchanged,
``{"kind", "text", "note"}``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent

# Where secrets are met: a program's password option (mysql -p, snmpwalk -A, az … --value), a
# configuration format (YAML, INI, .env, XML, connection strings, a router's config), a URL
# (credentials, query parameters, URL-encoded forms), an HTTP header, a vendor's token shape, a
# private key, prose, or only the vault (a secret no rule can recognise).
FAMILIES = ("cli", "config", "url", "header", "token", "private_key", "prose", "vault")


@dataclass(frozen=True)
class SecretCase:
    line: int
    kind: str
    family: str
    text: str
    secrets: tuple[str, ...]
    rule: str
    expect: str | None = None
    vault: bool = False
    stored: tuple[str, ...] = ()

    @property
    def id(self) -> str:
        return f"{self.line}-{self.rule}"


@dataclass(frozen=True)
class OrdinaryCase:
    line: int
    kind: str
    text: str
    note: str

    @property
    def id(self) -> str:
        return f"{self.line}-{self.kind}"


def _lines(name: str) -> list[tuple[int, dict[str, object]]]:
    rows = []
    for number, raw in enumerate((HERE / name).read_text(encoding="utf-8").splitlines(), start=1):
        if raw.strip():
            rows.append((number, json.loads(raw)))
    return rows


def load_secret_cases() -> list[SecretCase]:
    """Every line of secrets.jsonl."""
    cases = []
    for number, row in _lines("secrets.jsonl"):
        secrets = tuple(str(s) for s in row["secrets"])  # type: ignore[attr-defined]
        stored = tuple(str(s) for s in row.get("stored", secrets))  # type: ignore[attr-defined]
        cases.append(
            SecretCase(
                line=number,
                kind=str(row["kind"]),
                family=str(row["family"]),
                text=str(row["text"]),
                secrets=secrets,
                rule=str(row["rule"]),
                expect=None if row.get("expect") is None else str(row["expect"]),
                vault=bool(row.get("vault", False)),
                stored=stored if row.get("vault") else (),
            )
        )
    return cases


def vault_plaintexts() -> list[str]:
    """What the vault must hold for the vault-only lines to be caught."""
    return [s for case in load_secret_cases() for s in case.stored]


def load_ordinary_cases() -> list[OrdinaryCase]:
    """Every line of not_secrets.jsonl."""
    return [
        OrdinaryCase(line=number, kind=str(row["kind"]), text=str(row["text"]), note=str(row.get("note", "")))
        for number, row in _lines("not_secrets.jsonl")
    ]
