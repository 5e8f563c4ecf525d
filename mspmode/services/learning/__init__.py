"""Learning, wired to the database: record and import commands (``history``), pre-check,
list, show and explain failure patterns, re-run the analysis (``patterns``).

    record_commands(rt, actor, [CommandIn(...)])   POST /api/commands, /api/commands/batch
    import_file(rt, actor, path)                   msp import
    check(rt, actor, host, command)                msp check, POST /api/check
    explain(rt, actor, pattern_id)                 msp patterns explain, GET …/explain
    relearn(rt, actor)                             msp learn

The engine (``mspmode.engine``) decides; ``state`` keeps its memory as a cache of the
database (``cache`` holds it); ``recorder`` and ``persist`` write rows; ``text`` cleans what is captured.
"""

from mspmode.services.learning.cache import save_state, store_path, use_store, warm_for_service
from mspmode.services.learning.command import CommandIn
from mspmode.services.learning.history import (
    MAX_BATCH,
    ImportReport,
    import_file,
    import_lines,
    record_commands,
    recovery_hints,
)
from mspmode.services.learning.patterns import (
    LearnReport,
    check,
    check_many,
    explain,
    get_pattern,
    keep_verdicts,
    list_patterns,
    relearn,
    resolve_pattern_id,
)
from mspmode.services.learning.reader import LongLine, bounded_lines
from mspmode.services.learning.recorder import Recorded

__all__ = [
    "MAX_BATCH",
    "CommandIn",
    "ImportReport",
    "LearnReport",
    "LongLine",
    "Recorded",
    "bounded_lines",
    "check",
    "check_many",
    "explain",
    "get_pattern",
    "import_file",
    "import_lines",
    "keep_verdicts",
    "list_patterns",
    "record_commands",
    "recovery_hints",
    "relearn",
    "resolve_pattern_id",
    "save_state",
    "store_path",
    "use_store",
    "warm_for_service",
]
