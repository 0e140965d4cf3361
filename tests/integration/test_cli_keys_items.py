"""`mmmfed keys generate` and `mmmfed item sign|verify` as an operator runs them (real CLI, subprocess).

Each subprocess takes about 0.3 s; the key and the signed Item are made once per module.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from mmmfed.errors import InvalidInput
from mmmfed.items import build_item
from mmmfed.keyfile import keyring, load_public_key_file, load_signing_key, write_key_files
from mmmfed.proofs import SigningKey

ROOT = Path(__file__).resolve().parents[2]
OTHER_METHOD = "https://keys.a.example/k1"

# Built in two parts so that no committed file looks like it holds a key (it holds none).
PKCS8_PEM_HEADER = b"-----BEGIN " + b"PRIVATE KEY-----"


def mmmfed(*args: str | Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "160"}
    return subprocess.run(
        [sys.executable, "-m", "mmmfed", *map(str, args)], cwd=ROOT, capture_output=True, text=True, timeout=60, env=env
    )


@dataclass(frozen=True)
class Signed:
    key: Path
    method: str  # what `keys generate` printed
    item: Path  # unsigned
    signed: Path


@pytest.fixture(scope="module")
def signed(tmp_path_factory: pytest.TempPathFactory) -> Signed:
    """One generated key and one Item signed with it (two CLI runs for the whole module)."""
    work = tmp_path_factory.mktemp("keys")
    item = build_item(
        m_instance_id="a.example",
        item_type="ITM",
        qualifier={"SubType": "Persona", "Format": "VRM/1.0"},
        producer_process_id="mmm://a.example/processes/user/alice",
    )
    (work / "item.json").write_bytes(item.raw)
    gen = mmmfed("keys", "generate", "--out", work / "signer.pem")
    assert gen.returncode == 0, gen.stderr
    sign = mmmfed("item", "sign", "--key", work / "signer.pem", work / "item.json", "--out", work / "signed.json")
    assert sign.returncode == 0, sign.stderr
    return Signed(work / "signer.pem", gen.stdout.strip(), work / "item.json", work / "signed.json")


def test_generate_writes_a_0600_pkcs8_key_and_a_public_multikey_file(signed: Signed) -> None:
    """generate prints the did:key method; KEY.pem is PKCS#8 with mode 0600; KEY.pub.json names
    that method and its Multikey."""
    assert signed.method.startswith("did:key:z6Mk") and "#z6Mk" in signed.method
    assert oct(signed.key.stat().st_mode & 0o777) == "0o600"
    assert signed.key.read_bytes().startswith(PKCS8_PEM_HEADER + b"\n")
    public = json.loads(signed.key.with_name("signer.pub.json").read_text())
    assert public["id"] == public["didKeyVerificationMethod"] == signed.method
    assert public["type"] == "Multikey" and signed.method.endswith("#" + public["publicKeyMultibase"])
    assert load_signing_key(signed.key).verification_method == signed.method


def test_generate_refuses_to_overwrite_a_key_file(signed: Signed) -> None:
    """A second generate to the same --out exits 2 and leaves the key as it was."""
    before = signed.key.read_bytes()
    again = mmmfed("keys", "generate", "--out", signed.key)
    assert again.returncode == 2 and "KEY_FILE_EXISTS" in again.stderr and again.stdout == ""
    assert signed.key.read_bytes() == before


def test_signed_item_verifies_on_its_own_and_names_the_method(signed: Signed) -> None:
    """An Item signed with a generated key verifies with no key file (did:key); the verdict names
    the method, and the proof is eddsa-jcs-2022 for assertionMethod created to the second."""
    proof = json.loads(signed.signed.read_bytes())["proof"]
    assert proof["cryptosuite"] == "eddsa-jcs-2022" and proof["proofPurpose"] == "assertionMethod"
    assert len(proof["created"]) == 20 and proof["created"].endswith("Z")
    result = mmmfed("item", "verify", signed.signed)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"VERIFIED {signed.signed}: 1 of 1 proofs, by {signed.method}" in result.stdout


def test_tampered_item_is_signature_invalid(signed: Signed, tmp_path: Path) -> None:
    """Changing one field of a signed Item makes verify exit 2 with SIGNATURE_INVALID."""
    doc = json.loads(signed.signed.read_bytes())
    doc["ItemStatus"] = "Model"
    tampered = tmp_path / "tampered.json"
    tampered.write_text(json.dumps(doc))
    result = mmmfed("item", "verify", tampered)
    assert result.returncode == 2
    assert "NOT VERIFIED" in result.stdout and "SIGNATURE_INVALID" in result.stdout


def test_duplicate_member_is_refused_before_verifying(signed: Signed, tmp_path: Path) -> None:
    """A signed Item that names a member twice is refused by the strict intake (exit 2, reason)."""
    raw = signed.signed.read_bytes()
    doubled = tmp_path / "doubled.json"
    doubled.write_bytes(raw.replace(b'"ItemStatus":', b'"ItemStatus":"Model","ItemStatus":', 1))
    result = mmmfed("item", "verify", doubled)
    assert result.returncode == 2 and "JSON_DUPLICATE_KEY" in result.stderr and result.stdout == ""


def test_other_method_is_unresolved_without_keys_and_verified_with_them(signed: Signed, tmp_path: Path) -> None:
    """A second proof naming a non-did:key method joins the proof set; verify gives KEY_UNRESOLVED
    for it without --keys and verifies both proofs with that key's public key file."""
    gen = mmmfed("keys", "generate", "--out", tmp_path / "k1.pem", "--id", OTHER_METHOD)
    assert gen.returncode == 0, gen.stderr
    twice = tmp_path / "twice.json"
    sign = mmmfed(
        "item",
        "sign",
        "--key",
        tmp_path / "k1.pem",
        "--verification-method",
        OTHER_METHOD,
        signed.signed,
        "--out",
        twice,
    )
    assert sign.returncode == 0, sign.stderr
    assert [p["verificationMethod"] for p in json.loads(twice.read_bytes())["proof"]] == [signed.method, OTHER_METHOD]
    alone = mmmfed("item", "verify", twice)
    assert alone.returncode == 2 and f"KEY_UNRESOLVED (proof 1, {OTHER_METHOD})" in alone.stdout
    with_keys = mmmfed("item", "verify", twice, "--keys", tmp_path / "k1.pub.json")
    assert with_keys.returncode == 0, with_keys.stdout + with_keys.stderr
    assert f"2 of 2 proofs, by {signed.method}, {OTHER_METHOD}" in with_keys.stdout


