"""``engine.struct``: the dataclass behaviour the engine relies on, kept without dataclasses."""

from __future__ import annotations

import copy
import pickle
from typing import ClassVar

import pytest

from mspmode.engine.struct import FrozenStructError, field, struct


@struct(frozen=True)
class Point:
    x: int
    y: int = 0
    tags: tuple[str, ...] = field(default=())
    memo: dict[str, object] = field(default_factory=dict, compare=False, hash=False, repr=False)


@struct
class Bag:
    name: str
    items: list[int] = field(default_factory=list)
    count: int = 0

    def add(self, n: int) -> None:
        self.items.append(n)
        self.count += 1


def test_fields_defaults_and_factories() -> None:
    p = Point(1)
    assert (p.x, p.y, p.tags, p.memo) == (1, 0, (), {})
    assert Point(1).memo is not Point(1).memo  # a new dict per instance, as default_factory does
    assert Point(x=2, y=3, tags=("a",)).tags == ("a",)
    b = Bag("b")
    b.add(4)
    assert (b.items, b.count) == ([4], 1)
    assert Bag("c").items == []
    with pytest.raises(TypeError):
        Point()  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        Point(1, 2, (), {}, 5)  # type: ignore[call-arg]


def test_slots_no_instance_dict() -> None:
    assert Point.__slots__ == ("x", "y", "tags", "memo")
    with pytest.raises(AttributeError):
        Bag("b").other = 1  # type: ignore[attr-defined]


def test_frozen_equality_and_hash_ignore_uncompared_fields() -> None:
    a, b = Point(1, 2), Point(1, 2)
    b.memo["k"] = "v"  # the dict is mutable; the field is not
    assert a == b and hash(a) == hash(b)
    assert a != Point(1, 3) and a != (1, 2)
    assert len({a, b, Point(2)}) == 2
    with pytest.raises(FrozenStructError):
        a.x = 5  # type: ignore[misc]
    with pytest.raises(AttributeError):
        del a.y  # type: ignore[misc]


def test_mutable_structs_compare_by_value_and_are_unhashable() -> None:
    assert Bag("a", [1]) == Bag("a", [1]) != Bag("a", [2])
    with pytest.raises(TypeError):
        hash(Bag("a"))


def test_repr_names_fields_except_hidden_ones() -> None:
    assert repr(Point(1, 2)) == "Point(x=1, y=2, tags=())"
    assert repr(Bag("a")) == "Bag(name='a', items=[], count=0)"


@pytest.mark.parametrize("protocol", range(2, pickle.HIGHEST_PROTOCOL + 1))
def test_pickle_and_copy_round_trip(protocol: int) -> None:
    p = Point(1, 2, ("t",))
    assert pickle.loads(pickle.dumps(p, protocol)) == p
    bag = Bag("n", [1, 2], 2)
    back = pickle.loads(pickle.dumps(bag, protocol))
    assert back == bag and back.items is not bag.items
    assert copy.deepcopy(bag) == bag and copy.copy(p) == p


def test_classes_it_cannot_build_right_are_refused() -> None:
    with pytest.raises(TypeError, match="without a default"):

        @struct
        class Bad:
            a: int = 1
            b: int

    with pytest.raises(TypeError, match="base class"):

        @struct
        class Child(Bag):
            extra: int = 0

    with pytest.raises(TypeError, match="ClassVar"):

        @struct
        class Shared:
            kinds: ClassVar[tuple[str, ...]] = ("a",)

    with pytest.raises(ValueError, match="not both"):
        field(default=1, default_factory=list)


def test_init_is_compiled_at_the_first_instance() -> None:
    """Unpickling never calls ``__init__``, so a hook that only loads patterns skips compiling
    theirs; the first instance made installs the real one."""

    @struct
    class Late:
        a: int
        b: list[int] = field(default_factory=list)

    placeholder = Late.__init__
    first = Late(1)
    assert Late.__init__ is not placeholder and (first.a, first.b) == (1, [])
    assert Late(2, [3]).b == [3] and Late(a=4).a == 4
    with pytest.raises(TypeError):
        Late()  # type: ignore[call-arg]
