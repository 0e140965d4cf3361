"""Item JSON Schemas (mmmfed.schemas): every Item mmmfed builds validates; malformed ones are refused
with reason SCHEMA_VIOLATION and the JSON path of what failed (IDIR-101, -103, -105..107)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from itemcases import BUILDERS, REFUSED, SERVICE, A, B, account, converted_persona, persona, personal_profile, user
from jsonschema import Draft202012Validator
from sample_assets import BOX, needs_samples

from instance.avatars import AvatarService
from instance.process_actions import ProcessActionService
from mmmfed.config import FeatureConfig, InstanceConfig, ManifestoConfig, TlsConfig
from mmmfed.errors import InvalidInput
from mmmfed.items import FORMAT_GLB, Item, build_item, new_id, parse_item
from mmmfed.proofs import SigningKey, sign_document
from mmmfed.schemas import BASE_SCHEMA, SCHEMA_BASE_URI, _validator, item_schema, item_types, validate_item
from mmmfed.store import SqliteStore


# -- the schemas themselves ---------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted({*item_types(), BASE_SCHEMA}))
def test_each_schema_is_valid_draft_2020_12(name: str) -> None:
    """Each schema file is a valid draft 2020-12 schema with its $id under the v1 base URI."""
    schema = item_schema(name)
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == f"{SCHEMA_BASE_URI}{name}.json"


def test_there_is_a_schema_for_each_type_the_reference_instance_stores() -> None:
    """ITM, PRC, ACC and PPR (instance/avatars.py) each have a schema."""
    assert {"ITM", "PRC", "ACC", "PPR", "RUL", "RGT", "WAL", "TRA", "ACD", "FBR", "FDR"} <= item_types()


# -- every Item the project builds validates ----------------------------------------------------
@pytest.mark.parametrize("kind", sorted(BUILDERS))
def test_items_the_project_builds_validate(kind: str) -> None:
    """Each kind of Item built with the fields the instance and the bridge use validates, both
    as built and as parsed back from its exact bytes."""
    item = BUILDERS[kind]()
    validate_item(item.doc)
    validate_item(parse_item(item.raw).doc)


def test_converted_persona_keeps_its_source_and_trace() -> None:
    """The bridge's output names its source Item and has both producers in its Trace."""
    source = persona()
    doc = converted_persona(source).doc
    validate_item(doc)
    assert doc["SourceItemID"] == source.item_id
    assert doc["Trace"][0] == source.doc["Trace"][0]
    assert len(doc["Trace"]) == 2


def test_signed_items_validate() -> None:
    """A Persona with one Data Integrity proof, then with a chained proof set, validates."""
    key = SigningKey.from_seed(bytes(range(32)))
    vm = key.verification_method
    once = sign_document(
        persona().doc, key=key, verification_method=vm, created="2026-01-02T03:04:05Z", proof_id="urn:uuid:p1"
    )
    validate_item(once)
    twice = sign_document(
        once, key=key, verification_method=vm, created="2026-01-02T03:04:06Z", previous_proof="urn:uuid:p1"
    )
    assert isinstance(twice["proof"], list)
    validate_item(twice)


@needs_samples
def test_items_of_a_real_registration_and_visit_validate(tmp_path: Path) -> None:
    """The Items AvatarService stores when registering a human on A, importing the Persona on B
    (roaming User) and installing B's default avatar all validate."""

    def service(m: str) -> AvatarService:
        glb = FeatureConfig(format=FORMAT_GLB)
        cfg = InstanceConfig(
            m_instance_id=m,
            tls_name=f"instance.{m}",
            data_dir=tmp_path / m,
            tls=TlsConfig(ca_cert=tmp_path / "ca.pem", cert=tmp_path / "c.pem", key=tmp_path / "k.pem"),
            manifesto=ManifestoConfig(produces=[glb], accepts=[glb]),
        )
        return AvatarService(cfg, SqliteStore(cfg.data_dir), ProcessActionService(m, database=None, resolver=None))

    def staged(svc: AvatarService) -> Any:
        data = BOX.read_bytes()
        with svc.stage(expected_size=len(data)) as writer:
            writer.write(data)
            return writer.finish()

    at_a, at_b = service(A), service(B)
    reg = at_a.register_human(
        human_name="alice", display_name="Alice", file_name=BOX.name, licence="CC-BY 4.0", blob=staged(at_a)
    )
    user_id = str(reg.user.doc["ProcessID"])
    incoming = at_b.check_incoming(reg.persona.raw, user_id)
    imported = at_b.complete_import(incoming, user_id, staged(at_b))
    default = at_b.install_default_avatar(BOX)
    for item in (reg.user, reg.account, reg.personal_profile, reg.persona, imported.roaming_user, default):
        validate_item(parse_item(item.raw).doc)


# -- refusals -----------------------------------------------------------------------------------
def _mutated(change: Callable[[dict[str, Any]], object], builder: Callable[[], Item] = persona) -> dict[str, Any]:
    doc = copy.deepcopy(dict(builder().doc))
    change(doc)
    return doc


def _refusal(doc: Any) -> InvalidInput:
    with pytest.raises(InvalidInput) as err:
        validate_item(doc)
    return err.value