def test_garbled_key_file_is_refused_with_a_clear_error(signed: Signed, tmp_path: Path) -> None:
    """sign with a key file that is not a PEM private key exits 2, names the file and writes nothing."""
    garbled = tmp_path / "garbled.pem"
    garbled.write_bytes(PKCS8_PEM_HEADER + b"\nnot base64\n-----END " + b"PRIVATE KEY-----\n")
    result = mmmfed("item", "sign", "--key", garbled, signed.item)
    assert result.returncode == 2 and result.stdout == ""
    assert "KEY_FILE_INVALID" in result.stderr and "is not a PEM private key" in result.stderr


def test_key_files_of_the_wrong_kind_are_refused(signed: Signed, tmp_path: Path) -> None:
    """Loading refuses, with KEY_FILE_INVALID and a hint: a public file as private key, a private
    key as public file, an encrypted or non-Ed25519 key, a public file whose id is another did:key."""
    public = signed.key.with_name("signer.pub.json")
    encrypted = tmp_path / "enc.pem"
    encrypted.write_bytes(
        SigningKey.generate().private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.BestAvailableEncryption(b"pw")
        )
    )
    p256 = tmp_path / "p256.pem"
    p256.write_bytes(
        ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    altered = tmp_path / "altered.pub.json"
    altered.write_text(json.dumps({**json.loads(public.read_bytes()), "id": SigningKey.generate().verification_method}))
    cases = [
        (load_signing_key, public, "that is a public key file"),
        (load_public_key_file, signed.key, "not a public key file"),
        (load_signing_key, encrypted, "is an encrypted private key"),
        (load_signing_key, p256, "Ed25519 keys only"),
        (load_public_key_file, altered, "the file was altered"),
    ]
    for load, path, hint in cases:
        with pytest.raises(InvalidInput) as caught:
            load(path)
        assert (
            caught.value.reason == "KEY_FILE_INVALID"
            and hint in caught.value.message
            and str(path) in caught.value.message
        )


def test_key_files_round_trip_and_keyring_refuses_conflicting_ids(tmp_path: Path) -> None:
    """write then load gives the same key and id; two files giving one id different keys are refused."""
    first, second = SigningKey.generate(), SigningKey.generate()
    _, pub1 = write_key_files(tmp_path / "a.pem", first, created="2026-01-01T00:00:00Z", key_id=OTHER_METHOD)
    _, pub2 = write_key_files(tmp_path / "b.pem", second, created="2026-01-01T00:00:00Z", key_id=OTHER_METHOD)
    assert load_signing_key(tmp_path / "a.pem") == first
    loaded = load_public_key_file(pub1)
    assert (loaded.id, loaded.public_key) == (OTHER_METHOD, first.public_key_bytes)
    assert keyring([loaded])(OTHER_METHOD) == first.public_key_bytes
    with pytest.raises(InvalidInput) as caught:
        keyring([loaded, load_public_key_file(pub2)])
    assert caught.value.reason == "KEY_ID_CONFLICT"
