"""Secrets: key files outside the database, password hashing, and (from [3/7]) encryption
of secret fields and redaction of text. Imports nothing else of ours."""
