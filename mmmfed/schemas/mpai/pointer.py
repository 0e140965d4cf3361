"""RFC 6901 JSON pointers into a map of named JSON Schemas, for :mod:`mmmfed.schemas.mpai_corrections`.

A place is a schema name (a key of the map, e.g. ``"MMM4_V22_Process"``) and a pointer inside that
schema (``"/properties/Header/const"``; ``""`` is the whole schema). :data:`ABSENT` stands for a key
that is not there (read) or is to be removed (write). Pure functions over plain dicts and lists.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any, Final


class _Absent:
    """The type of :data:`ABSENT`."""

    _instance: _Absent | None = None

    def __new__(cls) -> _Absent:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "ABSENT"


ABSENT: Final = _Absent()
"""Read: no such key. Written: remove the key."""


def tokens(pointer: str) -> list[str]:
    """The reference tokens of an RFC 6901 pointer (``""`` has none). Raises ValueError if malformed."""
    if pointer == "":
        return []
    if not pointer.startswith("/"):
        raise ValueError(f"not a JSON pointer: {pointer!r}")
    return [t.replace("~1", "/").replace("~0", "~") for t in pointer[1:].split("/")]


def _step(node: Any, token: str) -> Any:
    if isinstance(node, list):
        return node[int(token)] if token.isdigit() and int(token) < len(node) else ABSENT
    if isinstance(node, MutableMapping):
        return node.get(token, ABSENT)
    return ABSENT


def value_at(schemas: MutableMapping[str, Any], schema: str, pointer: str) -> Any:
    """The value at ``pointer`` inside ``schemas[schema]``, or :data:`ABSENT` if any step is missing."""
    node: Any = schemas.get(schema, ABSENT)
    for token in tokens(pointer):
        if node is ABSENT:
            return ABSENT
        node = _step(node, token)
    return node


def put(schemas: MutableMapping[str, Any], schema: str, pointer: str, value: object) -> None:
    """Set the value at ``pointer`` inside ``schemas[schema]`` (remove it if ``value`` is
    :data:`ABSENT`). Raises LookupError if its parent does not exist (or, removing, it does not)."""
    path = tokens(pointer)
    parent: Any = schemas
    last: Any = schema
    if path:
        parent = value_at(schemas, schema, "".join("/" + t.replace("~", "~0").replace("/", "~1") for t in path[:-1]))
        last = path[-1]
    if isinstance(parent, list):
        last = int(last)
    elif not isinstance(parent, MutableMapping):
        raise LookupError(f"{schema}{pointer} has no parent")
    if value is ABSENT:
        del parent[last]
    else:
        parent[last] = value


def same_json(have: object, want: object) -> bool:
    """Exact JSON equality: ``False`` is not ``0``, ``1.0`` is not ``1`` (Python's ``==`` says they are)."""
    if isinstance(want, dict):
        return isinstance(have, dict) and have.keys() == want.keys() and all(same_json(have[k], want[k]) for k in want)
    if isinstance(want, list):
        return isinstance(have, list) and len(have) == len(want) and all(map(same_json, have, want))
    return type(have) is type(want) and have == want
