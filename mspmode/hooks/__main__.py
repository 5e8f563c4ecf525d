"""``python -m mspmode.hooks EVENT``: what ``msp hooks install`` puts in Claude Code's settings."""

from mspmode.hooks.main import main

raise SystemExit(main())
