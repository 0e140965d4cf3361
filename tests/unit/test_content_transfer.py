"""What migrates and how its bytes are checked on the way (ITU FGMV-43 9.3 steps 2-4, RE-3;
COIR-103): the redistribution rule over SPDX licence expressions, and :class:`PartsChecker`
over every way of cutting a content's bytes into chunks."""

from __future__ import annotations

import hashlib
import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mmmfed.content.acceptance import ContentAcceptance
from mmmfed.content.item import PartRef
from mmmfed.content.licence import redistributable, require_redistributable
from mmmfed.content.metadata import spdx_licence
from mmmfed.content.transfer import PartsChecker, check_limits
from mmmfed.errors import DataIntegrityError, FailedPrecondition, InvalidInput, TooLarge


@pytest.mark.parametrize(
    ("expression", "granted"),
    [
        ("CC-BY-4.0", True),
        ("CC0-1.0", True),
        ("CC-BY-NC-SA-4.0", True),
        ("GPL-2.0-only WITH Classpath-exception-2.0", True),
        ("MIT OR LicenseRef-Studio", True),
        ("MIT AND (LicenseRef-a OR Apache-2.0)", True),
        ("LicenseRef-Proprietary", False),
        ("CC-BY-4.0 AND LicenseRef-Studio", False),
        ("LicenseRef-a OR LicenseRef-b", False),
    ],
)
def test_coir_103_the_redistribution_rule(expression: str, granted: bool) -> None:
    spelt = spdx_licence(expression)
    assert redistributable(spelt) is granted
    if not granted:
        with pytest.raises(FailedPrecondition) as refused:
            require_redistributable(spelt, content_id="mmm://a.example/items/x", peer="b.example")
        assert refused.value.reason == "LICENCE_FORBIDS" and refused.value.metadata["licence"] == spelt


def test_coir_103_a_licence_ref_is_an_spdx_licence_but_a_malformed_one_is_licence_unknown() -> None:
    assert spdx_licence("mit or LicenseRef-Studio.v2") == "MIT OR LicenseRef-Studio.v2"
    for bad in ("LicenseRef-", "LicenseRef-a/b", "MIT/x", "Foo AND LicenseRef-x"):
        with pytest.raises(InvalidInput) as refused:
            spdx_licence(bad)
        assert refused.value.reason == "LICENCE_UNKNOWN", bad


def _refs(parts: list[bytes]) -> list[PartRef]:
    return [
        PartRef(f"p{i}", "application/octet-stream", len(p), hashlib.sha256(p).hexdigest()) for i, p in enumerate(parts)
    ]


def _cut(data: bytes, cuts: list[int]) -> list[bytes]:
    at = sorted({c % (len(data) + 1) for c in cuts})
    edges = [0, *at, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(edges)]


@given(st.lists(st.binary(max_size=40), min_size=1, max_size=5), st.lists(st.integers(0, 400), max_size=8))
def test_re3_any_chunking_of_the_listed_parts_gives_them_back(parts: list[bytes], cuts: list[int]) -> None:
    checker = PartsChecker(_refs(parts), keep=True)
    for chunk in _cut(b"".join(parts), cuts):
        checker.feed(chunk)
    checker.finish()
    assert [p.data for p in checker.package().parts] == parts


@given(
    st.lists(st.binary(min_size=1, max_size=40), min_size=1, max_size=5),
    st.integers(0, 10_000),
    st.lists(st.integers(0, 400), max_size=8),
)
def test_re3_one_byte_changed_anywhere_is_digest_mismatch_naming_its_part(
    parts: list[bytes], where: int, cuts: list[int]
) -> None:
    data = bytearray(b"".join(parts))
    at = where % len(data)
    data[at] ^= 0x01
    owner, start = 0, 0
    while start + len(parts[owner]) <= at:
        start += len(parts[owner])
        owner += 1
    checker = PartsChecker(_refs(parts))
    with pytest.raises(DataIntegrityError) as refused:
        for chunk in _cut(bytes(data), cuts):
            checker.feed(chunk)
        checker.finish()
    assert (refused.value.reason, refused.value.metadata["path"]) == ("DIGEST_MISMATCH", f"p{owner}")


def test_re3_bytes_past_the_listed_end_or_missing_are_size_mismatch() -> None:
    parts = [b"abc", b"defg"]
    longer = PartsChecker(_refs(parts))
    with pytest.raises(DataIntegrityError) as over:
        longer.feed(b"abcdefgh")
    assert over.value.reason == "SIZE_MISMATCH"
    shorter = PartsChecker(_refs(parts))
    shorter.feed(b"abcde")
    with pytest.raises(DataIntegrityError) as short:
        shorter.finish()
    assert (short.value.reason, short.value.metadata["path"]) == ("SIZE_MISMATCH", "p1")


def test_re3_limits_on_parts_and_bytes_are_content_too_large() -> None:
    refs = _refs([b"x" * 10, b"y" * 10])
    assert check_limits(refs, max_bytes=20, max_parts=2) == 20
    for kwargs in ({"max_bytes": 19, "max_parts": 2}, {"max_bytes": 20, "max_parts": 1}):
        with pytest.raises(TooLarge) as refused:
            check_limits(refs, **kwargs)
        assert refused.value.reason == "CONTENT_TOO_LARGE"


def test_fgmv43_9_5_content_acceptance_from_manifesto_policies() -> None:
    """Kinds alone or with a Format; limits; no policy accepts anything; a malformed one is refused."""
    refs = _refs([b"x" * 10])
    model = {"SubType": "Model3D", "Format": "glTF/2.0-binary"}
    ContentAcceptance.of({}).require(model, refs, where="b.example")
    only = ContentAcceptance.of({"content.accepts": "Image, Model3D glTF/2.0-binary", "content.max_parts": "1"})
    only.require(model, refs, where="b.example")
    only.require({"SubType": "Image", "Format": "PNG"}, refs, where="b.example")
    with pytest.raises(FailedPrecondition) as refused:
        only.require({"SubType": "Model3D", "Format": "glTF/2.0-json"}, refs, where="b.example")
    assert refused.value.reason == "CONTENT_NOT_ACCEPTED"
    assert refused.value.metadata["accepted"] == "Image, Model3D glTF/2.0-binary"
    with pytest.raises(TooLarge):
        ContentAcceptance.of({"content.max_bytes": "9"}).require(model, refs, where="b.example")
    for bad in ({"content.accepts": "Video"}, {"content.max_bytes": "-1"}, {"content.max_parts": "many"}):
        with pytest.raises(InvalidInput) as invalid:
            ContentAcceptance.of(bad)
        assert invalid.value.reason == "CONTENT_POLICY_INVALID", bad
