"""Key files for a standalone Ed25519 signing key: a private PKCS#8 PEM file and a public JSON file.

Format (chosen so that the secret is in a standard format other tools read, e.g. ``openssl pkey``):

* ``KEY.pem``: the private key as unencrypted PKCS#8 PEM (RFC 5958; Ed25519 in PKCS#8 per RFC 8410
  section 7, a PEM ``PRIVATE KEY`` block), mode 0600. It holds no id: the signer's public key
  and did:key follow from it.
* ``KEY.pub.json`` (same name, ``.pem`` replaced by ``.pub.json``): the public key as a verification
  method in the ``Multikey`` shape (W3C Controlled Identifiers 1.0 section 2.2.2; vc-di-eddsa
  section 2.1.1: ``publicKeyMultibase`` = multibase base58btc of ``0xed01`` + the 32-byte key, so
  ``z6Mk...``), for handing to verifiers::

      {"id": "did:key:z6Mk...#z6Mk...", "type": "Multikey", "controller": "did:key:z6Mk...",
       "publicKeyMultibase": "z6Mk...", "didKeyVerificationMethod": "did:key:z6Mk...#z6Mk...",
       "created": "2026-01-01T00:00:00Z"}

  ``id`` is the verification method URL proofs name. It is the key's did:key method unless another
  id was given (e.g. a URL the operator publishes); then ``controller`` is that id up to ``#``.
  ``didKeyVerificationMethod`` always names the did:key method, which verifies with no file at all.

Both files are created exclusively (an existing file is never overwritten). Loading refuses
anything else with :class:`~mmmfed.errors.InvalidInput`, reason ``KEY_FILE_INVALID`` (unreadable,
not PEM, encrypted, not Ed25519, public file not strict JSON or not a matching Multikey) or
``KEY_ID_CONFLICT`` (two public key files give one id different keys); writing over an existing
file raises :class:`~mmmfed.errors.AlreadyExists`, reason ``KEY_FILE_EXISTS``. Messages name the file.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from mmmfed.did import DID_KEY_PREFIX, did_key_verification_method, public_key_from_did_key
from mmmfed.errors import AlreadyExists, InvalidInput
from mmmfed.proofs import SigningKey, resolve_did_key
from mmmfed.strictjson import parse_json

PRIVATE_SUFFIX = ".pem"
PUBLIC_SUFFIX = ".pub.json"
MULTIKEY = "Multikey"
# A PKCS#8 Ed25519 PEM is 119 bytes and a public file about 400; anything near this is not ours.
MAX_KEY_FILE_BYTES = 16 * 1024
KEY_FILE_INVALID = "KEY_FILE_INVALID"


@dataclass(frozen=True)
class PublicKeyFile:
    """A loaded public key file: the verification method ``id`` and its 32-byte Ed25519 key."""

    id: str
    public_key: bytes
    path: Path


def public_key_path(private_path: Path) -> Path:
    """``KEY.pem`` -> ``KEY.pub.json``; a name without ``.pem`` gets ``.pub.json`` appended."""
    stem = private_path.name.removesuffix(PRIVATE_SUFFIX)
    return private_path.with_name(stem + PUBLIC_SUFFIX)


def public_key_document(key: SigningKey, *, created: str, key_id: str | None = None) -> dict[str, str]:
    """The public key file's JSON object (module docstring) for ``key``."""
    did_key_method = key.verification_method
    method_id = key_id or did_key_method
    if method_id.startswith(DID_KEY_PREFIX) and method_id != did_key_method:
        raise InvalidInput(f"id {method_id!r} is a did:key of another key; leave it out", reason=KEY_FILE_INVALID)
    return {
        "id": method_id,
        "type": MULTIKEY,
        "controller": key.did if method_id == did_key_method else method_id.partition("#")[0],
        "publicKeyMultibase": key.did.removeprefix(DID_KEY_PREFIX),
        "didKeyVerificationMethod": did_key_method,
        "created": created,
    }


def write_key_files(
    private_path: Path, key: SigningKey, *, created: str, key_id: str | None = None
) -> tuple[Path, Path]:
    """Write ``key`` as ``private_path`` (PKCS#8 PEM, 0600) and its public key file; return both paths.

    Raises AlreadyExists (``KEY_FILE_EXISTS``) if either file exists (nothing is written then),
    InvalidInput for a did:key ``key_id`` of another key, and OSError if the directory is unusable.
    """
    public_path = public_key_path(private_path)
    public_doc = public_key_document(key, created=created, key_id=key_id)
    for path in (private_path, public_path):
        if path.exists():
            raise AlreadyExists(
                f"{path} exists; choose another --out (key files are never overwritten)", reason="KEY_FILE_EXISTS"
            )
    pem = key.private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    _create(private_path, pem, mode=0o600)
    try:
        _create(public_path, (json.dumps(public_doc, indent=2) + "\n").encode(), mode=0o644)
    except BaseException:
        private_path.unlink()  # do not leave half a key pair behind
        raise
    return private_path, public_path


