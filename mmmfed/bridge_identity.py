"""A bridge's identity, proven (issue 12 item 5; FGMV-43 9.5 manifesto V, MBMF virtual bridges).

A bridge signs converted Items with one Ed25519 key kept in its data_dir (``bridge/identity.py``);
its did:key (mmmfed/did.py) names it as a signer. Three things tie that key to the bridge a
gateway trusts:

1. **The certificate binds it.** The bridge's TLS certificate, issued by the bridge's CA, carries
   the did:key as a URI subjectAltName beside its DNS name (``certs.issue_node(...,
   extra_uris=[did])``).
2. **Manifesto V is signed by it.** Each BRIDGE and OFFER_V manifesto carries ``certificate_pem``
   (that certificate) and ``signed_json``: a ``mmmfed/BridgeManifesto/v1`` document holding the
   manifesto (every field but ``signed_json``, as protobuf JSON with proto field names) with an
   eddsa-jcs-2022 proof (mmmfed/proofs/) by the did:key's verification method.
3. **The gateway checks both** (:func:`verify_bridge_manifesto`): the certificate chains to the
   bundle the gateway holds for that bridge, is valid now and is for the bridge's TLS name; it
   carries exactly one did:key URI SAN; the manifesto lists that key and no other; the proof
   verifies with it; the fields outside the signature equal the signed ones. The gateway then
   uses what is signed, and accepts converted Items only with a proof by that key.

Why the certificate travels in the signed manifesto instead of being read off the connection:
grpc python (grpc.aio too) gives a client no access to the server's certificate (a server has
``context.auth_context()``, a client call nothing like it), and a second TLS connection made to
probe it would check another connection than the one the RPCs use. The channel to the bridge is
already authenticated to that bridge's bundle and TLS name; the certificate in the manifesto is
the CA's own statement "this TLS name holds this did:key", which anyone holding the bundle can
check whoever relays it. That lets the destination gateway, which never talks to the bridge,
check the offer manifesto V the origin relays to it (9.5 steps 5-6). Replaying a bridge's signed
manifesto gains nothing: converted Items still need a proof by the bridge's key.

Refusals raise :class:`BridgeIdentityRefused` (gRPC PERMISSION_DENIED), reasons
``BRIDGE_MANIFESTO_SIGNATURE_INVALID`` (no, malformed or failing signature, or fields changed
outside it), ``BRIDGE_CERTIFICATE_INVALID`` (not PEM, not chaining to the bundle, expired, not for
the bridge's TLS name) and ``BRIDGE_IDENTITY_MISMATCH`` (another issuer, no did:key SAN, several,
or one that is not the signer's).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.x509.verification import PolicyBuilder, Store, VerificationError
from google.protobuf.json_format import MessageToDict, ParseDict, ParseError

from mmmfed.api.v1 import manifesto_pb2 as mpb
from mmmfed.did import DID_KEY_PREFIX, did_key_verification_method, multibase_encode, public_key_from_did_key
from mmmfed.errors import MmmfedError, PermissionDenied
from mmmfed.proofs import SigningKey, sign_document, verify_document
from mmmfed.strictjson import parse_json

MANIFESTO_DOC_TYPE = "mmmfed/BridgeManifesto/v1"
SIGNATURE_INVALID = "BRIDGE_MANIFESTO_SIGNATURE_INVALID"
CERTIFICATE_INVALID = "BRIDGE_CERTIFICATE_INVALID"
IDENTITY_MISMATCH = "BRIDGE_IDENTITY_MISMATCH"
MAX_CERTIFICATE_PEM_CHARS = 64 * 1024  # a leaf and a few intermediates are a few KiB
MAX_SIGNED_JSON_BYTES = 1024 * 1024


class BridgeIdentityRefused(PermissionDenied):
    """A bridge's manifesto V or identity that does not hold (gRPC PERMISSION_DENIED); reasons in
    the module docstring."""

    reason = IDENTITY_MISMATCH


@dataclass(frozen=True)
class VerifiedBridge:
    """A manifesto V that verified: the signed manifesto (``signed_json`` kept), the bridge's
    did:key, its verification method and 32-byte Ed25519 key, and its certificate."""

    manifesto: mpb.Manifesto
    did: str
    verification_method: str
    public_key: bytes
    certificate: x509.Certificate

    @property
    def keys(self) -> dict[str, bytes]:
        """verification method -> public key: the one key converted Items may be signed with."""
        return {self.verification_method: self.public_key}


def verification_key(key: SigningKey) -> mpb.VerificationKey:
    """The did:key entry of ``key`` as manifesto V lists it (key_id is the did)."""
    return mpb.VerificationKey(
        key_id=key.did,
        verification_method=key.verification_method,
        public_key_multibase=multibase_encode(key.public_key_bytes),
    )


def certificate_did_keys(cert: x509.Certificate) -> list[str]:
    """Every ``did:key:`` URI subjectAltName of ``cert``, in order (empty without SANs)."""
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    return [u for u in san.get_values_for_type(x509.UniformResourceIdentifier) if u.startswith(DID_KEY_PREFIX)]


def _unsigned(manifesto: mpb.Manifesto) -> mpb.Manifesto:
    out = mpb.Manifesto()
    out.CopyFrom(manifesto)
    out.ClearField("signed_json")
    return out


def _document(manifesto: mpb.Manifesto) -> dict[str, Any]:
    body = MessageToDict(_unsigned(manifesto), preserving_proto_field_name=True)
    return {"Type": MANIFESTO_DOC_TYPE, "Manifesto": body}


def sign_bridge_manifesto(
    manifesto: mpb.Manifesto, *, key: SigningKey, certificate_pem: str, created: str
) -> mpb.Manifesto:
    """A copy of ``manifesto`` (BRIDGE or OFFER_V) listing ``key`` as its only key, carrying
    ``certificate_pem`` and ``signed_json`` signed by ``key`` (module docstring, step 2).
    ``created``: the proof's dateTimeStamp. Raises InvalidInput from :func:`sign_document`."""
    out = _unsigned(manifesto)
    out.ClearField("keys")
    out.keys.append(verification_key(key))
    out.certificate_pem = certificate_pem
    doc = sign_document(_document(out), key=key, verification_method=key.verification_method, created=created)
    out.signed_json = json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode()
    return out


