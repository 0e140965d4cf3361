"""GLB <-> numpy decoding and encoding of the Conversion Service (glTF 2.0 sections 3.6, 4.4)."""

from __future__ import annotations

import struct

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from bridge.conversion import NOT_GLB, ConversionRefused
from bridge.conversion.gltf_model import (
    ARRAY_BUFFER,
    COMPONENT_DTYPES,
    TYPE_SIZES,
    GlbBuilder,
    parse_glb,
    read_accessor,
    to_float,
)


@st.composite
def accessor_arrays(draw: st.DrawFn) -> tuple[np.ndarray, str, int | None]:
    dtype = draw(st.sampled_from(list(COMPONENT_DTYPES.values())))
    atype = draw(st.sampled_from(list(TYPE_SIZES)))
    count = draw(st.integers(min_value=1, max_value=20))
    elements = st.floats(width=32, allow_nan=False, allow_infinity=False) if dtype.kind == "f" else None
    array = draw(hnp.arrays(dtype, (count, TYPE_SIZES[atype]), elements=elements))
    target = draw(st.sampled_from([None, ARRAY_BUFFER]))
    return array, atype, target


@settings(max_examples=150, deadline=None)
@given(st.lists(accessor_arrays(), min_size=1, max_size=4))
def test_accessor_encode_decode_round_trip(items: list[tuple[np.ndarray, str, int | None]]) -> None:
    """Encoding arrays into a GLB (any component type, matrix padding, padded vertex strides)
    then decoding gives back the same arrays."""
    builder = GlbBuilder()
    for array, atype, target in items:
        builder.add_accessor(array, atype=atype, target=target, bounds=True)
    glb = parse_glb(builder.build({"asset": {"version": "2.0"}}))
    for i, (array, _, _) in enumerate(items):
        decoded = read_accessor(glb, i)
        assert decoded.dtype == array.dtype
        assert np.array_equal(decoded, array)


def test_sparse_accessor_densified() -> None:
    """A sparse accessor (with and without a base bufferView) decodes to dense values."""
    builder = GlbBuilder()
    base = np.arange(12, dtype=np.float32).reshape(4, 3)
    builder.add_accessor(base, atype="VEC3")
    idx_view = builder.add_view(np.array([1, 3], dtype=np.uint16).tobytes())
    val_view = builder.add_view(np.array([[9, 9, 9], [7, 7, 7]], dtype=np.float32).tobytes())
    sparse = {
        "count": 2,
        "indices": {"bufferView": idx_view, "componentType": 5123},
        "values": {"bufferView": val_view},
    }
    builder.accessors.append({"bufferView": 0, "componentType": 5126, "count": 4, "type": "VEC3", "sparse": sparse})
    builder.accessors.append({"componentType": 5126, "count": 4, "type": "VEC3", "sparse": sparse})
    glb = parse_glb(builder.build({"asset": {"version": "2.0"}}))

    with_base, without_base = read_accessor(glb, 1), read_accessor(glb, 2)

    expected = base.copy()
    expected[1], expected[3] = 9, 7
    assert np.array_equal(with_base, expected)
    expected[[0, 2]] = 0
    assert np.array_equal(without_base, expected)


def test_interleaved_view_decoded_with_stride() -> None:
    """Two accessors interleaved in one bufferView (byteStride, byteOffset) decode separately."""
    pos = np.arange(9, dtype=np.float32).reshape(3, 3)
    uv = (np.arange(6, dtype=np.uint16) * 1000).reshape(3, 2)
    rows = np.concatenate([pos.view(np.uint8).reshape(3, 12), uv.view(np.uint8).reshape(3, 4)], axis=1)
    builder = GlbBuilder()
    view = builder.add_view(rows.tobytes(), target=ARRAY_BUFFER, stride=16)
    builder.accessors += [
        {"bufferView": view, "componentType": 5126, "count": 3, "type": "VEC3"},
        {
            "bufferView": view,
            "byteOffset": 12,
            "componentType": 5123,
            "count": 3,
            "type": "VEC2",
            "normalized": True,
        },
    ]
    glb = parse_glb(builder.build({"asset": {"version": "2.0"}}))

    assert np.array_equal(read_accessor(glb, 0), pos)
    assert np.array_equal(read_accessor(glb, 1), uv)
    assert np.allclose(to_float(read_accessor(glb, 1), normalized=True), uv / 65535)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_garbage_is_not_glb(data: bytes) -> None:
    """Arbitrary bytes never crash the parser: always ConversionRefused(NOT_GLB)."""
    assume(not data.startswith(b"glTF\x02\0\0\0"))
    with pytest.raises(ConversionRefused) as info:
        parse_glb(data)
    assert info.value.reason == NOT_GLB


@settings(max_examples=100, deadline=None)
@given(st.integers(min_value=0, max_value=2**32 - 1), st.binary(max_size=64))
def test_bad_chunk_lengths_are_not_glb(chunk_len: int, tail: bytes) -> None:
    """A GLB header with a correct total length but a wrong chunk length is NOT_GLB."""
    body = struct.pack("<II", chunk_len, 0x4E4F534A) + tail
    data = struct.pack("<III", 0x46546C67, 2, 12 + len(body)) + body
    try:
        parse_glb(data)
    except ConversionRefused as err:
        assert err.reason == NOT_GLB


@settings(max_examples=100, deadline=None)
@given(st.data())
def test_truncated_glb_is_not_glb(data: st.DataObject) -> None:
    """Any strict prefix of a valid GLB is NOT_GLB (the header length no longer matches)."""
    builder = GlbBuilder()
    builder.add_accessor(np.arange(30, dtype=np.float32).reshape(10, 3), atype="VEC3")
    glb = builder.build({"asset": {"version": "2.0"}})
    cut = data.draw(st.integers(min_value=0, max_value=len(glb) - 1))
    with pytest.raises(ConversionRefused) as info:
        parse_glb(glb[:cut])
    assert info.value.reason == NOT_GLB
