"""MSP Mode over the Model Context Protocol (the ``mcp`` SDK, pinned in pyproject).

    server     build_server(rt, actor_source): the tools check_command, record_command,
               recall_context, save_context, search_solutions, get_insights, log_work_item,
               find_host — thin wrappers over the services
    http       mount(app, rt): streamable HTTP at /mcp on ``msp serve``, API-key protected
    __main__   ``python -m mspmode.mcp`` / ``msp mcp``: the same tools over stdio

The API and the CLI do not import this package (the layers stay apart, tests/test_layering.py):
``msp mcp`` runs it by module name and the API app mounts it by module name, as ``msp serve``
starts the API by its import string.
"""
