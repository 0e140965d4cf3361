"""Converted representations of content versions (FGMV-43 9.3 steps 5-7 with COCF): a rendition
is the bridge's converted Item of one home version; the store keeps it under the version's id,
beside the version's record, in one write, and gives it back checked. Real GLB sample bytes, a
real SQLite database."""

from __future__ import annotations

from pathlib import Path

import pytest
from sample_assets import BOX, needs_samples

from instance.content.store import ContentStore
from mmmfed.content.item import PartRef
from mmmfed.content.package import ContentPackage, ContentPart
from mmmfed.content.renditions import Rendition
from mmmfed.content.versions import ContentVersion
from mmmfed.errors import DataIntegrityError, InvalidInput
from mmmfed.items import Item, build_item

pytestmark = needs_samples
HOME = "mmm://a.example/items/home-cube"
GLTF = b'{"asset":{"version":"2.0"}}'


def _version() -> ContentVersion:
    part = ContentPart.of("cube.gltf", GLTF, "model/gltf+json")
    return ContentVersion.make(
        content_id=HOME,
        parents=(),
        author="mmm://a.example/processes/user/alice",
        time_ms=1_700_000_000_000,
        qualifier={"SubType": "Model3D", "Format": "glTF/2.0-json"},
        metadata={"Title": "Cube", "Licence": "CC0-1.0"},
        parts=(PartRef(part.path, part.media_type, part.size, part.sha256),),
    )


def _converted(package: ContentPackage, *, source: str = HOME, sub_type: str = "Model3D") -> Item:
    parts = [
        {
            "Path": p.path,
            "MediaType": p.media_type,
            "Size": p.size,
            "Digest": {"Algorithm": "sha-256", "Value": p.sha256},
        }
        for p in package.parts
    ]
    return build_item(
        m_instance_id="a.example",
        item_id="mmm://a.example/items/converted-cube",
        item_type="ITM",
        qualifier={"SubType": sub_type, "Format": "glTF/2.0-binary"},
        producer_process_id="mmm://a.example/processes/user/alice",
        source_item_id=source,
        descr={"Title": "Cube", "Licence": "CC0-1.0", "ConvertedBy": "bridge.example"},
        extra={"ItemParts": parts},
    )


@pytest.fixture
def glb() -> ContentPackage:
    return ContentPackage((ContentPart.of("cube.glb", BOX.read_bytes(), "model/gltf-binary"),))


def test_a_rendition_is_the_bridges_item_of_that_contents_version_with_its_parts(glb: ContentPackage) -> None:
    version = _version()
    rendition = Rendition.of(version, _converted(glb), glb, "bridge.example", b'{"changed":[]}')
    assert rendition.source_version_id == version.version_id and rendition.report == {"changed": []}
    assert rendition.qualifier["Format"] == "glTF/2.0-binary" and rendition.parts[0].sha256 == glb.root.sha256

    with pytest.raises(InvalidInput) as other:
        Rendition.of(version, _converted(glb, source="mmm://a.example/items/another"), glb, "bridge.example", b"{}")
    assert other.value.reason == "RENDITION_MALFORMED"
    with pytest.raises(InvalidInput) as kind:
        Rendition.of(version, _converted(glb, sub_type="Image"), glb, "bridge.example", b"{}")
    assert kind.value.reason == "RENDITION_MALFORMED"
    with pytest.raises(InvalidInput) as report:
        Rendition.of(version, _converted(glb), glb, "bridge.example", b"[1]")
    assert report.value.reason == "RENDITION_MALFORMED"
    tampered = ContentPackage((ContentPart.of("cube.glb", glb.root.data[:-4] + b"\0\0\0\0", "model/gltf-binary"),))
    with pytest.raises(DataIntegrityError) as digest:
        Rendition.of(version, _converted(glb), tampered, "bridge.example", b"{}")
    assert digest.value.reason == "DIGEST_MISMATCH"


def test_the_store_keeps_a_version_held_converted_under_its_id_and_the_local_content(
    glb: ContentPackage, tmp_path: Path
) -> None:
    """The version's record names the home's parts (not held here); the rendition's parts are
    what is held, read back checked; the version is listed under the local content's ItemID."""
    store = ContentStore(tmp_path / "contents.sqlite3")
    version = _version()
    rendition = Rendition.of(version, _converted(glb), glb, "bridge.example", b'{"dropped":["x"]}')
    local = "mmm://a.example/items/converted-cube"
    with pytest.raises(DataIntegrityError):  # the home's parts are not what is held here
        store.add_version(version, ContentPackage((ContentPart.of("cube.gltf", b"{}", ""),)), now_ms=1)
    assert store.add_version(version, glb, now_ms=1, local_id=local, rendition=rendition, mark_peers=False)
    assert not store.add_version(version, glb, now_ms=2, local_id=local, rendition=rendition)  # applied once
    assert [v.version_id for v in store.versions(local)] == [version.version_id] and store.versions(HOME) == []
    back = store.rendition(version)
    assert back is not None and back.package.root.data == glb.root.data
    assert (back.bridge_id, back.report, back.source_version_id) == (
        "bridge.example",
        {"dropped": ["x"]},
        version.version_id,
    )
    assert set(store.rendition_items(local)) == {version.version_id}
