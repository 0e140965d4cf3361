"""Ed25519 for eddsa-jcs-2022 proofs: strict verification (RFC 8032 5.1.7, 5.1.3; the checks are
described in :mod:`mmmfed.proofs`) and signing keys (RFC 8032 5.1.6; did:key identifiers).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from nacl.bindings import crypto_sign_open
from nacl.exceptions import BadSignatureError

from mmmfed.did import did_key, did_key_verification_method, public_key_from_verification_method
from mmmfed.errors import InvalidInput

# RFC 8032 section 5.1: field prime p and group order L.
P = 2**255 - 19
L = 2**252 + 27742317777372353535851937790883648493
_Y_MASK = (1 << 255) - 1
# y of an order-8 point; the other order-8 y is P - it (C2SP/CCTV ed25519/README.md lists both
# encodings: 26e8958f...fc05 and c7176a70...037a).
_ORDER_8_Y = int.from_bytes(bytes.fromhex("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05"), "little")
SMALL_ORDER_Y = frozenset({0, 1, P - 1, _ORDER_8_Y, P - _ORDER_8_Y})
_BYTES = (bytes, bytearray, memoryview)


def _strict_point(encoding: bytes) -> bool:
    """True if a 32-byte point encoding is canonical (y < p) and not of a small-order point."""
    y = int.from_bytes(encoding, "little") & _Y_MASK
    return y < P and y not in SMALL_ORDER_Y


def ed25519_verify(public_key: bytes, message: bytes, signature: bytes) -> bool:
    """Strict Ed25519 verification (RFC 8032 5.1.7 plus the checks in the module docstring).

    Args:
        public_key: 32-byte encoded A. message: any bytes. signature: 64 bytes, R || S.

    Returns False, never raises, for: arguments that are not bytes-like, wrong lengths, S >= L,
    a non-canonical (y >= p) or small-order A or R, and any signature libsodium rejects.
    """
    if not (isinstance(public_key, _BYTES) and isinstance(message, _BYTES) and isinstance(signature, _BYTES)):
        return False
    public_key, signature = bytes(public_key), bytes(signature)  # bytes(b) is b itself: no copy
    if len(public_key) != 32 or len(signature) != 64:
        return False
    if int.from_bytes(signature[32:], "little") >= L:
        return False
    if not (_strict_point(public_key) and _strict_point(signature[:32])):
        return False
    try:  # libsodium: ~39 us against OpenSSL's ~62 us here, and as strict (it also refuses these)
        crypto_sign_open(signature + bytes(message), public_key)
    except (BadSignatureError, ValueError, TypeError):
        return False
    return True


@dataclass(frozen=True)
class SigningKey:
    """An Ed25519 key pair. ``public_key_bytes`` is the 32-byte A; equality compares it only."""

    private_key: Ed25519PrivateKey = field(repr=False, compare=False)
    public_key_bytes: bytes

    @classmethod
    def generate(cls) -> SigningKey:
        """A new random key (OpenSSL's CSPRNG)."""
        return cls._of(Ed25519PrivateKey.generate())

    @classmethod
    def from_seed(cls, seed: bytes) -> SigningKey:
        """The key of a 32-byte RFC 8032 private key (seed); InvalidInput ``KEY_MALFORMED`` else."""
        if not isinstance(seed, bytes | bytearray) or len(seed) != 32:
            raise InvalidInput("an Ed25519 private key (seed) is 32 bytes", reason="KEY_MALFORMED")
        return cls._of(Ed25519PrivateKey.from_private_bytes(bytes(seed)))

    @classmethod
    def _of(cls, private_key: Ed25519PrivateKey) -> SigningKey:
        raw = serialization.Encoding.Raw
        return cls(private_key, private_key.public_key().public_bytes(raw, serialization.PublicFormat.Raw))

    @property
    def seed(self) -> bytes:
        """The 32-byte private key (seed). Secret."""
        raw = serialization.Encoding.Raw
        return self.private_key.private_bytes(raw, serialization.PrivateFormat.Raw, serialization.NoEncryption())

    @property
    def did(self) -> str:
        """``did:key:z6Mk...`` of the public key."""
        return did_key(self.public_key_bytes)

    @property
    def verification_method(self) -> str:
        """``did:key:z6Mk...#z6Mk...``: the verificationMethod to put in proofs."""
        return did_key_verification_method(self.public_key_bytes)

    def sign(self, message: bytes) -> bytes:
        """64-byte Ed25519 signature of ``message`` (RFC 8032 5.1.6, deterministic)."""
        return self.private_key.sign(message)


def generate_key() -> tuple[bytes, bytes]:
    """A new random key pair as ``(seed, public_key)``, 32 bytes each."""
    key = SigningKey.generate()
    return key.seed, key.public_key_bytes


def resolve_did_key(verification_method: str) -> bytes:
    """Public key of a ``did:key:z...#z...`` verification method; for ``resolve_key``.

    Raises InvalidInput (``DID_KEY_MALFORMED`` / ``DID_KEY_UNSUPPORTED``) otherwise.
    """
    return public_key_from_verification_method(verification_method)
