"""A bridge's proven identity (issue 12 item 5): its key kept in data_dir, manifesto V signed by
it, its certificate binding its did:key (mmmfed/bridge_identity.py, bridge/identity.py)."""

from __future__ import annotations

import datetime as dt
import json
import stat
from collections.abc import Sequence
from pathlib import Path

import pytest

from bridge.identity import KEY_FILE, VirtualBridge, VirtualBridgeStore, bridge_key, bridge_key_and_did
from certs import NodeRole, issue_node, make_ca
from mmmfed.api.v1 import manifesto_pb2 as mpb
from mmmfed.bridge_identity import (
    CERTIFICATE_INVALID,
    IDENTITY_MISMATCH,
    SIGNATURE_INVALID,
    BridgeIdentityRefused,
    sign_bridge_manifesto,
    verify_bridge_manifesto,
)
from mmmfed.errors import InvalidInput
from mmmfed.items import proof_time
from mmmfed.proofs import SigningKey

BRIDGE = "bridge.example"


class Pki:
    """A throwaway bridge CA: its bundle, and bridge certificates issued with chosen URI SANs."""

    def __init__(self) -> None:
        issued, self.ca_cert, self.ca_key = make_ca("bridge CA")
        self.bundle = issued.cert_pem

    def cert(self, uris: Sequence[str], *, name: str = BRIDGE, not_before: dt.datetime | None = None) -> str:
        kwargs = {"not_before": not_before, "valid_days": 1} if not_before else {}
        issued = issue_node(self.ca_cert, self.ca_key, name, NodeRole.BRIDGE, extra_uris=uris, **kwargs)
        return issued.cert_pem.decode()


@pytest.fixture(scope="module")
def pki() -> Pki:
    return Pki()


def manifesto_v() -> mpb.Manifesto:
    pair = mpb.ConversionPair(
        item_type="ITM",
        from_qualifier=mpb.Qualifier(sub_type="Persona", format="VRM/0.x"),
        to_qualifier=mpb.Qualifier(sub_type="Persona", format="glTF/2.0-binary"),
        drops=["spring bones"],
    )
    return mpb.Manifesto(
        manifesto_id="urn:uuid:1", kind=mpb.MANIFESTO_KIND_BRIDGE, issuer_id=BRIDGE, conversions=[pair], issued_at_ms=1
    )


def signed(key: SigningKey, cert_pem: str, manifesto: mpb.Manifesto | None = None) -> mpb.Manifesto:
    return sign_bridge_manifesto(manifesto or manifesto_v(), key=key, certificate_pem=cert_pem, created=proof_time())


def verify(manifesto: mpb.Manifesto, pki: Pki, **options: object) -> object:
    args: dict[str, object] = {"bridge_id": BRIDGE, "tls_name": BRIDGE, "bundle_pem": pki.bundle, **options}
    return verify_bridge_manifesto(manifesto, **args)  # type: ignore[arg-type]


def refused_with(reason: str, manifesto: mpb.Manifesto, pki: Pki, **options: object) -> BridgeIdentityRefused:
    with pytest.raises(BridgeIdentityRefused) as caught:
        verify(manifesto, pki, **options)
    assert caught.value.reason == reason, caught.value.message
    return caught.value


# -- the key in data_dir ---------------------------------------------------------------------------
def test_bridge_key_is_made_once_in_data_dir_with_mode_0600(tmp_path: Path) -> None:
    """The first call makes the key (0600, public file beside it); later calls load the same key."""
    data_dir = tmp_path / "bridge"
    did = bridge_key_and_did(data_dir)
    assert did.startswith("did:key:z6Mk")
    assert stat.S_IMODE((data_dir / KEY_FILE).stat().st_mode) == 0o600
    assert (data_dir / "signing-key.pub.json").exists()
    assert bridge_key(data_dir).did == did == bridge_key_and_did(data_dir)


def test_bridge_key_refuses_a_file_that_is_not_a_key(tmp_path: Path) -> None:
    """A signing-key.pem that is not an Ed25519 key is refused KEY_FILE_INVALID, not replaced."""
    (tmp_path / KEY_FILE).write_text("not a key")
    with pytest.raises(InvalidInput) as caught:
        bridge_key(tmp_path)
    assert caught.value.reason == "KEY_FILE_INVALID"
    assert (tmp_path / KEY_FILE).read_text() == "not a key"


def test_virtual_bridges_are_read_back_by_a_new_store(tmp_path: Path) -> None:
    """A virtual bridge added is found by another store opened on the same file (a restart)."""
    path = tmp_path / "vb.sqlite"
    first = VirtualBridgeStore(path)
    vb = VirtualBridge("urn:uuid:vb", "a.example", "b.example", 123)
    first.add(vb)
    first.close()
    second = VirtualBridgeStore(path)
    assert second.get("urn:uuid:vb") == vb and second.get("urn:uuid:other") is None
    second.close()


def test_virtual_bridge_store_makes_its_directory(tmp_path: Path) -> None:
    """A data_dir not made yet (signing_key configured, so no key was made there) is made."""
    store = VirtualBridgeStore(tmp_path / "new" / "vb.sqlite")
    store.add(VirtualBridge("urn:uuid:vb", "a.example", "b.example", 1))
    assert store.get("urn:uuid:vb") is not None
    store.close()