@pytest.mark.parametrize(("change", "path"), [(c, p) for _, c, p in REFUSED], ids=[n for n, _, _ in REFUSED])
def test_malformed_items_are_refused_with_their_path(change: Callable[[dict[str, Any]], object], path: str) -> None:
    """Each malformed Persona raises SCHEMA_VIOLATION naming the path of what failed."""
    err = _refusal(_mutated(change))
    assert err.reason == "SCHEMA_VIOLATION"
    assert err.metadata == {"item_type": "ITM", "path": path}
    assert f"at {path}:" in err.message
    assert len(err.message) < 600  # never echoes an oversized value back


def test_another_instances_item_id_passes_the_schema() -> None:
    """An ItemID of another M-Instance is well-formed: ownership is parse_item's check, not the schema's."""
    validate_item(_mutated(lambda d: d.update(ItemID=f"mmm://{B}/items/1")))


@pytest.mark.parametrize(
    ("doc", "path"),
    [
        ({"Header": "MMM-ITM-V2.2"}, "$.ItemType"),
        ({"ItemType": 7}, "$.ItemType"),
        (["ITM"], "$"),
    ],
)
def test_items_without_a_type_are_refused(doc: Any, path: str) -> None:
    """A document that is not an object or has no string ItemType is a SCHEMA_VIOLATION."""
    err = _refusal(doc)
    assert (err.reason, err.metadata["path"]) == ("SCHEMA_VIOLATION", path)


@pytest.mark.parametrize("item_type", ["SCF", "itm", "", "X" * 10_000])
def test_unknown_item_types_are_refused(item_type: str) -> None:
    """An ItemType without a schema raises ITEM_TYPE_UNKNOWN, and compiles nothing."""
    before = _validator.cache_info().currsize
    err = _refusal(_mutated(lambda d: d.update(ItemType=item_type)))
    assert err.reason == "ITEM_TYPE_UNKNOWN"
    assert len(err.metadata["item_type"]) <= 32
    assert _validator.cache_info().currsize == before


def test_an_item_with_another_types_fields_is_refused() -> None:
    """Type confusion: a PRC's fields on an Account, or a Persona relabelled as a Process, fail."""
    err = _refusal(_mutated(lambda d: d.update(ProcessType="User"), account))
    assert (err.reason, err.metadata) == ("SCHEMA_VIOLATION", {"item_type": "ACC", "path": "$"})
    err = _refusal(_mutated(lambda d: d.update(ItemType="PRC")))
    assert err.metadata["item_type"] == "PRC"


@pytest.mark.parametrize(
    ("change", "path"),
    [
        (lambda d: d.update(Roaming={"HomeMInstanceID": B, "Kind": "temporary"}), "$"),
        (lambda d: d.pop("HumanID"), "$"),
        (lambda d: d.update(HumanID="Alice Smith"), "$.HumanID"),
        (lambda d: d.update(ProcessType="Robot"), "$.ProcessType"),
        (lambda d: d.update(ProcessID="alice"), "$.ProcessID"),
    ],
    ids=["both HumanID and Roaming", "User with neither", "HumanID malformed", "ProcessType", "ProcessID"],
)
def test_malformed_user_processes_are_refused(change: Callable[[dict[str, Any]], object], path: str) -> None:
    """A User Process is local (HumanID) or roaming (Roaming), never both or neither."""
    err = _refusal(_mutated(change, user))
    assert (err.reason, err.metadata) == ("SCHEMA_VIOLATION", {"item_type": "PRC", "path": path})


def test_malformed_profiles_and_accounts_are_refused() -> None:
    """A Personal Profile lists mmm:// Personae, once each; an Account names its AccountID."""
    err = _refusal(_mutated(lambda d: d.update(Personae=["persona-1"]), personal_profile))
    assert err.metadata == {"item_type": "PPR", "path": "$.Personae[0]"}
    err = _refusal(_mutated(lambda d: d.update(Personae=d["Personae"] * 2), personal_profile))
    assert err.metadata == {"item_type": "PPR", "path": "$.Personae"}
    err = _refusal(_mutated(lambda d: d.pop("AccountID"), account))
    assert err.metadata == {"item_type": "ACC", "path": "$"}


# -- properties ---------------------------------------------------------------------------------
_DESCR_KEYS = st.one_of(
    st.sampled_from(["Name", "FileName", "Licence"]),
    st.text(min_size=1, max_size=128).filter(lambda k: k != "ConvertedBy"),
)


@given(descr=st.dictionaries(_DESCR_KEYS, st.text(max_size=1024), max_size=64))
def test_any_descriptive_metadata_text_validates(descr: dict[str, str]) -> None:
    """A Persona built with any DescrMetadata text (within the documented bounds) validates,
    as built and as parsed back from its bytes."""
    item = persona(descr)
    validate_item(item.doc)
    validate_item(parse_item(item.raw).doc)


@given(human=st.from_regex(r"[a-z0-9][a-z0-9._-]{0,62}", fullmatch=True))
def test_every_registrable_human_name_gives_a_valid_user(human: str) -> None:
    """Every human name AvatarService accepts gives a User Process whose ids validate."""
    user_id = new_id(A, "processes/user", human)
    item = build_item(
        m_instance_id=A,
        item_type="PRC",
        qualifier={"SubType": "User"},
        producer_process_id=SERVICE,
        extra={"ProcessID": user_id, "ProcessType": "User", "HumanID": human},
        descr={"Name": human},
    )
    validate_item(item.doc)
