"""Pydantic I/O models. For CRUD resources they are generated from the ORM model and its
resource declaration (``crud.py``): ``XCreate`` / ``XUpdate`` / ``XRead`` / ``XPage``, all with
``extra="forbid"`` so a field that is not writable is refused, never silently stored."""
