"""did:key for Ed25519, and the multibase base58btc encoding it and Data Integrity proofs use.

Pure functions over bytes and strings; nothing here touches the network.

Shapes:

* ``public_key``: the 32-byte Ed25519 public key encoding of RFC 8032 section 5.1.5.
* ``did:key:z6Mk...``: ``"did:key:"`` + multibase(base58btc, ``0xed 0x01`` + ``public_key``). The two
  bytes are the unsigned-varint multicodec header ``ed25519-pub`` (0xed); see the did:key method
  (W3C CCG, https://w3c-ccg.github.io/did-method-key/, "Format") and W3C vc-di-eddsa section 2.1.1
  "Multikey" ("the two-byte prefix 0xed01 followed by the 32-byte public key data").
* verification method: ``did:key:<msid>#<msid>``, the fragment repeating the method-specific id
  (did:key method, "Document Creation Algorithm"), e.g. as in vc-di-eddsa Appendix B.3.

Multibase (draft-multiformats-multibase; W3C Controlled Identifiers 1.0 section 2.4 "Multibase")
prefixes base58btc text with ``z``. base58btc uses the Bitcoin alphabet (draft-msporny-base58-03
section 2): digits and letters without ``0``, ``O``, ``I`` and ``l``; each leading zero byte is
written as ``1``. Decoding is strict: an empty payload, a character outside the alphabet or a
missing ``z`` is refused, so each byte string has exactly one accepted text form.

Errors: :class:`~mmmfed.errors.InvalidInput` with reason ``MULTIBASE_MALFORMED`` (bad base58btc
text), ``DID_KEY_MALFORMED`` (not a ``did:key:z...`` string, or a verification method whose
fragment is not the key's id) or ``DID_KEY_UNSUPPORTED`` (a did:key of another key type, or of the
wrong length).
"""

from __future__ import annotations

import operator

from mmmfed.errors import InvalidInput

# Bitcoin base58 alphabet (draft-msporny-base58-03 section 2; Multibase "base58btc").
BASE58BTC_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_B58_INDEX = {c: i for i, c in enumerate(BASE58BTC_ALPHABET)}
MULTIBASE_BASE58BTC = "z"
# Multicodec "ed25519-pub" (0xed) as an unsigned varint: 0xed 0x01.
ED25519_PUB_MULTICODEC = b"\xed\x01"
DID_KEY_PREFIX = "did:key:"
# base58 decoding is quadratic in the length; nothing this module reads is longer than ~100
# characters (a 64-byte signature is 88), so refuse long input before doing any arithmetic.
MAX_MULTIBASE_CHARS = 512


# Digits are converted _B58_CHUNK at a time: one big-integer division per chunk instead of per
# digit, and the chunk's digits with machine-size integers (a 64-byte signature: 9 big divisions,
# not 88; encoding it went from ~55 us to ~12 us).
_B58_CHUNK = 10
_B58_CHUNK_BASE = 58**_B58_CHUNK
_B58_PAIRS = [a + b for a in BASE58BTC_ALPHABET for b in BASE58BTC_ALPHABET]
# base58btc_decode's fast path: a bytes.translate table (an alphabet character's byte -> its
# digit, any other byte -> 0xFF) and 58**k for each digit position k it decodes.
_B58_INVALID = 0xFF
_B58_DIGITS = bytes(_B58_INDEX.get(chr(b), _B58_INVALID) for b in range(256))
_B58_FAST_CHARS = 128
_B58_POWERS = tuple(58**k for k in range(_B58_FAST_CHARS))


