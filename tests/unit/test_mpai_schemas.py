"""The MMM-TEC V2.2 bundle derived from MPAI's document (scripts/derive_schemas.py), its corrections
(mmmfed/schemas/mpai_corrections.py) and the faults page (docs/mpai-v22-faults.md).

Tests that read MPAI's document need ``../shared/spec`` beside the checkout (CI clones the repo with
../shared beside it); they skip, saying so, when it is absent. The others read only committed files.
"""

from __future__ import annotations

import copy
import dataclasses
import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import jsonschema_rs
import pytest

from mmmfed.schemas import mpai
from mmmfed.schemas.mpai.lint import closed_required_faults
from mmmfed.schemas.mpai.pointer import same_json
from mmmfed.schemas.mpai_corrections import CORRECTIONS, REMOVE, CorrectionMismatch, apply, found

ROOT = Path(__file__).resolve().parents[2]


def _derive_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("derive_schemas", ROOT / "scripts" / "derive_schemas.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("derive_schemas", module)
    spec.loader.exec_module(module)
    return module


derive = _derive_module()
SOURCE = ROOT / derive.SOURCE
needs_mpai = pytest.mark.skipif(
    not SOURCE.is_file(), reason=f"MPAI's MMM-TEC V2.2 document not found at {SOURCE} (../shared/spec)"
)


@pytest.fixture(scope="module")
def mpai_schemas() -> dict[str, Any]:
    """MPAI's ``components.schemas``, uncorrected."""
    if not SOURCE.is_file():
        pytest.skip(f"MPAI's MMM-TEC V2.2 document not found at {SOURCE} (../shared/spec)")
    schemas: dict[str, Any] = json.loads(SOURCE.read_text(encoding="utf-8"))["components"]["schemas"]
    return schemas


@needs_mpai
def test_bundle_and_faults_page_are_up_to_date() -> None:
    assert derive.stale(SOURCE) == [], "run: python scripts/derive_schemas.py"


@needs_mpai
def test_check_names_a_stale_file(tmp_path: Path) -> None:
    for path, text in derive.derive(SOURCE).items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(text, encoding="utf-8")
    assert derive.stale(SOURCE, tmp_path) == []
    (tmp_path / derive.FAULTS).write_text("edited by hand\n", encoding="utf-8")
    assert derive.stale(SOURCE, tmp_path) == [derive.FAULTS]


@needs_mpai
@pytest.mark.parametrize("correction", CORRECTIONS, ids=lambda c: c.id)
def test_mpai_still_has_the_fault(correction: Any, mpai_schemas: dict[str, Any]) -> None:
    """Each correction's ``mpai`` value is what MPAI's document has: the table lists no fixed fault."""
    assert same_json(found(mpai_schemas, correction), correction.mpai)
    schemas = copy.deepcopy(mpai_schemas)
    apply(schemas, [correction])
    after = found(schemas, correction)
    assert after is REMOVE if correction.corrected is REMOVE else same_json(after, correction.corrected)


@needs_mpai
def test_a_drifted_value_is_refused(mpai_schemas: dict[str, Any]) -> None:
    drifted = dataclasses.replace(CORRECTIONS[0], mpai="MMM-ACC-V2.3")
    with pytest.raises(CorrectionMismatch, match=CORRECTIONS[0].id):
        apply(copy.deepcopy(mpai_schemas), [drifted])
    flipped = dataclasses.replace(next(c for c in CORRECTIONS if c.id == "PRV-EVENT-CLOSED"), mpai=0)
    with pytest.raises(CorrectionMismatch):  # JSON false is not 0
        apply(copy.deepcopy(mpai_schemas), [flipped])


def test_ids_are_unique_and_each_is_in_the_faults_page() -> None:
    ids = [c.id for c in CORRECTIONS]
    assert len(ids) == len(set(ids))
    page = (ROOT / derive.FAULTS).read_text(encoding="utf-8")
    rows = [line.split("|")[1].strip() for line in page.splitlines() if line.startswith("| ")]
    assert rows[1:] == ids  # the header row first, then one row per correction, in order


def test_bundle_is_a_valid_2020_12_schema_and_each_root_compiles() -> None:
    bundle = mpai.bundle()
    assert bundle["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert bundle["$id"] == mpai.BUNDLE_ID
    assert jsonschema_rs.meta.is_valid(dict(bundle))
    for name in derive.roots(bundle["$defs"]):
        assert isinstance(mpai.validator(name), jsonschema_rs.Validator), name
    refs = {r for r in derive._refs(bundle) if not r.startswith("#/$defs/")}
    assert refs == set(), "the bundle must be self-contained"


def test_no_closed_object_requires_what_it_does_not_define() -> None:
    assert closed_required_faults(mpai.bundle()) == []


@needs_mpai
def test_the_closed_object_check_finds_mpais_faults(mpai_schemas: dict[str, Any]) -> None:
    """Without the corrections the same check fails, naming the faults of MPAI's build report."""
    names = derive.closure(mpai_schemas, derive.roots(mpai_schemas))
    found_faults = closed_required_faults({"$defs": {n: mpai_schemas[n] for n in names}})
    assert "MMM4_V22_Transaction: requires 'TransactionData', which a closed object does not define" in found_faults
    assert any(f.startswith("MMM4_V22_Capabilities__MInstanceCapabilities: requires 'Rights'") for f in found_faults)


HEADERS = {
    "MMM-ITM-V2.2": "MMM4_V22_Item",
    "MMM-PRC-V2.2": "MMM4_V22_Process",
    "MMM-ACC-V2.2": "MMM4_V22_Account",
    "MMM-PPR-V2.2": "MMM4_V22_PersonalProfile",
    "MMM-RGT-V2.2": "MMM4_V22_Rights",
    "MMM-RUL-V2.2": "MMM4_V22_Rules",
    "MMM-WAL-V2.2": "MMM4_V22_Wallet",
    "MMM-ASS-V2.2": "MMM4_V22_Asset",
    "MMM-TRA-V2.2": "MMM4_V22_Transaction",
    "MMM-PRV-V2.2": "MMM4_V22_Provenance",
    "MMM-VAL-V2.2": "MMM4_V22_Value",
    "MMM-ACD-V2.2": "MMM4_V22_ActivityData",
    "MMM-FBR-V2.2": "MMM4_V22_FaultBehaviourReport",
    "MMM-FDR-V2.2": "MMM4_V22_FaultDetectionReport",
    "MMM-PAC-V2.2": "MMM4_V22_ProcessAction",
}


@pytest.mark.parametrize(("header", "name"), HEADERS.items())
def test_schema_for_header(header: str, name: str) -> None:
    assert mpai.schema_for_header(header) == name


def test_schema_for_an_unknown_header_is_none() -> None:
    assert mpai.schema_for_header("MMM-PRV-V2.2$") is None
    assert mpai.schema_for_header("MMM-XYZ-V2.2") is None


SIMPLE_TIME = {
    "Header": "OSD-STM-V1.5",
    "SimpleTimeID": "t1",
    "SimpleTimeData": [{"FlagsByte": 1, "StartTime": 1.7e9, "EndTime": 1.7e9, "AccuracyPlusMinus": 0}],
}


OSD_TIME = {"Header": "OSD-TIM-V1.5", "TimeID": "t1", "Data": "2026-01-01T00:00:00.000Z"}


CASES = [
    pytest.param(
        "MMM4_V22_Transaction",
        {"Header": "MMM-TRA-V2.2", "MInstanceID": "m", "MEnvironmentID": "e", "TransactionID": "t"},
        id="TRA-REQUIRED",
    ),
    pytest.param(
        "MMM4_V22_AnyProcessAction",
        {
            "Header": "MMM-PAC-V2.2",
            "MInstanceID": "m",
            "ProcessActionID": "pa1",
            "ProcessAction": [{"Response": {"Time": SIMPLE_TIME, "PAStatus": [{"Ack": "Ack"}]}}],
        },
        id="APA-RESPONSE",
    ),
    pytest.param(
        "MMM4_V22_AnyProcessAction__Prepositions", [{"OfItem": "i"}, {"NilProcess": "p"}], id="APA-COMPLEMENT-OF"
    ),
    pytest.param(
        "MMM4_V22_ModifyPA",
        {"Header": "MMM-MOP-V2.2", "MInstanceID": "m", "Time": OSD_TIME, "ModifyPARQ": {}},
        id="PA-REQUIRED-Modify",
    ),
    pytest.param(
        "MMM4_V22_ResolvePA", {"Header": "MMM-RSP-V2.2", "Time": OSD_TIME, "ResolvePARS": {}}, id="PA-HEADER-Resolve"
    ),
    pytest.param("MMM4_V22_Asset", {"Header": "MMM-ASS-V2.2", "CurrencyID": "ACU"}, id="ASS-CURRENCY"),
    pytest.param("MMM4_V22_ValueMetadataIDs", "VM-ListPrice", id="VMI-ONEOF"),
    pytest.param(
        "MMM4_V22_ActivityData", {"Header": "MMM-ACD-V2.2", "ActivityData": [{"IPPMessageID": "ipp1"}]}, id="ACD-ITEMS"
    ),
]


@pytest.mark.parametrize(("name", "doc"), CASES)
def test_corrected_types_accept(name: str, doc: object) -> None:
    assert mpai.errors(name, doc) == []


@needs_mpai
@pytest.mark.parametrize(("name", "doc"), CASES)
def test_uncorrected_types_refuse(name: str, doc: object, mpai_schemas: dict[str, Any]) -> None:
    """The same documents fail MPAI's schemas as published: the corrections are what makes them pass."""
    uncorrected = {"$defs": {n: derive.rewrite(s) for n, s in mpai_schemas.items()}, "$ref": f"#/$defs/{name}"}
    assert not jsonschema_rs.validator_for(uncorrected, validate_formats=True).is_valid(doc)


def test_errors_name_the_place() -> None:
    (only,) = mpai.errors("MMM4_V22_Process", {"ProcessID": "p", "ProcessType": "Robot"})
    assert only.startswith('/ProcessType: "Robot" is not one of')
    with pytest.raises(KeyError):
        mpai.validator("MMM4_V22_NoSuchType")
