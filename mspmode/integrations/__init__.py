"""Outside systems behind one small interface each. This package speaks HTTP and nothing else:
it never touches the database, the vault or the settings (``services/psa.py`` hands it a
decrypted configuration and writes down what was exchanged)."""
