"""Issue 15 item 4: every Item type mmmfed builds conforms to MPAI's published MMM-TEC V2.2 data
type (MPAI's document ``../shared/spec/mpai-mmm-tec-v2.2-openapi.json`` with the corrections of
``docs/mpai-v22-faults.md``; the bundle is checked current against that document by
tests/unit/test_mpai_schemas.py), and comes back from its V2.2 form unchanged (item 1).

Run with ``-s`` to see which schema each Item type used."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from itemcases import BUILDERS
from world_items import world_items

from instance.assets.offers import asset_item, transaction_item
from mmmfed.items import DataBinding, Item, item_of, parse_item
from mmmfed.schemas import mpai, validate_item
from mmmfed.v22 import decode, encode
from mmmfed.v22.action_pa import pa_schema
from mmmfed.v22.conformance import check_conforms
from mmmfed.v22.types import DATA_TYPES

OWNER = "mmm://a.example/processes/user/alice"


def _asset() -> Item:
    return asset_item(
        m_instance_id="a.example",
        asset_id="mmm://a.example/assets/box",
        owner_process_id=OWNER,
        qualifier={"SubType": "Model", "Format": "glTF/2.0-binary"},
        data=DataBinding(2048, "ab" * 32, "model/gltf-binary"),
        currency_id="ACU",
        provenance=["mmm://a.example/transactions/t1"],
        market_class="MC-DigitalCollectible",
        value_metadata={"Price": {"Amount": 700, "CurrencyID": "ACU"}},
    )


def _transaction() -> Item:
    return transaction_item(
        m_instance_id="a.example",
        transaction_id="mmm://a.example/transactions/t1",
        payer_process_id=OWNER,
        payee_process_id="mmm://b.example/processes/user/bob",
        value=(700, "ACU"),
        status="Pending",
        asset_id="mmm://a.example/assets/box",
        transfer_id="urn:uuid:7b0c",
    )


def _all_docs() -> list[tuple[str, dict[str, Any]]]:
    """(where from, domain document) of every Item the project builds."""
    built: dict[str, Callable[[], Item]] = {**BUILDERS, "asset": _asset, "asset transaction": _transaction}
    return [(name, dict(b().doc)) for name, b in built.items()] + [(f"world {d['ItemType']}", d) for d in world_items()]


DOCS = _all_docs()


def test_every_v22_data_type_mmmfed_maps_is_built_and_checked() -> None:
    """The Items checked here cover every data type of the codec (none is mapped untested)."""
    assert {d["ItemType"] for _, d in DOCS} == {t.code for t in DATA_TYPES}


@pytest.mark.parametrize(("where", "doc"), DOCS, ids=[f"{w}-{i}" for i, (w, _) in enumerate(DOCS)])
def test_items_conform_to_mpai_v22_and_round_trip(where: str, doc: dict[str, Any]) -> None:
    """FGMV-43 interoperability via MMM-TEC V2.2: the V2.2 form validates against MPAI's type of
    its Header, and decodes to the domain document it came from (also through its bytes)."""
    wire = encode(doc)
    schema = check_conforms(wire)
    assert mpai.errors(schema, wire) == []
    print(f"{where}: {doc['ItemType']} -> {wire['Header']} validated against {schema}")
    assert decode(wire) == doc
    assert parse_item(item_of(doc).raw).doc == doc


def test_the_schemas_used_are_named_by_the_headers() -> None:
    """One MPAI type per Item type, found from the Header (not from a field V2.2 lacks)."""
    used = {d["ItemType"]: check_conforms(encode(d)) for _, d in DOCS}
    print(json.dumps(used, indent=1, sort_keys=True))
    assert used["PRC"] == "MMM4_V22_Process" and used["ITM"] == "MMM4_V22_Item"
    assert len(set(used.values())) == len(used)


def test_issue_15_item_3_process_actions_of_a_world_run_conform() -> None:
    """The Process Actions an engine run decided, as its Activity Data carries them (request and
    response, MMM-TEC V2.2 form), are MPAI's MMM4_V22_ProcessAction and their Action's *PA."""
    acds = [d for _, d in DOCS if d["ItemType"] == "ACD"]
    assert acds and all("ProcessAction" in d and "ProcessActionResponse" in d for d in acds)
    for d in acds:
        for key in ("ProcessAction", "ProcessActionResponse"):
            pa = d[key]
            assert mpai.errors("MMM4_V22_ProcessAction", pa) == []
            used = ["MMM4_V22_ProcessAction"]
            name = pa_schema(pa["Action"])
            if name is not None:
                assert mpai.errors(name, pa["mmmfed:ActionPA"]) == []
                used.append(name)
            print(f"{d['Action']} {key} ({d['PAStatus']['Status']}): validated against {' + '.join(used)}")


def test_an_item_that_breaks_mpais_type_is_refused_at_intake() -> None:
    """A peer's Item with a field MPAI's closed Process type does not define is refused
    V22_SCHEMA_VIOLATION naming the schema, before anything reads it."""
    wire = encode(BUILDERS["user"]().doc) | {"Roaming": {"HomeMInstanceID": "b.example"}}
    with pytest.raises(Exception) as err:
        parse_item(json.dumps(wire).encode())
    assert getattr(err.value, "reason", None) == "V22_SCHEMA_VIOLATION"
    assert err.value.metadata == {"schema": "MMM4_V22_Process"}  # type: ignore[attr-defined]


def test_descriptive_metadata_is_a_string_of_at_most_2048_characters() -> None:
    """DescrMetadata travels as JSON text (MPAI: a string <= 2,048); a longer one is refused."""
    wire = encode(BUILDERS["persona"]().doc)
    assert isinstance(wire["DescrMetadata"], str) and json.loads(wire["DescrMetadata"])["Name"] == "Alice's avatar"
    with pytest.raises(Exception) as err:
        BUILDERS["persona"]({"Licence": "x" * 2100})  # refused where it is built
    assert getattr(err.value, "reason", None) == "DESCR_METADATA_TOO_LONG"


def test_the_domain_document_still_passes_the_projects_own_checks() -> None:
    """Decoding a V2.2 Item gives a domain document mmmfed's stricter schemas accept."""
    for _, doc in DOCS:
        validate_item(decode(encode(doc)))