def base58btc_encode(data: bytes) -> str:
    """base58btc text of ``data`` (no multibase prefix); ``b""`` gives ``""``."""
    zeros = len(data) - len(data.lstrip(b"\x00"))
    n = int.from_bytes(data, "big")
    chunks: list[str] = []
    while n:
        n, chunk = divmod(n, _B58_CHUNK_BASE)
        pairs = []
        for _ in range(_B58_CHUNK // 2):
            chunk, pair = divmod(chunk, 58 * 58)
            pairs.append(_B58_PAIRS[pair])
        chunks.append("".join(reversed(pairs)))
    return "1" * zeros + "".join(reversed(chunks)).lstrip("1")


def base58btc_decode(text: str, *, max_chars: int = MAX_MULTIBASE_CHARS) -> bytes:
    """Bytes of base58btc ``text`` (no multibase prefix).

    Raises InvalidInput (``MULTIBASE_MALFORMED``) for a character outside the alphabet or text
    longer than ``max_chars``.

    Text of up to :data:`_B58_FAST_CHARS` characters (signatures: 88, did:key ids: 48) is decoded
    without bytecode per digit: one ``bytes.translate`` to digit values, then the sum of each
    digit times its power of 58 (``sum(map(operator.mul, ...))``), ~9 us -> ~6 us for a 64-byte
    signature, which every proof a gateway verifies carries. Longer text takes the chunked loop.
    """
    if len(text) > max_chars:
        raise InvalidInput(f"base58btc text longer than {max_chars} characters", reason="MULTIBASE_MALFORMED")
    zeros = len(text) - len(text.lstrip("1"))
    if len(text) <= _B58_FAST_CHARS and text.isascii():
        digits = text.encode("ascii").translate(_B58_DIGITS)
        if _B58_INVALID not in digits:  # else the loop below names the first bad character
            n = sum(map(operator.mul, digits[::-1], _B58_POWERS))
            return b"\x00" * zeros + (n.to_bytes((n.bit_length() + 7) // 8, "big") if n else b"")
    n = 0
    for start in range(0, len(text), _B58_CHUNK):
        part = text[start : start + _B58_CHUNK]
        chunk = 0
        for c in part:
            digit = _B58_INDEX.get(c)
            if digit is None:
                raise InvalidInput(f"{c!r} is not a base58btc character", reason="MULTIBASE_MALFORMED")
            chunk = chunk * 58 + digit
        n = n * 58 ** len(part) + chunk
    body = n.to_bytes((n.bit_length() + 7) // 8, "big") if n else b""
    return b"\x00" * zeros + body


def multibase_encode(data: bytes) -> str:
    """Multibase base58btc text: ``"z"`` + base58btc(``data``)."""
    return MULTIBASE_BASE58BTC + base58btc_encode(data)


def multibase_decode(text: str, *, max_chars: int = MAX_MULTIBASE_CHARS) -> bytes:
    """Bytes of multibase base58btc ``text``; InvalidInput (``MULTIBASE_MALFORMED``) if it does
    not start with ``z``, has nothing after it, or is not base58btc."""
    if not isinstance(text, str) or not text.startswith(MULTIBASE_BASE58BTC) or len(text) < 2:
        raise InvalidInput("not multibase base58btc text ('z' followed by base58btc)", reason="MULTIBASE_MALFORMED")
    return base58btc_decode(text[1:], max_chars=max_chars)


def did_key(public_key: bytes) -> str:
    """The did:key DID of a 32-byte Ed25519 public key, ``did:key:z6Mk...``.

    Raises InvalidInput (``DID_KEY_UNSUPPORTED``) if ``public_key`` is not 32 bytes.
    """
    if not isinstance(public_key, bytes | bytearray) or len(public_key) != 32:
        raise InvalidInput("an Ed25519 public key is 32 bytes", reason="DID_KEY_UNSUPPORTED")
    return DID_KEY_PREFIX + multibase_encode(ED25519_PUB_MULTICODEC + bytes(public_key))


def public_key_from_did_key(did: str) -> bytes:
    """The 32-byte Ed25519 public key inside ``did:key:z6Mk...`` (no fragment).

    Raises InvalidInput: ``DID_KEY_MALFORMED`` if ``did`` is not ``did:key:`` + multibase
    base58btc, ``DID_KEY_UNSUPPORTED`` if the multicodec is not ``ed25519-pub`` or the key is not
    32 bytes (so, as vc-di-eddsa section 2.1.1 asks, a private-key header such as 0x1300 is an
    error).
    """
    if not isinstance(did, str) or not did.startswith(DID_KEY_PREFIX + MULTIBASE_BASE58BTC):
        raise InvalidInput("not a did:key DID ('did:key:z...')", reason="DID_KEY_MALFORMED")
    try:
        raw = multibase_decode(did.removeprefix(DID_KEY_PREFIX))
    except InvalidInput as err:
        raise InvalidInput(f"did:key is not base58btc: {err.message}", reason="DID_KEY_MALFORMED") from err
    if not raw.startswith(ED25519_PUB_MULTICODEC) or len(raw) != 2 + 32:
        raise InvalidInput(
            "did:key is not an Ed25519 public key (multicodec 0xed01 + 32 bytes)", reason="DID_KEY_UNSUPPORTED"
        )
    return raw[2:]


def did_key_verification_method(public_key: bytes) -> str:
    """The verification method id of a did:key: ``did:key:z6Mk...#z6Mk...``."""
    did = did_key(public_key)
    return f"{did}#{did.removeprefix(DID_KEY_PREFIX)}"


def public_key_from_verification_method(verification_method: str) -> bytes:
    """The Ed25519 public key a did:key verification method names.

    Accepts ``did:key:<msid>#<msid>`` (the fragment must repeat the method-specific id) or the bare
    DID ``did:key:<msid>``. Raises InvalidInput as :func:`public_key_from_did_key` does, and
    ``DID_KEY_MALFORMED`` for any other fragment.
    """
    if not isinstance(verification_method, str):
        raise InvalidInput("a verification method is a string", reason="DID_KEY_MALFORMED")
    did, hash_sign, fragment = verification_method.partition("#")
    public_key = public_key_from_did_key(did)
    if hash_sign and fragment != did.removeprefix(DID_KEY_PREFIX):
        raise InvalidInput(
            "a did:key verification method's fragment must repeat the key id", reason="DID_KEY_MALFORMED"
        )
    return public_key
