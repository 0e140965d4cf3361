"""Item builders and malformed-Item cases shared by the schema tests and the fast-path tests: each
kind of Item as the reference instance and the bridge build it (IDIR-101, -103, -105..107), and
the table of changes to a Persona that its schema refuses, with the JSON path each one names."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mmmfed.items import FORMAT_GLB, FORMAT_VRM_0, DataBinding, Item, build_item, new_id

A, B, BRIDGE = "a.example", "b.example", "bridge.example"
SERVICE = new_id(A, "processes/service", "avatar-service")
USER = new_id(A, "processes/user", "alice")
DIGEST = "0123456789abcdef" * 4
ATTRIBUTES = {"Triangles": "12", "TextureFormats": "image/png,image/jpeg", "MaxTexturePx": "256"}


def persona(descr: dict[str, Any] | None = None) -> Item:
    """A Persona as AvatarService.register_human builds it."""
    return build_item(
        m_instance_id=A,
        item_type="ITM",
        qualifier={"SubType": "Persona", "Format": FORMAT_VRM_0, "Attributes": ATTRIBUTES},
        data=DataBinding(4096, DIGEST, "model/gltf-binary"),
        producer_process_id=SERVICE,
        capabilities=[{"ProcessID": USER, "Rights": ["MM-Add", "MM-Animate", "MM-Move", "Convert"]}],
        descr={"Name": "Alice's avatar", "FileName": "alice.vrm", "Licence": "CC-BY-4.0"} if descr is None else descr,
    )


def user() -> Item:
    """alice's local User Process (HumanID) at a.example."""
    return build_item(
        m_instance_id=A,
        item_type="PRC",
        qualifier={"SubType": "User"},
        producer_process_id=SERVICE,
        extra={"ProcessID": USER, "ProcessType": "User", "HumanID": "alice"},
        descr={"Name": "Alice"},
    )


def roaming_user() -> Item:
    """The User Process instance B makes for a visitor from A (AvatarService._roaming_user)."""
    return build_item(
        m_instance_id=B,
        item_type="PRC",
        qualifier={"SubType": "User"},
        producer_process_id=new_id(B, "processes/service", "avatar-service"),
        extra={
            "ProcessID": USER,
            "ProcessType": "User",
            "Roaming": {"HomeMInstanceID": A, "Kind": "registered roaming"},
        },
    )


def account() -> Item:
    """alice's Basic Account at a.example."""
    return build_item(
        m_instance_id=A,
        item_type="ACC",
        qualifier={"SubType": "Account"},
        producer_process_id=SERVICE,
        extra={"AccountID": new_id(A, "accounts"), "ProcessID": USER, "HumanID": "alice", "AccountType": "Basic"},
    )


def personal_profile() -> Item:
    """alice's Personal Profile, listing her Persona."""
    return build_item(
        m_instance_id=A,
        item_type="PPR",
        qualifier={"SubType": "PersonalProfile"},
        producer_process_id=SERVICE,
        extra={"ProcessID": USER, "Personae": [persona().item_id]},
        descr={"Name": "Alice"},
    )


def converted_persona(source: Item | None = None) -> Item:
    """A Persona converted by the bridge (BridgeService.convert): SourceItemID, Trace extended,
    DescrMetadata.ConvertedBy."""
    source = source or persona()
    descr = dict(source.doc["DescrMetadata"]) | {"ConvertedBy": BRIDGE}
    return build_item(
        m_instance_id=source.m_instance_id,
        item_type=str(source.doc["ItemType"]),
        qualifier={"SubType": "Persona", "Format": FORMAT_GLB, "Attributes": {**ATTRIBUTES, "TextureFormats": ""}},
        data=DataBinding(1024, "f" * 64, "model/gltf-binary"),
        producer_process_id=new_id(BRIDGE, "processes/service", "conversion"),
        source_item_id=source.item_id,
        capabilities=list(source.doc["ICapabilities"]),
        descr=descr,
        trace=list(source.doc["Trace"]),
    )


def content_package() -> Item:
    """A content of three parts (a .gltf, its buffer and a texture) as the content module builds
    it (FGMV-43 9.3, mmmfed.content.item): ItemParts, a content SubType, its metadata."""
    parts = [
        ("Box.gltf", "model/gltf+json", 1200, "1" * 64),
        ("Box.bin", "application/gltf-buffer", 840, "2" * 64),
        ("textures/wood.png", "image/png", 9000, "3" * 64),
    ]
    return build_item(
        m_instance_id=A,
        item_type="ITM",
        qualifier={"SubType": "Model3D", "Format": "glTF/2.0-json", "Attributes": ATTRIBUTES},
        producer_process_id=USER,
        descr={"Title": "Box", "Licence": "CC-BY-4.0", "Tags": ["box"], "Creator": "Cesium"},
        extra={
            "ItemParts": [
                {"Path": p, "MediaType": m, "Size": n, "Digest": {"Algorithm": "sha-256", "Value": d}}
                for p, m, n, d in parts
            ]
        },
    )


BUILDERS: dict[str, Callable[[], Item]] = {
    "persona": persona,
    "user": user,
    "roaming user": roaming_user,
    "account": account,
    "personal profile": personal_profile,
    "converted persona": lambda: converted_persona(),
    "content package": content_package,
}


