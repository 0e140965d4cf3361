"""Whatever URI a ``.gltf`` names, :func:`package_path` either refuses it or gives a path that
stays inside the package's folder (ITU FGMV-43 9.3, COIR-204), checked on generated URIs."""

from __future__ import annotations

import posixpath

from hypothesis import given
from hypothesis import strategies as st

from mmmfed.content.package import package_path
from mmmfed.errors import InvalidInput

SEGMENTS = st.sampled_from(["..", ".", "", "a", "b.bin", "%2e%2e", "%2F", "%5c", "\\", "c:", "//", "file:", "x y"])
URIS = st.one_of(st.lists(SEGMENTS, max_size=6).map("/".join), st.text(max_size=40))


@given(URIS)
def test_coir_204_a_uri_is_refused_or_names_a_path_inside_the_package(uri: str) -> None:
    try:
        path = package_path(uri)
    except InvalidInput as err:
        assert err.reason in ("CONTENT_URI_OUTSIDE_PACKAGE", "GLTF_MALFORMED")
        return
    if path is None:  # a data: URI: its bytes are in the root part
        assert uri.lower().startswith("data:")
        return
    inside = posixpath.normpath(posixpath.join("/pkg", path))
    assert inside.startswith("/pkg/") and "\\" not in path and "\x00" not in path
