"""Fast construction of frozen slotted dataclasses.

Why this exists: a ``@dataclass(frozen=True, slots=True)`` generates an ``__init__`` that must call
``object.__setattr__`` once per field (its own ``__setattr__`` raises), which costs ~2.5 us for a
14-field event on CPython 3.11 -- more than the whole matching step.  The engine emits several
events per command, so it builds them through a *twin*: a plain slotted class with the very same
slot layout.  The generated constructor is a plain function (CPython 3.11 calls those without
the class-call machinery: ~15 % cheaper than a twin ``__init__``, measured) that allocates a twin
with ``object.__new__``, fills it with ordinary (specialised, fast) attribute stores and then
switches the instance's ``__class__`` to the real frozen dataclass.  The result is a genuine
instance of the frozen dataclass (``type(e) is TradeExecuted``, equality, hashing, pickling and the
frozen guard all behave exactly as for one built by the dataclass constructor); only construction
is ~6x faster.

This module is never compiled by mypyc (native classes cannot change ``__class__``).  In the optional
mypyc build ``messages.py`` itself is compiled and its frozen dataclasses are native classes with a
plain-store ``__init__`` (see bench/engine/build_mypyc.py); for those the class is already the fast
constructor and is returned unchanged.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")


def fast_constructor(cls: Callable[P, T]) -> Callable[P, T]:
    """Return a callable with ``cls``'s signature that builds real ``cls`` instances quickly."""
    if "__mypyc_attrs__" in vars(cls):
        return cls  # native (mypyc) class: its compiled __init__ is the fast path already
    assert isinstance(cls, type) and dataclasses.is_dataclass(cls), "frozen dataclass expected"
    params = dataclasses.fields(cls)
    slots = getattr(cls, "__slots__", None)
    names = [f.name for f in params]
    # The twin must share the slot layout exactly, or the __class__ switch is refused by CPython.
    assert slots is not None and tuple(slots) == tuple(names), "slots=True with fields only expected"
    assert all(f.init for f in params), "every field must be an __init__ parameter"
    sig: list[str] = []
    defaults: dict[str, Any] = {}
    for f in params:
        if f.default is not dataclasses.MISSING:
            defaults[f"_d_{f.name}"] = f.default
            sig.append(f"{f.name}=_d_{f.name}")
        else:
            assert f.default_factory is dataclasses.MISSING, "default_factory is not supported"
            sig.append(f.name)
    body = "".join(f"        self.{n} = {n}\n" for n in names)
    # A factory inside a factory: the twin, the allocator and the class are closure cells of the
    # constructor (fast to load), not parameters a caller could override.
    src = (
        f"def _make(_cls, _new):\n"
        f"    class _Twin:\n"
        f"        __slots__ = {tuple(names)!r}\n"
        f"    def new(" + ", ".join(sig) + "):\n"
        f"        self = _new(_Twin)\n"
        f"{body}"
        f"        self.__class__ = _cls\n"
        f"        return self\n"
        f"    return new\n"
    )
    namespace: dict[str, Any] = dict(defaults)
    exec(src, namespace)  # generated from the dataclass's own field names only, never from input
    new = namespace["_make"](cls, object.__new__)
    new.__name__ = new.__qualname__ = f"new_{cls.__name__}"
    result: Callable[P, T] = new
    return result