REFUSED: list[tuple[str, Callable[[dict[str, Any]], object], str]] = [
    ("missing ItemID", lambda d: d.pop("ItemID"), "$"),
    ("ItemID not mmm://", lambda d: d.update(ItemID="https://a.example/items/1"), "$.ItemID"),
    ("ItemID upper-case host", lambda d: d.update(ItemID="mmm://A.example/items/1"), "$.ItemID"),
    ("ItemID single-label host", lambda d: d.update(ItemID="mmm://localhost/items/1"), "$.ItemID"),
    ("ItemID dot-dot segment", lambda d: d.update(ItemID="mmm://a.example/items/.."), "$.ItemID"),
    ("ItemID trailing newline", lambda d: d.update(ItemID=d["ItemID"] + "\n"), "$.ItemID"),
    ("MInstanceID not an FQDN", lambda d: d.update(MInstanceID="a..example"), "$.MInstanceID"),
    ("MInstanceID trailing newline", lambda d: d.update(MInstanceID="a.example\n"), "$.MInstanceID"),
    ("wrong Header", lambda d: d.update(Header="MMM-ITM-V2.1"), "$.Header"),
    ("ItemStatus unknown", lambda d: d.update(ItemStatus="Draft"), "$.ItemStatus"),
    ("SourceItemID malformed", lambda d: d.update(SourceItemID="item-1"), "$.SourceItemID"),
    ("Size negative", lambda d: d["ItemData"].update(Size=-1), "$.ItemData.Size"),
    ("Size fractional", lambda d: d["ItemData"].update(Size=1.5), "$.ItemData.Size"),
    ("Size integral float", lambda d: d["ItemData"].update(Size=4096.0), "$.ItemData.Size"),
    ("Size bool", lambda d: d["ItemData"].update(Size=True), "$.ItemData.Size"),
    ("Size beyond I-JSON", lambda d: d["ItemData"].update(Size=2**53), "$.ItemData.Size"),
    ("Size string", lambda d: d["ItemData"].update(Size="4096"), "$.ItemData.Size"),
    ("Digest short", lambda d: d["ItemData"]["Digest"].update(Value="ab" * 31), "$.ItemData.Digest.Value"),
    ("Digest upper-case", lambda d: d["ItemData"]["Digest"].update(Value="AB" * 32), "$.ItemData.Digest.Value"),
    ("Digest not hex", lambda d: d["ItemData"]["Digest"].update(Value="g" * 64), "$.ItemData.Digest.Value"),
    ("Digest algorithm", lambda d: d["ItemData"]["Digest"].update(Algorithm="md5"), "$.ItemData.Digest.Algorithm"),
    ("Persona without data", lambda d: d.pop("ItemData"), "$"),
    ("Trace Time not a date", lambda d: d["Trace"][0].update(Time="yesterday"), "$.Trace[0].Time"),
    ("Trace Time no such day", lambda d: d["Trace"][0].update(Time="2026-02-30T00:00:00Z"), "$.Trace[0].Time"),
    ("Trace Time no zone", lambda d: d["Trace"][0].update(Time="2026-01-02T03:04:05"), "$.Trace[0].Time"),
    ("Trace Time a number", lambda d: d["Trace"][0].update(Time=1700000000), "$.Trace[0].Time"),
    ("Trace empty", lambda d: d.update(Trace=[]), "$.Trace"),
    ("ItemQualifier a string", lambda d: d.update(ItemQualifier="Persona"), "$.ItemQualifier"),
    ("ItemQualifier extra member", lambda d: d["ItemQualifier"].update(Owner="x"), "$.ItemQualifier"),
    (
        "Attributes value a number",
        lambda d: d["ItemQualifier"]["Attributes"].update(Triangles=12),
        "$.ItemQualifier.Attributes.Triangles",
    ),
    (
        "Persona without Triangles",
        lambda d: d["ItemQualifier"]["Attributes"].pop("Triangles"),
        "$.ItemQualifier.Attributes",
    ),
    ("DescrMetadata a list", lambda d: d.update(DescrMetadata=["x"]), "$.DescrMetadata"),
    ("ICapabilities an object", lambda d: d.update(ICapabilities={"ProcessID": USER}), "$.ICapabilities"),
    ("Rights unknown action", lambda d: d["ICapabilities"][0].update(Rights=["Own"]), "$.ICapabilities[0].Rights[0]"),
    ("unknown top-level member", lambda d: d.update(Owner=USER), "$"),
    ("Name oversized", lambda d: d["DescrMetadata"].update(Name="x" * 1025), "$.DescrMetadata.Name"),
    ("Licence oversized", lambda d: d["DescrMetadata"].update(Licence="x" * 4097), "$.DescrMetadata.Licence"),
    ("open value oversized", lambda d: d["DescrMetadata"].update(Note="x" * 4097), "$.DescrMetadata.Note"),
    (
        "Attributes value oversized",
        lambda d: d["ItemQualifier"]["Attributes"].update(Extra="x" * 1025),
        "$.ItemQualifier.Attributes.Extra",
    ),
    ("ItemID oversized", lambda d: d.update(ItemID=f"mmm://{A}/items/" + "a/" * 300 + "a"), "$.ItemID"),
    ("too many capabilities", lambda d: d.update(ICapabilities=d["ICapabilities"] * 65), "$.ICapabilities"),
    ("Trace too long", lambda d: d.update(Trace=d["Trace"] * 65), "$.Trace"),
    ("proof not a DataIntegrityProof", lambda d: d.update(proof={"type": "Ed25519Signature2020"}), "$.proof.type"),
]
