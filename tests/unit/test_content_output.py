"""`mmmfed content show --out` writes a content as the M-Instance holds it, all or nothing (ITU
FGMV-43 9.3, COIR-204): a one-part content to a file, a package into a new folder, never outside it."""

from __future__ import annotations

from pathlib import Path

import pytest

from mmmfed.cli.content_cmd import write_content
from mmmfed.content.package import ContentPackage, ContentPart
from mmmfed.errors import InvalidInput

ROOT = ContentPart.of("Model.gltf", b'{"asset":{"version":"2.0"}}', "model/gltf+json")
BUFFER = ContentPart.of("buffers/Model.bin", b"\x00\x01\x02\x03", "application/gltf-buffer")


def test_coir_204_a_package_is_written_into_a_new_folder_part_by_part(tmp_path: Path) -> None:
    out = tmp_path / "model"
    assert write_content(ContentPackage((ROOT, BUFFER)), out) == out
    assert (out / "Model.gltf").read_bytes() == ROOT.data
    assert (out / "buffers" / "Model.bin").read_bytes() == BUFFER.data
    assert [p.name for p in tmp_path.iterdir()] == ["model"]  # no staging folder left


def test_coir_204_a_one_part_content_is_written_to_the_file(tmp_path: Path) -> None:
    out = tmp_path / "notes.md"
    write_content(ContentPackage((ContentPart.of("notes.md", b"# hi\n", "text/markdown"),)), out)
    assert out.read_bytes() == b"# hi\n" and [p.name for p in tmp_path.iterdir()] == ["notes.md"]


def test_coir_204_an_existing_folder_is_not_written_into(tmp_path: Path) -> None:
    out = tmp_path / "model"
    out.mkdir()
    with pytest.raises(InvalidInput) as caught:
        write_content(ContentPackage((ROOT, BUFFER)), out)
    assert caught.value.reason == "OUTPUT_EXISTS" and list(out.iterdir()) == []


def test_coir_204_a_part_path_leaving_the_folder_writes_nothing(tmp_path: Path) -> None:
    """A hostile M-Instance's answer naming ``../escape.bin``: refused, no file anywhere."""
    evil = ContentPart.of("../escape.bin", b"x", "application/gltf-buffer")
    (tmp_path / "dest").mkdir()
    with pytest.raises(InvalidInput) as caught:
        write_content(ContentPackage((ROOT, evil)), tmp_path / "dest" / "model")
    assert caught.value.reason == "CONTENT_URI_OUTSIDE_PACKAGE"
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*")) == ["dest"]
