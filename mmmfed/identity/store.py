"""The home M-Instance's identity files: each user's held key and current credential, and the
Token Status List with its next free index (issue 17 item 1; FGMV-43 9.4 step 1).

Layout under ``<gateway data_dir>/identity/``:

- ``status.json``: ``{"uri": ..., "bits": 1, "lst": ..., "next_idx": n}`` (the list as
  :meth:`StatusList.to_json` writes it). Indexes are handed out in order; the list is
  :data:`~mmmfed.identity.status_list.DEFAULT_SIZE` long, and a full list refuses
  (``STATUS_LIST_FULL``).
- ``users/<user id>/key.pem`` (0600) and ``key.pub.json``: the key held for the user
  (:func:`mmmfed.keyfile.write_key_files`), made at the first issue; or
  ``users/<user id>/holder.jwk.json``: the public JWK of a key the user brought (the private key
  never comes here);
- ``users/<user id>/credential.sd-jwt`` (0600): the last credential issued, with every Disclosure
  (so as secret as the profile it holds);
- ``users/<user id>/links.json`` (0600): the platforms the identity is linked to, the claims
  disclosed to each (its consented scope), the profile version each holds and the digest of
  the credential it holds (:func:`credential_digest`);
- ``users/<user id>/sync.json`` (0600): profile versions and the changes offered from platforms
  (:mod:`mmmfed.identity.sync_state`, IDSF);
- ``users/<user id>/reputation.jwt`` (0600): the user's current reputation credential
  (:mod:`mmmfed.identity.reputation`), embedded in the next identity credential issued.

Writes go through a temporary file and ``os.replace``; one CLI process at a time is assumed (as
for ``keys.json``). Errors: InvalidInput ``USER_ID_INVALID``, NotFound ``CREDENTIAL_UNKNOWN`` and
``USER_KEY_NOT_HELD``, FailedPrecondition ``STATUS_LIST_FULL``.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from mmmfed.errors import FailedPrecondition, NotFound
from mmmfed.identity.sdjwt import SdJwt, parse_disclosure, parse_sd_jwt
from mmmfed.identity.status_list import DEFAULT_SIZE, StatusList, StatusReference
from mmmfed.identity.sync_state import SyncState
from mmmfed.identity.user_did import UserKey, check_user_id
from mmmfed.items import check_instance_id
from mmmfed.keyfile import load_signing_key
from mmmfed.proofs import SigningKey

STATUS_PATH = "/identity/status/1"


def credential_digest(credential: SdJwt) -> str:
    """SHA-256 hex of the credential's issuer-signed JWT (which fixes its Disclosures by their
    digests): a link records the one its platform holds, so a credential re-issued with the same
    claims (another user key, a new validity or status index) is still pushed (IDSF)."""
    return hashlib.sha256(credential.issuer_jwt.encode()).hexdigest()


def _write(path: Path, data: str, *, mode: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    os.fchmod(fd, mode)
    with os.fdopen(fd, "w") as fh:
        fh.write(data)
    os.replace(tmp, path)


class IdentityStore:
    """The identity files of ``m_instance_id`` in ``directory`` (module docstring)."""

    def __init__(self, directory: Path, m_instance_id: str) -> None:
        self.directory = directory
        self.m_instance_id = check_instance_id(m_instance_id)
        self.status_uri = f"https://{m_instance_id}{STATUS_PATH}"

    # -- the status list --------------------------------------------------------------------
    def _status_file(self) -> Path:
        return self.directory / "status.json"

    def status_list(self) -> tuple[StatusList, int]:
        """The list and its next free index (an empty list of DEFAULT_SIZE if none yet)."""
        try:
            raw = json.loads(self._status_file().read_text())
        except FileNotFoundError:
            return StatusList(DEFAULT_SIZE), 0
        return StatusList.from_json(raw), int(raw["next_idx"])

    def _save_status(self, status: StatusList, next_idx: int) -> None:
        doc = {"uri": self.status_uri, **status.to_json(), "next_idx": next_idx}
        _write(self._status_file(), json.dumps(doc, indent=2) + "\n", mode=0o644)

    def allocate(self) -> StatusReference:
        """The next free status index; FailedPrecondition ``STATUS_LIST_FULL`` when there is none."""
        status, next_idx = self.status_list()
        if next_idx >= status.size:
            raise FailedPrecondition(f"the status list {self.status_uri} is full", reason="STATUS_LIST_FULL")
        self._save_status(status, next_idx + 1)
        return StatusReference(next_idx, self.status_uri)

    def revoke(self, idx: int) -> None:
        status, next_idx = self.status_list()
        status.revoke(idx)
        self._save_status(status, next_idx)

    # -- users ------------------------------------------------------------------------------
    def _user_dir(self, user_id: str) -> Path:
        return self.directory / "users" / check_user_id(user_id)

    def user_key(self, user_id: str, *, did: str, created: str) -> UserKey:
        """The user's key: the public key they brought (``bring_own_key``), else the key held for
        them, made (and written as key files) on first use."""
        own = self._user_dir(user_id) / "holder.jwk.json"
        if own.exists():
            return UserKey.bring_own(json.loads(own.read_text()))
        path = self._user_dir(user_id) / "key.pem"
        if path.exists():
            return UserKey.held(load_signing_key(path))
        key = UserKey.generate()
        path.parent.mkdir(parents=True, exist_ok=True)
        key.export(path, did=did, created=created)
        return key

    def bring_own_key(self, user_id: str, key: UserKey) -> None:
        """Bind ``user_id``'s next credentials to the public ``key`` they brought; a key held for
        them before stays on disk but is no longer used."""
        _write(self._user_dir(user_id) / "holder.jwk.json", json.dumps(key.jwk) + "\n", mode=0o644)

    def holds_key(self, user_id: str) -> bool:
        """True if the home holds ``user_id``'s private key (they did not bring their own)."""
        user_dir = self._user_dir(user_id)
        return (user_dir / "key.pem").exists() and not (user_dir / "holder.jwk.json").exists()

    def public_key(self, user_id: str) -> UserKey | None:
        """The user's current public key (the one they brought, else the one held for them), or
        None if the user has none here; never makes a key (RE-5 resolution reads it, IDIR-202)."""
        user_dir = self._user_dir(user_id)
        own = user_dir / "holder.jwk.json"
        if own.exists():
            return UserKey.bring_own(json.loads(own.read_text()))
        if (user_dir / "key.pem").exists():
            return UserKey(load_signing_key(user_dir / "key.pem").public_key_bytes)
        return None

    def held_key(self, user_id: str) -> SigningKey:
        """The private key held for ``user_id``; NotFound ``USER_KEY_NOT_HELD`` if the user brought
        their own key or none is held."""
        if not self.holds_key(user_id):
            raise NotFound(
                f"no key is held for {user_id} here (they brought their own, or have no credential): "
                "pass the user's private key file with --key",
                reason="USER_KEY_NOT_HELD",
            )
        return load_signing_key(self._user_dir(user_id) / "key.pem")

    def save_credential(self, user_id: str, credential: SdJwt) -> Path:
        path = self._user_dir(user_id) / "credential.sd-jwt"
        _write(path, credential.serialize() + "\n", mode=0o600)
        return path

    def credential(self, user_id: str) -> SdJwt:
        """The last credential issued to ``user_id``; NotFound ``CREDENTIAL_UNKNOWN`` if none."""
        try:
            return parse_sd_jwt((self._user_dir(user_id) / "credential.sd-jwt").read_text().strip())
        except FileNotFoundError as err:
            raise NotFound(
                f"no credential issued to {user_id}; run `mmmfed identity issue` first", reason="CREDENTIAL_UNKNOWN"
            ) from err

    def save_reputation(self, user_id: str, token: str) -> Path:
        """Keep ``token`` as the user's current reputation credential; the path written."""
        path = self._user_dir(user_id) / "reputation.jwt"
        _write(path, token + "\n", mode=0o600)
        return path

    def reputation(self, user_id: str) -> str | None:
        """The user's current reputation credential, or None if none was issued or kept."""
        try:
            return (self._user_dir(user_id) / "reputation.jwt").read_text().strip() or None
        except FileNotFoundError:
            return None

    # -- links to peers and receipts of deletion (issue 17 items 2 and 5; IDIR-204) -------------
    def _links_file(self, user_id: str) -> Path:
        return self._user_dir(user_id) / "links.json"

    def links(self, user_id: str) -> dict[str, dict[str, Any]]:
        """peer M-Instance id -> ``{"process_id", "disclosed": [names], "linked_at_s"}`` for every
        peer the user's identity is linked to now (empty if none)."""
        try:
            raw = json.loads(self._links_file(user_id).read_text())
        except FileNotFoundError:
            return {}
        return {str(k): dict(v) for k, v in raw.items()}

    def save_link(
        self,
        user_id: str,
        peer: str,
        *,
        process_id: str,
        disclosed: list[str],
        linked_at_s: int,
        version: int = 0,
        credential: str = "",
    ) -> None:
        """Record that ``peer`` linked the user's identity to ``process_id`` with ``disclosed`` (the
        consented scope there), holding profile ``version`` of the credential whose
        :func:`credential_digest` is ``credential`` (IDSF)."""
        links = self.links(user_id)
        links[peer] = {
            "process_id": process_id,
            "disclosed": sorted(disclosed),
            "linked_at_s": linked_at_s,
            "version": version,
        }
        if credential:
            links[peer]["credential"] = credential
        _write(self._links_file(user_id), json.dumps(links, indent=2, sort_keys=True) + "\n", mode=0o600)

    def set_link_version(self, user_id: str, peer: str, version: int, *, credential: str = "") -> None:
        """Record that ``peer`` holds profile ``version`` now, of the credential whose
        :func:`credential_digest` is ``credential`` (after a push, IDSF); nothing if the link is gone."""
        links = self.links(user_id)
        if peer in links:
            links[peer]["version"] = version
            if credential:
                links[peer]["credential"] = credential
            _write(self._links_file(user_id), json.dumps(links, indent=2, sort_keys=True) + "\n", mode=0o600)

    def sync_file(self, user_id: str) -> Path:
        """``users/<id>/sync.json``: the user's profile versions and offered changes
        (:mod:`mmmfed.identity.sync_state`)."""
        return self._user_dir(user_id) / "sync.json"

    def sync_state(self, user_id: str) -> SyncState:
        """The user's synchronisation state (version 0 before the first observation)."""
        return SyncState.load(self.sync_file(user_id))

    def save_sync_state(self, user_id: str, state: SyncState) -> None:
        _write(self.sync_file(user_id), state.to_text(), mode=0o600)

    def observe_sync(self, user_id: str) -> SyncState:
        """The user's synchronisation state after observing the claims of their current
        credential (a new version if they changed, IDSF); NotFound ``CREDENTIAL_UNKNOWN``."""
        claims = {d.name: d.value for d in map(parse_disclosure, self.credential(user_id).disclosures)}
        state = self.sync_state(user_id)
        if state.observe(claims):
            self.save_sync_state(user_id, state)
        return state

    def drop_link(self, user_id: str, peer: str) -> None:
        links = self.links(user_id)
        if links.pop(peer, None) is not None:
            _write(self._links_file(user_id), json.dumps(links, indent=2, sort_keys=True) + "\n", mode=0o600)

    def save_receipt(self, user_id: str, peer: str, receipt_jws: str, *, issued_at_s: int) -> Path:
        """Keep a peer's receipt of deletion (a compact JWS, verified by the caller) as
        ``users/<id>/receipts/<peer>-<iat>.jws``; returns its path."""
        path = self._user_dir(user_id) / "receipts" / f"{check_instance_id(peer)}-{issued_at_s}.jws"
        _write(path, receipt_jws + "\n", mode=0o644)
        return path

    def receipts(self, user_id: str) -> list[Path]:
        """The receipts of deletion kept for ``user_id``, oldest first by name."""
        folder = self._user_dir(user_id) / "receipts"
        return sorted(folder.glob("*.jws")) if folder.is_dir() else []
