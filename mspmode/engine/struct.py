"""Struct classes for the engine: what ``@dataclass(slots=True)`` gives it, at a hook's cost.

Every Claude Code hook is a new Python process, and a pre-check that can match imports the
engine. ``dataclasses`` cost that import a third of its time: the module itself pulls in
``inspect`` (with ``ast``, ``dis`` and ``tokenize``), and each class compiles five or six
generated methods. A :func:`struct` class compiles one, its ``__init__`` (the hot path: the
engine makes one per token and per command), and only when its first instance is made;
equality, hashing, ``repr`` and pickling are shared functions over the class's field names.

What it keeps of dataclasses, and all the engine uses: fields from the class annotations in
order, defaults and ``field(default_factory=…)``, ``compare=False`` / ``repr=False`` on a field,
``frozen=True`` (assignment raises; equal values hash equal), ``__slots__`` always. No
inheritance between structs, no ``ClassVar``, no ``__post_init__``: the decorator refuses a
class that needs them rather than building it wrong.
"""

from __future__ import annotations

from operator import attrgetter

TYPE_CHECKING = False  # typing costs a hook 5 ms of imports
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, TypeVar, dataclass_transform

    T = TypeVar("T", bound=type)
else:

    def dataclass_transform(**_: object) -> Callable[[T], T]:
        return lambda f: f


__all__ = ["FrozenStructError", "field", "struct"]

_MISSING = object()


class FrozenStructError(AttributeError):
    """Assignment to a field of a frozen struct."""


class Field:
    __slots__ = ("compare", "default", "default_factory", "repr")

    def __init__(self, default: Any, default_factory: Any, compare: bool, repr: bool) -> None:
        self.default, self.default_factory, self.compare, self.repr = default, default_factory, compare, repr


def field(
    *,
    default: Any = _MISSING,
    default_factory: Callable[[], Any] | Any = _MISSING,
    compare: bool = True,
    hash: bool | None = None,
    repr: bool = True,
) -> Any:
    if default is not _MISSING and default_factory is not _MISSING:
        raise ValueError("a field takes a default or a default_factory, not both")
    if hash is not None and hash != compare:
        raise ValueError("a struct hashes exactly the fields it compares")
    return Field(default, default_factory, compare, repr)


@dataclass_transform(field_specifiers=(field,))
def struct(cls: T | None = None, /, *, frozen: bool = False) -> Any:
    """``@struct`` or ``@struct(frozen=True)`` on a class with annotated fields."""

    def wrap(cls: T) -> T:
        built: T = _build(cls, frozen)
        return built

    return wrap if cls is None else wrap(cls)


def _build(cls: Any, frozen: bool) -> Any:
    if cls.__bases__ != (object,) or "__post_init__" in cls.__dict__:
        raise TypeError(f"{cls.__name__}: a struct has no base class and no __post_init__")
    annotations = cls.__dict__.get("__annotations__", {})  # noqa: RUF063 - inspect is what we avoid
    if any("ClassVar" in str(a) for a in annotations.values()):
        raise TypeError(f"{cls.__name__}: a struct has no ClassVar (it would become a field)")
    names = list(annotations)
    specs: dict[str, Field] = {}
    namespace = {k: v for k, v in cls.__dict__.items() if k not in ("__dict__", "__weakref__")}
    for name in names:
        value = namespace.pop(name, _MISSING)
        specs[name] = value if isinstance(value, Field) else Field(value, _MISSING, True, True)

    # The one generated method. Arguments with a factory default to a sentinel, as in dataclasses.
    params, body = [], []
    env: dict[str, Any] = {"_MISSING": _MISSING, "_set": object.__setattr__}
    seen_default = False
    for name, spec in specs.items():
        if spec.default is not _MISSING:
            env[f"_d_{name}"] = spec.default
            params.append(f"{name}=_d_{name}")
            value = name
        elif spec.default_factory is not _MISSING:
            env[f"_f_{name}"] = spec.default_factory
            params.append(f"{name}=_MISSING")
            value = f"_f_{name}() if {name} is _MISSING else {name}"
        elif seen_default:
            raise TypeError(f"{cls.__name__}: field {name!r} without a default follows one with a default")
        else:
            params.append(name)
            value = name
        seen_default = seen_default or params[-1] != name
        body.append(f"_set(self, {name!r}, {value})" if frozen else f"self.{name} = {value}")
    source = f"def __init__(self, {', '.join(params)}):\n    " + "\n    ".join(body or ["pass"])
    built: list[Any] = []  # the class, once made below

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        """Compiles the real ``__init__`` at the first instance: a hook that only unpickles
        patterns and hosts (pickle does not call ``__init__``) never pays for theirs."""
        exec(source, env)
        real = env["__init__"]
        real.__qualname__ = f"{cls.__qualname__}.__init__"
        built[0].__init__ = real
        real(self, *args, **kwargs)

    compared = [n for n, s in specs.items() if s.compare]
    namespace.update(
        __slots__=tuple(names),
        __init__=init,
        __match_args__=tuple(names),
        _struct_fields=tuple(names),
        _struct_key=attrgetter(*compared) if compared else staticmethod(lambda _: ()),
        _struct_repr=tuple(n for n, s in specs.items() if s.repr),
        __eq__=_eq,
        __repr__=_repr,
        __getstate__=_getstate,
        __setstate__=_setstate,
    )
    namespace.setdefault("__hash__", _hash if frozen else None)
    if frozen:
        namespace.update(__setattr__=_frozen, __delattr__=_frozen)
    made = type(cls)(cls.__name__, cls.__bases__, namespace)
    built.append(made)
    return made


def _eq(self: Any, other: Any) -> Any:
    if other.__class__ is not self.__class__:
        return NotImplemented
    key = self._struct_key
    return key(self) == key(other)


def _hash(self: Any) -> int:
    return hash(self._struct_key(self))


def _repr(self: Any) -> str:
    inner = ", ".join(f"{n}={getattr(self, n)!r}" for n in self._struct_repr)
    return f"{self.__class__.__qualname__}({inner})"


def _frozen(self: Any, name: str, *_: object) -> None:
    raise FrozenStructError(f"cannot assign to field {name!r} of a frozen {self.__class__.__name__}")


def _getstate(self: Any) -> tuple[Any, ...]:
    return tuple(getattr(self, n) for n in self._struct_fields)


def _setstate(self: Any, state: tuple[Any, ...]) -> None:
    for name, value in zip(self._struct_fields, state, strict=True):
        object.__setattr__(self, name, value)
