"""Checks for the kinds of fault found in MPAI's MMM-TEC V2.2 JSON Schemas, over a schema bundle.

Each check walks every subschema of every ``$defs`` entry of a bundle (a JSON Schema 2020-12
document as ``scripts/derive_schemas.py`` writes it, or MPAI's ``components.schemas`` map given as
``{"$defs": ...}``) and returns findings as ``"<def><json pointer>: <what>"`` strings, sorted; an
empty list means the bundle has none. The kinds (each met in MPAI's document):

* ``required`` names that a closed object (``additionalProperties: false``) neither lists in
  ``properties`` nor matches by ``patternProperties``: no instance can satisfy it.
* ``required`` on a schema whose ``type`` is not ``object`` (a no-op: it only applies to objects).
* an ``if`` whose ``properties`` names are not all ``required`` in it: the ``if`` holds when those
  properties are absent, so the ``then`` applies to every instance lacking them.
* ``oneOf`` branches that each accept an object lacking their properties (nothing ``required``,
  not closed): every such object matches several branches, and ``oneOf`` refuses it.
* a ``Header`` ``const`` that is not an MMM-TEC header (``XXX-YYY-Vn.m``), e.g. a stray ``$``.
* keys of a subschema that are not JSON Schema 2020-12 (or OpenAPI/annotation) keywords, such as
  a property name written where ``properties`` was meant: they are ignored, so the subschema
  accepts anything.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

KEYWORDS = frozenset(
    {
        "$schema", "$id", "$ref", "$defs", "$comment", "$anchor", "$dynamicRef", "$dynamicAnchor",
        "$vocabulary", "type", "enum", "const", "properties", "patternProperties",
        "additionalProperties", "unevaluatedProperties", "required", "dependentRequired",
        "dependentSchemas", "propertyNames", "minProperties", "maxProperties", "items",
        "prefixItems", "contains", "minContains", "maxContains", "unevaluatedItems", "minItems",
        "maxItems", "uniqueItems", "allOf", "anyOf", "oneOf", "not", "if", "then", "else",
        "minLength", "maxLength", "pattern", "format", "minimum", "maximum", "exclusiveMinimum",
        "exclusiveMaximum", "multipleOf", "title", "description", "default", "examples",
        "deprecated", "readOnly", "writeOnly", "contentEncoding", "contentMediaType",
        "contentSchema", "discriminator", "xml", "externalDocs", "example",
    }
)  # fmt: skip
_HEADER = re.compile(r"^[A-Z]{3}-[A-Z0-9]{3}-V\d+\.\d+$")
_ANNOTATIONS = frozenset({"title", "description", "default", "examples", "$comment"})
_SUBSCHEMA_MAPS = ("properties", "patternProperties", "$defs", "dependentSchemas")
_SUBSCHEMA_LISTS = ("allOf", "anyOf", "oneOf", "prefixItems")
_SUBSCHEMA_ONE = (
    "items", "additionalProperties", "unevaluatedProperties", "not", "if", "then", "else",
    "contains", "propertyNames", "unevaluatedItems", "contentSchema",
)  # fmt: skip


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def walk(schema: Any, pointer: str = "") -> Iterator[tuple[str, Mapping[str, Any]]]:
    """Every subschema of ``schema`` that is an object, with its RFC 6901 pointer, depth first."""
    if not isinstance(schema, Mapping):
        return
    yield pointer, schema
    for key in _SUBSCHEMA_MAPS:
        sub = schema.get(key)
        if isinstance(sub, Mapping):
            for name, value in sub.items():
                yield from walk(value, f"{pointer}/{key}/{_escape(name)}")
    for key in _SUBSCHEMA_LISTS:
        sub = schema.get(key)
        if isinstance(sub, list):
            for i, value in enumerate(sub):
                yield from walk(value, f"{pointer}/{key}/{i}")
    for key in _SUBSCHEMA_ONE:
        yield from walk(schema.get(key), f"{pointer}/{key}")


def _findings(schema: Mapping[str, Any], *, in_all_of: bool) -> Iterator[str]:
    required = schema.get("required")
    props = schema.get("properties", {})
    if isinstance(required, list):
        patterns = [re.compile(p) for p in schema.get("patternProperties", {})]
        if schema.get("additionalProperties") is False:
            for name in required:
                if name not in props and not any(p.search(name) for p in patterns):
                    yield f"requires {name!r}, which a closed object does not define"
        kinds = schema.get("type")
        if kinds is not None and "object" not in (kinds if isinstance(kinds, list) else [kinds]):
            yield f"'required' on a schema of type {kinds!r} (a no-op)"
    outer = set(required) if isinstance(required, list) else set()
    for where, cond in _conditions(schema, own=not in_all_of):
        tested = cond.get("properties")
        if isinstance(tested, Mapping):
            missing = sorted(set(tested) - set(cond.get("required", [])) - outer)
            if missing:
                yield f"{where}'if' tests {missing} without requiring them: 'then' applies when they are absent"
    branches = schema.get("oneOf")
    if isinstance(branches, list):
        loose = [i for i, b in enumerate(branches) if isinstance(b, Mapping) and _accepts_bare_object(b)]
        if len(loose) > 1:
            yield f"oneOf branches {loose} all accept an object lacking their properties: such objects match several"
    header = props.get("Header") if isinstance(props, Mapping) else None
    if isinstance(header, Mapping) and "const" in header and not _HEADER.match(str(header["const"])):
        yield f"Header const {header['const']!r} is not an MMM-TEC header"
    unknown = sorted(set(schema) - KEYWORDS)
    if unknown:
        yield f"keys {unknown} are not JSON Schema keywords (ignored)"


def _conditions(schema: Mapping[str, Any], *, own: bool) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """The ``if`` of ``schema`` (if ``own``) and of its ``allOf`` entries, with where each is (``""`` or
    ``allOf/i: ``). An ``allOf`` entry's ``if`` is judged with the entry's parent, whose ``required``
    names are present whenever the entry applies."""
    if own and isinstance(schema.get("if"), Mapping):
        yield "", schema["if"]
    for i, sub in enumerate(schema.get("allOf", [])):
        if isinstance(sub, Mapping) and isinstance(sub.get("if"), Mapping):
            yield f"allOf/{i}: ", sub["if"]


def _accepts_bare_object(branch: Mapping[str, Any]) -> bool:
    """True if ``branch`` accepts ``{}`` for want of any constraint beyond optional ``properties``."""
    return branch.get("type", "object") == "object" and set(branch) <= _ANNOTATIONS | {"type", "properties"}


def faults(bundle: Mapping[str, Any]) -> list[str]:
    """Findings of every check over each ``$defs`` entry of ``bundle``, as sorted strings."""
    found: list[str] = []
    for name, schema in bundle.get("$defs", {}).items():
        for pointer, sub in walk(schema):
            in_all_of = re.search(r"/allOf/\d+$", pointer) is not None
            found.extend(f"{name}{pointer}: {what}" for what in _findings(sub, in_all_of=in_all_of))
    return sorted(found)


def closed_required_faults(bundle: Mapping[str, Any]) -> list[str]:
    """Only the first kind: ``required`` names a closed object does not define."""
    return [f for f in faults(bundle) if "which a closed object does not define" in f]
