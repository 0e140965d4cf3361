"""Shared data and helpers for the tests of mmmfed.proofs and mmmfed.did: the published vectors, the
document-test keys and Item, and ``_signed`` (an eddsa-jcs-2022 Data Integrity proof over a document).

Published vectors (in tests/unit/vectors/, each file names its source):

* rfc8032_ed25519.json: RFC 8032 section 7.1, TEST 1, 2, 3 and SHA(abc).
* vc_di_eddsa_jcs_2022.json: W3C Data Integrity EdDSA Cryptosuites v1.0 (Recommendation, 15 May
  2025), Appendix B.3 "Representation: eddsa-jcs-2022", Examples 29-39; and
  github.com/w3c/vc-di-eddsa TestVectors/eddsa-jcs-2022/signedJCS.json.
* ed25519_edge_cases.json: the 12 cases of "Taming the many EdDSAs" (Chalkias, Garillot,
  Nikolaenko, 2020; github.com/novifinancial/ed25519-speccheck cases.txt and results.md) and a
  subset of C2SP/CCTV ed25519/ed25519vectors.json with its flags.
* rfc8785_jcs.json: RFC 8785 Appendix B number samples; cyberphone/json-canonicalization
  testdata (input -> output files, ES6 number sample lines).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mmmfed.proofs import SigningKey, sign_document

VECTORS = Path(__file__).parent / "vectors"


def _load(name: str) -> Any:
    return json.loads((VECTORS / name).read_text(encoding="utf-8"))


RFC8032 = _load("rfc8032_ed25519.json")["vectors"]
W3C = _load("vc_di_eddsa_jcs_2022.json")
EDGE = _load("ed25519_edge_cases.json")
JCS = _load("rfc8785_jcs.json")

# Keys for the document tests: RFC 8032 TEST 1 and TEST 2 seeds.
ALICE = SigningKey.from_seed(bytes.fromhex(RFC8032[0]["secret_key"]))
BRIDGE = SigningKey.from_seed(bytes.fromhex(RFC8032[1]["secret_key"]))
CREATED = "2026-11-25T05:00:00Z"
ITEM = {
    "Header": "MMM-ITM-V2.2",
    "MInstanceID": "a.example",
    "ItemID": "mmm://a.example/items/1",
    "ItemData": {"Size": 1024, "Digest": {"Algorithm": "sha-256", "Value": "ab" * 32}},
    "DescrMetadata": {"Name": "Godette", "Scale": 1.5},
}


def _signed(document: dict[str, Any] | None = None, key: SigningKey = ALICE, **options: Any) -> dict[str, Any]:
    return sign_document(
        ITEM if document is None else document,
        key=key,
        verification_method=key.verification_method,
        created=CREATED,
        **options,
    )
