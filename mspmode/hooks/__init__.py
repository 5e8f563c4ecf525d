"""Claude Code hook entry points: ``python -S …/mspmode/hooks/__main__.py EVENT`` (or ``python
-m mspmode.hooks EVENT``) reads the event's JSON on stdin and answers in Claude Code's hook contract.

    main      parse the command line and stdin, run the handler, always exit 0 (fail open)
    events    the client: post each event to the service, or, when it cannot answer, check
              against the index, journal the command, and say MSP Mode is degraded
    service   the local service's files (service.json, token, lock, journal), asking it,
              starting and stopping it
    index     what was learned, on disk by key: the pre-check when the service is down
    config    MSP_HOME, the database, team mode, current session, hook.log

Only the standard library and ``mspmode.engine`` are imported here (and ``mspmode.vault.redact``,
itself standard-library only, to redact log lines): no web stack, no ORM, no pydantic, so a
hook starts in a few tens of milliseconds. ``msp hooks install`` (``cli/hooks.py``) writes
the settings; ``tests/hooks/test_hook_imports.py`` checks the imports in a real process.
"""