def test_a_corrupt_virtual_bridge_file_is_refused_at_opening(tmp_path: Path) -> None:
    """A file that is not SQLite is refused DATA_DIR_INVALID and left as it is."""
    path = tmp_path / "vb.sqlite"
    path.write_bytes(b"not a database, certainly not" * 100)
    with pytest.raises(InvalidInput) as caught:
        VirtualBridgeStore(path)
    assert caught.value.reason == "DATA_DIR_INVALID"


# -- manifesto V signed and bound ------------------------------------------------------------------
def test_signed_manifesto_verifies_with_the_did_its_certificate_binds(pki: Pki) -> None:
    """Signed by the key the certificate binds: it verifies, and the result names that key only."""
    key = SigningKey.generate()
    out = verify(signed(key, pki.cert([key.did])), pki)
    assert out.did == key.did  # type: ignore[attr-defined]
    assert out.keys == {key.verification_method: key.public_key_bytes}  # type: ignore[attr-defined]
    assert list(out.manifesto.conversions) == list(manifesto_v().conversions)  # type: ignore[attr-defined]


def test_unsigned_manifesto_is_refused(pki: Pki) -> None:
    """A manifesto V without signed_json is refused BRIDGE_MANIFESTO_SIGNATURE_INVALID."""
    key = SigningKey.generate()
    unsigned = signed(key, pki.cert([key.did]))
    unsigned.ClearField("signed_json")
    refused_with(SIGNATURE_INVALID, unsigned, pki)


def test_field_changed_outside_the_signature_is_refused(pki: Pki) -> None:
    """A conversion pair added after signing is refused BRIDGE_MANIFESTO_SIGNATURE_INVALID."""
    key = SigningKey.generate()
    tampered = signed(key, pki.cert([key.did]))
    tampered.conversions.add(item_type="ASS")
    refused_with(SIGNATURE_INVALID, tampered, pki)


def test_signed_json_altered_is_refused(pki: Pki) -> None:
    """The same change made inside signed_json (and outside) breaks the proof."""
    key = SigningKey.generate()
    good = signed(key, pki.cert([key.did]))
    doc = json.loads(good.signed_json)
    doc["Manifesto"]["conversions"][0]["drops"] = []
    tampered = mpb.Manifesto()
    tampered.CopyFrom(good)
    del tampered.conversions[0].drops[:]
    tampered.signed_json = json.dumps(doc).encode()
    refused_with(SIGNATURE_INVALID, tampered, pki)


@pytest.mark.parametrize(
    "uris",
    [
        pytest.param([], id="no_did_key_san"),
        pytest.param(["other"], id="another_did_key"),
        pytest.param(["own", "other"], id="two_did_keys"),
    ],
)
def test_certificate_not_binding_exactly_the_signer_is_refused(pki: Pki, uris: list[str]) -> None:
    """A certificate with no did:key SAN, another one, or two, is refused BRIDGE_IDENTITY_MISMATCH."""
    key, other = SigningKey.generate(), SigningKey.generate()
    dids = [{"own": key.did, "other": other.did}[u] for u in uris]
    refused_with(IDENTITY_MISMATCH, signed(key, pki.cert(dids)), pki)


def test_signed_by_another_key_with_the_bridges_certificate_is_refused(pki: Pki) -> None:
    """Someone holding the bridge's (public) certificate but not its key cannot sign manifesto V."""
    key, thief = SigningKey.generate(), SigningKey.generate()
    refused_with(IDENTITY_MISMATCH, signed(thief, pki.cert([key.did])), pki)


def test_issued_by_another_bridge_id_is_refused(pki: Pki) -> None:
    """A manifesto V whose issuer is not the bridge asked is refused BRIDGE_IDENTITY_MISMATCH."""
    key = SigningKey.generate()
    refused_with(IDENTITY_MISMATCH, signed(key, pki.cert([key.did])), pki, bridge_id="other-bridge.example")


@pytest.mark.parametrize(
    ("name", "not_before", "tls_name", "foreign_ca"),
    [
        pytest.param("bridge.example", None, "bridge.example", True, id="wrong_ca"),
        pytest.param("other.example", None, "bridge.example", False, id="wrong_name"),
        pytest.param("bridge.example", dt.datetime(2020, 1, 1, tzinfo=dt.UTC), "bridge.example", False, id="expired"),
    ],
)
def test_certificate_that_does_not_chain_or_fit_is_refused(
    pki: Pki, name: str, not_before: dt.datetime | None, tls_name: str, foreign_ca: bool
) -> None:
    """Another CA's certificate, one for another TLS name, or an expired one: BRIDGE_CERTIFICATE_INVALID."""
    key = SigningKey.generate()
    issuer = Pki() if foreign_ca else pki
    manifesto = signed(key, issuer.cert([key.did], name=name, not_before=not_before))
    refused_with(CERTIFICATE_INVALID, manifesto, pki, tls_name=tls_name)


def test_garbage_certificate_is_refused(pki: Pki) -> None:
    """certificate_pem that is not PEM is refused BRIDGE_CERTIFICATE_INVALID."""
    refused_with(CERTIFICATE_INVALID, signed(SigningKey.generate(), "-----BEGIN nothing"), pki)
