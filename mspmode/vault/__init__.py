"""Secrets: key files outside the database, password hashing, encryption of secret fields and
redaction of text. Imports nothing else of ours but ``mspmode.errors``.

    keyfiles   the key files (JWT, audit, vault keyring): created 0600, validated on read
    passwords  Argon2id hashes of user passwords
    crypto     Keyring: AES-256-GCM blobs bound to their table, row and field
    rotation   add a vault key, re-encrypt resumably, retire old keys when nothing uses them
    totp       RFC 6238 codes from stored TOTP seeds
    redact     redact(text), redact_value(obj): secrets out of everything stored
    known      KnownSecrets: the vault's own secrets, found wherever they appear verbatim
"""
