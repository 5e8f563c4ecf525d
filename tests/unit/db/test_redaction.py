"""The write path's redactor without a database: what it remembers, what it takes as redacted
already, and values cut to fit."""

from __future__ import annotations

import os
import pickle

import pytest
from sqlalchemy import Column, String, Text

from mspmode.db.redaction import Redactor, fit
from mspmode.vault.known import KnownSecrets
from mspmode.vault.redact import Redacted, redact, seal, unseal


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
    cleaned = redact("mysql -pS3cret! db")
    assert isinstance(cleaned, Redacted) and cleaned == "mysql -p[REDACTED:password] db"
    assert redactor.text(cleaned, None) is cleaned
    assert redactor.text("mysql -pS3cret! db", None) == cleaned
    # Redacted without the vault's secrets: the write path adds them.
    other = KnownSecrets(os.urandom(32), ["S3cret-in-vault"])
    assert redactor.text(redact("uses S3cret-in-vault"), other) == "uses [REDACTED:vault]"


def test_text_is_taken_as_redacted_only_as_the_redactor_made_it() -> None:
    """No caller can mark text as clean: a ``Redacted`` is made by ``redact`` only, and
    whatever is done to one is plain text again, redacted when it is written."""
    redactor = Redactor()
    with pytest.raises(TypeError):
        Redacted("password=hunter22")
    with pytest.raises(TypeError):
        type("Lenient", (Redacted,), {"covers": lambda self, known: True})
    forged = str.__new__(Redacted, "password=hunter22")  # around the constructor: no mark
    assert not forged.covers(None)
    assert redactor.text(forged, None) == "password=[REDACTED:password]"
    made = redact("note: none here")
    with pytest.raises(AttributeError):
        made._known = None  # type: ignore[attr-defined]
    joined = made + " password=hunter22"
    assert type(joined) is str and type(made[1:]) is str and type(pickle.loads(pickle.dumps(made))) is str
    assert redactor.text(joined, None) == "note: none here password=[REDACTED:password]"


def test_a_seal_carries_the_mark_only_where_it_holds() -> None:
    known = KnownSecrets(os.urandom(32), ["S3cret-in-vault"])
    texts = [redact("mysql -pS3cret! db", known), "uses S3cret-in-vault", redact("x", None)]
    sealed = seal(texts, known)
    back = unseal(sealed, known)
    assert back == texts
    # Redacted with these known secrets: marked; plain, or without the vault's: not.
    assert [type(t) for t in back] == [Redacted, str, str]
    assert redactor_text(back[0], known) is back[0]
    # Another vault, more secrets since, or a seal altered on its way: nothing is marked.
    assert all(type(t) is str for t in unseal(sealed, KnownSecrets(os.urandom(32))))
    forged = sealed._replace(text=sealed.text.replace("[REDACTED:password]", "S3cret!!!!!!!!!!!!!"))
    assert all(type(t) is str for t in unseal(forged, known))
    known.add("An0ther-secret")
    assert all(type(t) is str for t in unseal(sealed, known))


def redactor_text(text: str, known: KnownSecrets) -> str:
    return Redactor(lambda: known).text(text, known)


def test_a_redacted_value_is_cut_to_its_column_never_through_a_placeholder() -> None:
    column = Column("mac_address", String(17))
    assert fit(column, "54 pw: [REDACTED:password]") == "54 pw: "
    assert fit(column, "short enough") == "short enough"
    assert (
        fit(Column("role", String(30)), "pw: [REDACTED:password] and more")
        == "pw: [REDACTED:password] and mo"
    )
    assert fit(Column("notes", Text()), "x" * 100_000) == "x" * 100_000


def test_only_redacted_text_is_noted_as_redacted() -> None:
    known = KnownSecrets(os.urandom(32), ["S3cret-in-vault"])
    redactor = Redactor(lambda: known)
    made = redact("deploy --user admin", known)
    redactor.note([made, "uses S3cret-in-vault", redact("uses S3cret-in-vault")], known)
    assert redactor.text(str(made), known) is made  # a plain copy: known as redacted
    assert redactor.text("uses S3cret-in-vault", known) == "uses [REDACTED:vault]"
