"""``python -S …/mspmode/hooks/__main__.py EVENT``, what ``msp hooks install`` writes into
Claude Code's settings (``python -m mspmode.hooks EVENT`` works too).

Run as a script under ``-S``: every tool call starts a hook process, and ``site`` — the .pth
files of the environment, an editable install's import finder — costs 20–40 ms of it, more
than the hook's own work; ``-m`` or a directory would load ``runpy`` (with ``importlib.util``
and ``contextlib``), a few more. A hook needs only the standard library and this package, so
it puts the package's root on the path itself.
"""

import sys

if not __package__:
    import os

    sys.path[0] = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from mspmode.hooks.main import main  # after the path is set

raise SystemExit(main())
