"""The write path's redactor without a database: what it remembers, and values cut to fit."""

from __future__ import annotations

import os

from sqlalchemy import Column, String, Text

from mspmode.db.redaction import Redactor, fit
from mspmode.vault.known import KnownSecrets


def test_a_remembered_text_is_redacted_again_once_the_vault_knows_more() -> None:
    known = KnownSecrets(os.urandom(32))
    redactor = Redactor(lambda: known)
    note = "the UPS console takes Tr0ub4dor-x9 now"
    assert redactor.text(note, known) == note  # no rule knows it, the vault does not yet
    assert redactor.text(note, known) == note  # remembered: a lookup
    known.add("Tr0ub4dor-x9")
    assert redactor.text(note, known) == "the UPS console takes [REDACTED:vault] now"


def test_what_was_redacted_elsewhere_is_taken_as_it_is() -> None:
    redactor = Redactor()
    cleaned = redactor.remember("mysql -pS3cret! db", "mysql -p[REDACTED:password] db", None)
    assert redactor.text("mysql -pS3cret! db", None) == cleaned
    assert redactor.text(cleaned, None) is cleaned
    # Noted for other known secrets than the ones it redacts with: redacted anew.
    other = KnownSecrets(os.urandom(32), ["S3cret-in-vault"])
    assert redactor.text("uses S3cret-in-vault", other) == "uses [REDACTED:vault]"


def test_a_redacted_value_is_cut_to_its_column_never_through_a_placeholder() -> None:
    column = Column("mac_address", String(17))
    assert fit(column, "54 pw: [REDACTED:password]") == "54 pw: "
    assert fit(column, "short enough") == "short enough"
    assert (
        fit(Column("role", String(30)), "pw: [REDACTED:password] and more")
        == "pw: [REDACTED:password] and mo"
    )
    assert fit(Column("notes", Text()), "x" * 100_000) == "x" * 100_000