def verify_certificate(chain_pem: str, *, bundle_pem: bytes, tls_name: str, now: dt.datetime) -> x509.Certificate:
    """The leaf of ``chain_pem`` (PEM, leaf first) once it chains to a CA of ``bundle_pem``, is
    valid at ``now`` and is a TLS server certificate for DNS name ``tls_name`` (RFC 5280 path
    validation, cryptography's WebPKI-profile verifier). BridgeIdentityRefused
    ``BRIDGE_CERTIFICATE_INVALID`` otherwise."""

    def invalid(message: str) -> BridgeIdentityRefused:
        return BridgeIdentityRefused(f"bridge certificate: {message}", reason=CERTIFICATE_INVALID)

    if not chain_pem or len(chain_pem) > MAX_CERTIFICATE_PEM_CHARS:
        raise invalid(f"missing or longer than {MAX_CERTIFICATE_PEM_CHARS} characters")
    try:
        chain = x509.load_pem_x509_certificates(chain_pem.encode())
        roots = x509.load_pem_x509_certificates(bundle_pem)
    except ValueError as err:
        raise invalid(f"not PEM certificates: {err}") from err
    verifier = PolicyBuilder().store(Store(roots)).time(now).build_server_verifier(x509.DNSName(tls_name))
    try:
        verifier.verify(chain[0], chain[1:])
    except VerificationError as err:
        raise invalid(f"not a valid certificate for {tls_name} from this bridge's CA: {err}") from err
    return chain[0]


def verify_bridge_manifesto(
    manifesto: mpb.Manifesto,
    *,
    bridge_id: str,
    tls_name: str,
    bundle_pem: bytes,
    now: dt.datetime | None = None,
) -> VerifiedBridge:
    """Check a bridge's manifesto V (module docstring, step 3) against the bridge the gateway
    knows: its id (``issuer_id``), the TLS name of its certificate and its CA ``bundle_pem``.

    Returns the signed manifesto with the bridge's key. Raises BridgeIdentityRefused with
    ``BRIDGE_MANIFESTO_SIGNATURE_INVALID``, ``BRIDGE_CERTIFICATE_INVALID`` or
    ``BRIDGE_IDENTITY_MISMATCH``; nothing the bridge sent makes it raise anything else.
    """

    def unsigned(message: str) -> BridgeIdentityRefused:
        return BridgeIdentityRefused(f"manifesto V of {bridge_id}: {message}", reason=SIGNATURE_INVALID)

    def mismatch(message: str) -> BridgeIdentityRefused:
        return BridgeIdentityRefused(f"manifesto V of {bridge_id}: {message}", reason=IDENTITY_MISMATCH)

    if not manifesto.signed_json:
        raise unsigned("it is not signed (no signed_json); the bridge must sign it with its did:key")
    try:
        doc = parse_json(manifesto.signed_json, max_bytes=MAX_SIGNED_JSON_BYTES)
    except MmmfedError as err:
        raise unsigned(f"signed_json is not JSON ({err.reason}: {err.message})") from err
    if (
        not isinstance(doc, Mapping)
        or doc.get("Type") != MANIFESTO_DOC_TYPE
        or not isinstance(doc.get("Manifesto"), dict)
    ):
        raise unsigned(f"signed_json is not a {MANIFESTO_DOC_TYPE} document")
    try:
        signed = ParseDict(doc["Manifesto"], mpb.Manifesto())
    except (ParseError, ValueError, TypeError) as err:
        raise unsigned(f"the signed manifesto is malformed: {err}") from err
    if signed != _unsigned(manifesto):
        raise unsigned("fields outside its signature differ from the signed ones")
    if signed.issuer_id != bridge_id:
        raise mismatch(f"it is issued by {signed.issuer_id!r}")
    cert = verify_certificate(
        signed.certificate_pem, bundle_pem=bundle_pem, tls_name=tls_name, now=now or dt.datetime.now(dt.UTC)
    )
    dids = certificate_did_keys(cert)
    if len(dids) != 1:
        found = "no did:key" if not dids else f"{len(dids)} did:key"
        raise mismatch(f"its certificate carries {found} URI subjectAltName; it must bind exactly the bridge's key")
    try:
        public_key = public_key_from_did_key(dids[0])
    except MmmfedError as err:
        raise mismatch(f"the certificate's {dids[0]!r} is not an Ed25519 did:key") from err
    method = did_key_verification_method(public_key)
    listed = [k.verification_method for k in signed.keys]
    if listed != [method]:
        raise mismatch(f"it lists keys {listed}, but its certificate binds {dids[0]}")
    proofs = doc.get("proof")
    if not isinstance(proofs, Mapping) or proofs.get("verificationMethod") != method:
        raise mismatch(f"it must carry one proof by {method}, the key its certificate binds")
    result = verify_document(
        doc, resolve_key={method: public_key}.__getitem__, expected_proof_purpose="assertionMethod"
    )
    if not result.verified:
        raise unsigned(f"its proof does not verify ({result.reason})")
    signed.signed_json = manifesto.signed_json
    return VerifiedBridge(signed, dids[0], method, public_key, cert)