def _create(path: Path, data: bytes, *, mode: int) -> None:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    except FileExistsError as err:
        raise AlreadyExists(f"{path} exists; key files are never overwritten", reason="KEY_FILE_EXISTS") from err
    os.fchmod(fd, mode)  # exactly ``mode``, whatever the umask (issue 12 item 6)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def _read(path: Path, what: str) -> bytes:
    try:
        with path.open("rb") as fh:
            data = fh.read(MAX_KEY_FILE_BYTES + 1)
    except OSError as err:
        raise InvalidInput(f"cannot read {what} {path}: {err.strerror}", reason=KEY_FILE_INVALID) from err
    if len(data) > MAX_KEY_FILE_BYTES:
        raise InvalidInput(f"{path} is larger than any {what}; check the path", reason=KEY_FILE_INVALID)
    return data


def load_signing_key(path: Path) -> SigningKey:
    """The Ed25519 key in a private key file (unencrypted PEM, as :func:`write_key_files` writes).

    Raises InvalidInput (``KEY_FILE_INVALID``) naming the file and what to pass instead.
    """
    data = _read(path, "private key file")
    try:
        private_key = serialization.load_pem_private_key(data, password=None)
    except TypeError as err:  # cryptography: "Password was not given but private key is encrypted"
        raise InvalidInput(
            f"{path} is an encrypted private key; decrypt it (openssl pkey -in {path.name}) or generate one with "
            "`mmmfed keys generate`",
            reason=KEY_FILE_INVALID,
        ) from err
    except (ValueError, UnsupportedAlgorithm) as err:
        hint = f" (that is a public key file; pass the {PRIVATE_SUFFIX} beside it)" if data.lstrip()[:1] == b"{" else ""
        raise InvalidInput(
            f"{path} is not a PEM private key{hint}; pass the KEY{PRIVATE_SUFFIX} that `mmmfed keys generate` wrote",
            reason=KEY_FILE_INVALID,
        ) from err
    if not isinstance(private_key, Ed25519PrivateKey):
        raise InvalidInput(
            f"{path} holds a {type(private_key).__name__.removeprefix('_')}; mmmfed signs with Ed25519 keys only",
            reason=KEY_FILE_INVALID,
        )
    raw = serialization.Encoding.Raw
    return SigningKey.from_seed(
        private_key.private_bytes(raw, serialization.PrivateFormat.Raw, serialization.NoEncryption())
    )


def load_public_key_file(path: Path) -> PublicKeyFile:
    """The verification method id and key in a public key file (module docstring).

    Checks: strict JSON object, ``type`` ``Multikey``, non-empty string ``id``, an Ed25519
    ``publicKeyMultibase``, and a did:key ``id`` or ``didKeyVerificationMethod`` matching that key.
    Other members are ignored. Raises InvalidInput (``KEY_FILE_INVALID``) naming the file.
    """
    data = _read(path, "public key file")

    def bad(message: str) -> InvalidInput:
        return InvalidInput(f"{path}: {message}", reason=KEY_FILE_INVALID)

    try:
        doc = parse_json(data, max_bytes=MAX_KEY_FILE_BYTES)
    except InvalidInput as err:
        raise bad(
            f"not a public key file ({err.reason}: {err.message}); pass the KEY{PUBLIC_SUFFIX} that "
            "`mmmfed keys generate` wrote"
        ) from err
    if not isinstance(doc, dict) or doc.get("type") != MULTIKEY:
        raise bad(f'not a public key file: expected a JSON object with "type": "{MULTIKEY}"')
    method_id, multibase = doc.get("id"), doc.get("publicKeyMultibase")
    if not isinstance(method_id, str) or not method_id:
        raise bad('"id" (the verification method URL) is missing or not a string')
    try:
        public_key = public_key_from_did_key(DID_KEY_PREFIX + multibase) if isinstance(multibase, str) else b""
    except InvalidInput as err:
        raise bad(f'"publicKeyMultibase" is not an Ed25519 Multikey (z6Mk...): {err.message}') from err
    if not public_key:
        raise bad('"publicKeyMultibase" is missing or not a string')
    did_key_method = did_key_verification_method(public_key)
    for name in ("id", "didKeyVerificationMethod"):
        value = doc.get(name)
        if isinstance(value, str) and value.startswith(DID_KEY_PREFIX) and value != did_key_method:
            raise bad(f'"{name}" is a did:key of another key than "publicKeyMultibase"; the file was altered')
    return PublicKeyFile(id=method_id, public_key=public_key, path=path)


def keyring(public_keys: Iterable[PublicKeyFile]) -> Callable[[str], bytes]:
    """A ``resolve_key`` for :func:`mmmfed.proofs.verify_document`: the files' ids, then did:key.

    An id neither in the files nor a did:key raises KeyError (so the proof is ``KEY_UNRESOLVED``).
    Raises InvalidInput (``KEY_ID_CONFLICT``) at once if two files give one id different keys.
    """
    known: dict[str, PublicKeyFile] = {}
    for entry in public_keys:
        seen = known.setdefault(entry.id, entry)
        if seen.public_key != entry.public_key:
            raise InvalidInput(
                f"{seen.path} and {entry.path} give {entry.id!r} different keys; pass only the right one",
                reason="KEY_ID_CONFLICT",
            )

    def resolve(verification_method: str) -> bytes:
        if verification_method in known:
            return known[verification_method].public_key
        if verification_method.startswith(DID_KEY_PREFIX):
            return resolve_did_key(verification_method)
        raise KeyError(verification_method)

    return resolve
