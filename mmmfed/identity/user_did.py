"""A user's DID under their home M-Instance and the key pair bound to it (issue 17 item 1;
IDIR-101/103/202; FGMV-43 9.4 step 1).

- DID: ``did:web:<m_instance_id>:users:<user id>`` (did:web method section 3.1: ``:`` separates
  path segments), resolved at ``https://<m_instance_id>/users/<user id>/did.json``. The user id is
  the last path segment of the user's Process id (``mmm://a.example/processes/user/<id>``), 1..128
  of ``A-Z a-z 0-9 . _ -``.
- DID document (W3C DID Core 1.0, Multikey as in :mod:`mmmfed.did_document`): one verification
  method ``<did>#key-1`` for the user's Ed25519 key, listed under ``authentication`` (the user
  proves control, as the KB-JWT does) and ``assertionMethod``.
- :class:`UserKey`: the key pair the reference instance holds for the user
  (:meth:`UserKey.generate`), exportable with :func:`mmmfed.keyfile.write_key_files`; or only the
  public key of a key the user brought (:meth:`UserKey.bring_own`), whose private half never
  reaches us. ``jwk`` is what the credential's ``cnf`` carries.

Errors: InvalidInput ``USER_ID_INVALID`` (a user id or Process id we cannot make a DID of),
``BAD_INSTANCE_ID``, ``JWK_INVALID`` / ``DID_KEY_UNSUPPORTED`` for a key that is not Ed25519.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mmmfed.did import DID_KEY_PREFIX, did_key
from mmmfed.did_document import DID_CONTEXT, MULTIKEY_CONTEXT
from mmmfed.errors import InvalidInput
from mmmfed.identity.jose import public_jwk, public_key_from_jwk
from mmmfed.items import check_instance_id
from mmmfed.keyfile import write_key_files
from mmmfed.proofs import SigningKey

USERS_SEGMENT = "users"
KEY_FRAGMENT = "key-1"
_USER_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")


def check_user_id(user_id: str) -> str:
    """``user_id`` if it can be a did:web path segment; InvalidInput ``USER_ID_INVALID`` else."""
    if not isinstance(user_id, str) or not _USER_ID.fullmatch(user_id) or user_id in (".", ".."):
        raise InvalidInput(f"user id {user_id!r} is not 1..128 of A-Z a-z 0-9 . _ -", reason="USER_ID_INVALID")
    return user_id


def user_did(m_instance_id: str, user_id: str) -> str:
    """``did:web:<m_instance_id>:users:<user_id>``."""
    return f"did:web:{check_instance_id(m_instance_id)}:{USERS_SEGMENT}:{check_user_id(user_id)}"


def user_did_of_process(process_id: str) -> str:
    """The DID of the User Process ``mmm://<m_instance_id>/processes/user/<id>``."""
    host, _, path = process_id.removeprefix("mmm://").partition("/")
    if not process_id.startswith("mmm://") or not path.startswith("processes/"):
        raise InvalidInput(f"{process_id!r} is not a Process id (mmm://<host>/processes/...)", reason="USER_ID_INVALID")
    return user_did(host, path.rsplit("/", 1)[-1])


def did_web_url(did: str) -> str:
    """Where ``did`` (``did:web:<host>:users:<id>``) is resolved: ``https://<host>/users/<id>/did.json``."""
    host, *path = did.removeprefix("did:web:").split(":")
    if not did.startswith("did:web:") or not path:
        raise InvalidInput(f"{did!r} is not a user did:web", reason="USER_ID_INVALID")
    return f"https://{check_instance_id(host)}/{'/'.join(path)}/did.json"


MAX_DID_CHARS = 512


def parse_did(did: str) -> tuple[str, str | None]:
    """``(m_instance_id, user id or None)`` of ``did:web:<m_instance_id>`` or
    ``did:web:<m_instance_id>:users:<id>`` (the DIDs RE-5 resolves, IDIR-101/202); InvalidInput
    ``DID_INVALID`` for anything else (at most :data:`MAX_DID_CHARS` characters)."""
    parts = did.split(":") if isinstance(did, str) and len(did) <= MAX_DID_CHARS else []
    try:
        if len(parts) == 3 and parts[:2] == ["did", "web"]:
            return check_instance_id(parts[2]), None
        if len(parts) == 5 and parts[:2] == ["did", "web"] and parts[3] == USERS_SEGMENT:
            return check_instance_id(parts[2]), check_user_id(parts[4])
    except InvalidInput:
        pass
    raise InvalidInput(
        f"{str(did)[:256]!r} is not did:web:<m-instance> nor did:web:<m-instance>:users:<id>", reason="DID_INVALID"
    )


@dataclass(frozen=True)
class UserKey:
    """A user's Ed25519 public key and, when the home holds it for them, the private key."""

    public_key: bytes
    signing_key: SigningKey | None = field(default=None, repr=False, compare=False)

    @classmethod
    def generate(cls) -> UserKey:
        key = SigningKey.generate()
        return cls(key.public_key_bytes, key)

    @classmethod
    def held(cls, key: SigningKey) -> UserKey:
        return cls(key.public_key_bytes, key)

    @classmethod
    def bring_own(cls, jwk: object) -> UserKey:
        """The user's own key, given as an Ed25519 public JWK (the private key stays with them)."""
        return cls(public_key_from_jwk(jwk))

    @property
    def jwk(self) -> dict[str, str]:
        return public_jwk(self.public_key)

    def export(self, private_path: Path, *, did: str, created: str) -> tuple[Path, Path]:
        """Write the held key as a key file pair (``KEY.pem`` 0600 and ``KEY.pub.json`` naming
        ``<did>#key-1``); InvalidInput ``KEY_NOT_HELD`` for a key the user brought."""
        if self.signing_key is None:
            raise InvalidInput("this user brought their own key; the home holds no private key", reason="KEY_NOT_HELD")
        return write_key_files(private_path, self.signing_key, created=created, key_id=f"{did}#{KEY_FRAGMENT}")


def user_did_document(did: str, key: UserKey) -> dict[str, Any]:
    """The DID document of ``did`` with ``key`` as ``#key-1`` (module docstring)."""
    method_id = f"{did}#{KEY_FRAGMENT}"
    method = {
        "id": method_id,
        "type": "Multikey",
        "controller": did,
        "publicKeyMultibase": did_key(key.public_key).removeprefix(DID_KEY_PREFIX),
    }
    return {
        "@context": [DID_CONTEXT, MULTIKEY_CONTEXT],
        "id": did,
        "verificationMethod": [method],
        "authentication": [method_id],
        "assertionMethod": [method_id],
    }
