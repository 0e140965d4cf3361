"""One MMM-TEC V2.2 data type of mmmfed's codec (:class:`DataType`) and the field moves its
per-type mappings (:mod:`mmmfed.v22.types`) are written with."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mmmfed.errors import InvalidInput

V22 = "V2.2"


@dataclass(frozen=True)
class DataType:
    """One V2.2 data type: its Header code, the field naming the Item, the Qualifier Sub-Type
    the domain gives it, whether MPAI's schema is closed, and its own field mapping."""

    code: str
    id_field: str
    sub_type: str | None
    closed: bool
    encode: Callable[[dict[str, Any], dict[str, Any]], dict[str, Any]]
    decode: Callable[[dict[str, Any], dict[str, Any]], dict[str, Any]]
    item_fields: bool = False  # carries the Item fields (ItemQualifier, ItemData...) in V2.2 shape
    names_instance: bool = True  # has MInstanceID (the Fault Detection Report names HostMInstance)

    @property
    def header(self) -> str:
        return f"MMM-{self.code}-{V22}"


def take(rest: dict[str, Any], name: str) -> Any:
    """Remove and return a required domain field."""
    if name not in rest:
        raise InvalidInput(f"Item field {name} is missing", reason="ITEM_MALFORMED")
    return rest.pop(name)


def need(wire: dict[str, Any], name: str) -> Any:
    """Remove and return a required V2.2 field."""
    if name not in wire:
        raise InvalidInput(f"V2.2 field {name} is missing", reason="ITEM_MALFORMED")
    return wire.pop(name)


def move(src: dict[str, Any], dst: dict[str, Any], *names: str) -> None:
    for name in names:
        if name in src:
            dst[name] = src.pop(name)
