"""Interoperability of mmmfed's eddsa-jcs-2022 proofs with an independent implementation ("Federated
trust", item 9): ``eddsa_jcs_2022.mjs`` beside this file runs in Node on npm ``canonicalize`` (RFC
8785), ``@noble/ed25519`` and node:crypto, and shares no code with mmmfed. Each test batches its
documents into one Node process (about 0.1 s each).

One known difference, failing closed: integral doubles of 2**53 or more (1e20) that mmmfed signs
come back from a JavaScript peer as integer literals that mmmfed refuses; see
test_large_integral_doubles_do_not_survive_a_javascript_peer.

Skipped when ``node`` or the npm packages are missing: ``make setup`` installs them (npm ci).
"""

from __future__ import annotations

import copy
import json
import math
import random
import shutil
import struct
import subprocess
from pathlib import Path
from typing import Any

import pytest
import rfc8785

from mmmfed.did import multibase_decode
from mmmfed.errors import InvalidInput
from mmmfed.items import DataBinding, build_item
from mmmfed.proofs import SigningKey, sign_document, verify_document_did_key
from mmmfed.strictjson import parse_json

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).with_name("eddsa_jcs_2022.mjs")
VECTORS = ROOT / "tests" / "unit" / "vectors"
NODE = shutil.which("node")
_MISSING = [p for p in ("canonicalize", "@noble/ed25519") if not (ROOT / "node_modules" / p / "package.json").is_file()]
if NODE is None or _MISSING:
    pytest.skip(
        f"needs node and the npm packages {', '.join(_MISSING) or 'canonicalize, @noble/ed25519'} in "
        f"{ROOT / 'node_modules'}: run `make setup`",
        allow_module_level=True,
    )


def _load(name: str) -> Any:
    return json.loads((VECTORS / name).read_text(encoding="utf-8"))


W3C = _load("vc_di_eddsa_jcs_2022.json")
JCS = _load("rfc8785_jcs.json")
RFC8032 = _load("rfc8032_ed25519.json")["vectors"]
ALICE = SigningKey.from_seed(bytes.fromhex(RFC8032[0]["secret_key"]))
BRIDGE = SigningKey.from_seed(bytes.fromhex(RFC8032[1]["secret_key"]))
CREATED = "2026-11-25T05:00:00Z"

# Values that stress RFC 8785 number formatting (ECMAScript Number::toString): exponent thresholds
# (1e21, 1e-7), -0, the extremes of binary64, 2**53 - 1, values with no short decimal form.
NUMBERS = [1e21, 1e-7, 1e-6, 0.1, 0.1 + 0.2, 1 / 3, -0.0, 0, -1, 1.0, 4.35, 2.5e-8, 333333333.3333333, 1e300]
NUMBERS += [5e-324, 2.2250738585072014e-308, 1.7976931348623157e308, 2**53 - 1, -(2**53 - 1), 9007199254740991.0]
# Integral doubles of 2**53 or more below 1e21: JCS (and JSON.stringify) write them as integer
# literals, which mmmfed's intake refuses (see test_large_integral_doubles_do_not_survive_a_javascript_peer).
BIG_INTEGRAL = [1e20, 2.0**53 + 2, 2.0**60, -1e18]
# Keys whose UTF-16 order differs from code point order (U+1F98A sorts before U+E000), composed and
# decomposed accents, characters JCS must (or must not) escape, and JavaScript's special names.
UNICODE = {
    "Name": "Gödette 🦊 名前 e\u0301",
    "\ue000": "private use",
    "\U0001f98a": "fox",
    "é": 1,
    "e\u0301": 2,
    "Escapes": 'quote" backslash\\ slash/ \u0000\u0008\u001f\u007f\u2028\u2029 </script>',
    "__proto__": {"polluted": True},
    "constructor": None,
}


def _node(requests: list[dict[str, Any]]) -> list[Any]:
    """Answers of the Node implementation to ``requests``, in order (one process)."""
    assert NODE is not None
    proc = subprocess.run(
        [NODE, str(SCRIPT)],
        input=json.dumps(requests).encode(),  # ASCII: lone surrogates travel as \u escapes
        capture_output=True,
        check=False,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr.decode("utf-8", "replace")
    answers = json.loads(proc.stdout)
    assert isinstance(answers, list) and len(answers) == len(requests)
    return answers


def _sign(document: dict[str, Any], key: SigningKey = ALICE, **options: Any) -> dict[str, Any]:
    return sign_document(document, key=key, verification_method=key.verification_method, created=CREATED, **options)


def _items(numbers: list[Any] = NUMBERS) -> dict[str, dict[str, Any]]:
    """Unsigned Item documents, built by mmmfed.items.build_item."""
    common: dict[str, Any] = {
        "m_instance_id": "a.example",
        "item_type": "ITM",
        "producer_process_id": "mmm://a.example/p/1",
    }
    avatar = {"SubType": "Persona", "Format": "VRM/0.x"}
    data = DataBinding(1024, "ab" * 32, "model/gltf-binary")
    grant = [{"ProcessID": "mmm://a.example/p/1", "Rights": ["a"]}]
    nested = {"a": [[], {}, [None, True, False, [1, [2, [3, {"deep": {"deeper": [0.5]}}]]]]], "b": {"c": {"d": {}}}}
    return {
        "plain": build_item(**common, qualifier=avatar, data=data, descr={"Name": "Godette", "Scale": 1.5}).wire,
        "unicode": build_item(**common, qualifier=avatar, descr=UNICODE).wire,
        "nested": build_item(**common, qualifier=avatar, descr={"Tree": nested}, capabilities=grant).wire,
        "numbers": build_item(**common, qualifier=avatar, extra={"Numbers": numbers}).wire,
        "context": build_item(
            **common, qualifier=avatar, extra={"@context": ["https://www.w3.org/ns/credentials/v2"]}
        ).wire,
    }


def _signed_items() -> dict[str, dict[str, Any]]:
    """The Items signed by mmmfed: one proof each, plus a proof set and a proof chain."""
    items = _items([*NUMBERS, *BIG_INTEGRAL])
    signed = {name: _sign(doc) for name, doc in items.items()}
    first = _sign(items["numbers"], proof_id="urn:uuid:alice")
    signed["proof set"] = _sign(first, key=BRIDGE)
    signed["proof chain"] = _sign(first, key=BRIDGE, proof_id="urn:uuid:bridge", previous_proof="urn:uuid:alice")
    signed["chain of three"] = _sign(signed["proof chain"], previous_proof=["urn:uuid:alice", "urn:uuid:bridge"])
    return signed


def _last_proof(document: dict[str, Any]) -> dict[str, Any]:
    proof = document["proof"]
    return proof[-1] if isinstance(proof, list) else proof


def _tampered(document: dict[str, Any]) -> list[dict[str, Any]]:
    """Copies of a signed document, each changed in one way that must break its proof(s)."""
    added, renamed, redated = (copy.deepcopy(document) for _ in range(3))
    added["Extra"] = 1
    renamed["ItemID"] += "x"
    _last_proof(redated)["created"] = "2026-11-25T05:00:01Z"
    out = [added, renamed, redated]
    if "Numbers" in document:
        nudged = copy.deepcopy(document)
        nudged["Numbers"][NUMBERS.index(0.1)] = math.nextafter(0.1, 1)  # 0.10000000000000002: one ulp away
        out.append(nudged)
    if "\U0001f98a" in document.get("DescrMetadata", ""):  # V2.2 DescrMetadata: JSON text
        normalised = copy.deepcopy(document)
        normalised["DescrMetadata"] = normalised["DescrMetadata"].replace("e\u0301", "é")
        out.append(normalised)
    return out


# ----------------------------------------------------------------------------- Node verifies mmmfed


def test_node_verifies_items_mmmfed_signed() -> None:
    """Every Item mmmfed signs (unicode, nesting, hard numbers, @context, proof set and chain)
    verifies in the Node implementation, proof by proof."""
    signed = _signed_items()
    answers = _node([{"op": "verify", "document": doc} for doc in signed.values()])
    for (name, doc), answer in zip(signed.items(), answers, strict=True):
        assert verify_document_did_key(doc).verified, name
        proofs = doc["proof"] if isinstance(doc["proof"], list) else [doc["proof"]]
        assert answer == {"verified": True, "reason": "VERIFIED", "reasons": ["VERIFIED"] * len(proofs)}, name


def test_node_refuses_tampered_items() -> None:
    """A changed member, an added member, a changed proof option, a number one ulp away or a
    differently normalised string makes the Node implementation refuse the Item, as mmmfed does."""
    cases = [(name, bad) for name, doc in _signed_items().items() for bad in _tampered(doc)]
    answers = _node([{"op": "verify", "document": bad} for _, bad in cases])
    for (name, bad), answer in zip(cases, answers, strict=True):
        assert not verify_document_did_key(bad).verified, name
        assert answer["verified"] is False and answer["reason"] == "SIGNATURE_INVALID", (name, answer)


# ----------------------------------------------------------------------------- mmmfed verifies Node


def test_mmmfed_verifies_and_reproduces_node_signatures() -> None:
    """Documents the Node implementation signs verify in mmmfed, and mmmfed signing the same
    document with the same seed and created gives the same proof (Ed25519 is deterministic)."""
    items = _items()
    seeds = {"alice": ALICE, "bridge": BRIDGE}
    cases = [(name, doc, who) for name, doc in items.items() for who in seeds]
    answers = _node(
        [
            {"op": "sign", "document": doc, "seed_hex": seeds[who].seed.hex(), "created": CREATED}
            for _, doc, who in cases
        ]
    )
    for (name, doc, who), node_signed in zip(cases, answers, strict=True):
        result = verify_document_did_key(node_signed)
        assert result.verified, (name, who, result)
        assert result.verification_method == seeds[who].verification_method
        assert node_signed["proof"] == _sign(doc, key=seeds[who])["proof"], (name, who)


def test_mmmfed_verifies_node_proof_sets_and_chains() -> None:
    """The Node implementation adds a second proof, unchained and chained, to an Item mmmfed
    signed; mmmfed verifies both and makes the same proofs itself."""
    first = _sign(_items()["unicode"], proof_id="urn:uuid:alice")
    chain_options = {"proof_id": "urn:uuid:bridge", "previous_proof": ["urn:uuid:alice"]}
    base = {"op": "sign", "document": first, "seed_hex": BRIDGE.seed.hex(), "created": CREATED}
    proof_set, chain = _node([base, {**base, **chain_options}])
    assert len(proof_set["proof"]) == 2 and len(chain["proof"]) == 2
    for node_signed, options in ((proof_set, {}), (chain, chain_options)):
        assert verify_document_did_key(node_signed).verified, options
        assert node_signed["proof"] == _sign(first, key=BRIDGE, **options)["proof"], options


def test_large_integral_doubles_do_not_survive_a_javascript_peer() -> None:
    """Known difference, failing closed. mmmfed signs integral doubles of 2**53 or more (1e20,
    2.0**60) and its JCS writes them as integer literals ("100000000000000000000"), byte for byte as
    Node's does. A JavaScript peer that re-serialises the Item (JSON.stringify) writes the same
    literals, which mmmfed's strict intake refuses (JSON_NUMBER_OUT_OF_RANGE) and json.loads reads as
    ints that rfc8785 refuses (NOT_CANONICALIZABLE): the proof, valid in Node, no longer verifies in
    mmmfed; nor does a proof Node makes over the same values."""
    unsigned = {"Numbers": BIG_INTEGRAL}
    signed = _sign(unsigned)
    verified, canonical, node_signed = _node(
        [
            {"op": "verify", "document": signed},
            {"op": "canonicalize", "value": signed},
            {"op": "sign", "document": unsigned, "seed_hex": ALICE.seed.hex(), "created": CREATED},
        ]
    )
    assert verified["verified"] is True
    assert canonical["canonical"] == rfc8785.dumps(signed).decode()
    assert (
        '"Numbers":[100000000000000000000,9007199254740994,1152921504606847000,-1000000000000000000]'
        in canonical["canonical"]
    )
    with pytest.raises(InvalidInput) as err:
        parse_json(canonical["canonical"].encode())
    assert err.value.reason == "JSON_NUMBER_OUT_OF_RANGE"
    assert verify_document_did_key(json.loads(canonical["canonical"])).reason == "NOT_CANONICALIZABLE"
    assert verify_document_did_key(node_signed).reason == "NOT_CANONICALIZABLE"
    as_floats = {**node_signed, "Numbers": [float(n) for n in node_signed["Numbers"]]}
    assert verify_document_did_key(as_floats).verified


# ----------------------------------------------------------------------------- W3C vectors and JCS


def test_w3c_vectors_verify_and_reproduce_in_node() -> None:
    """vc-di-eddsa B.3 (did:key) and TestVectors signedJCS.json (https method, key given) verify in
    Node; Node's JCS gives the published canonical document and its signature the published
    proofValue."""
    v, https = W3C["rec_b3"], W3C["signed_jcs_https_vm"]
    signed = {**v["unsigned"], "proof": {**v["proof_options"], "proofValue": v["proof_value"]}}
    tampered = {**signed, "name": "Alumni Credential!"}
    seed = multibase_decode(W3C["key_pair"]["secretKeyMultibase"])[2:]
    keys = {https["proof"]["verificationMethod"]: W3C["key_pair"]["publicKeyMultibase"]}
    answers = _node(
        [
            {"op": "verify", "document": signed},
            {"op": "verify", "document": https, "keys": keys},
            {"op": "verify", "document": tampered},
            {"op": "canonicalize", "value": v["unsigned"]},
            {"op": "sign", "document": v["unsigned"], "seed_hex": seed.hex(), "created": v["proof_options"]["created"]},
        ]
    )
    assert [a["verified"] for a in answers[:3]] == [True, True, False]
    assert answers[3] == {"canonical": v["canonical_document"]}
    assert answers[4] == signed


def _random_doubles(count: int) -> list[float]:
    rng = random.Random(8785)
    values = [struct.unpack("<d", rng.randbytes(8))[0] for _ in range(count)]
    values += [rng.uniform(-1e6, 1e6) for _ in range(count // 4)] + [rng.random() / 10**k for k in range(30)]
    return [x for x in values if math.isfinite(x)]


def test_jcs_of_node_and_mmmfed_agree() -> None:
    """npm canonicalize and mmmfed's JCS (rfc8785) give the same bytes for the RFC 8785 and
    cyberphone samples, ~2500 random doubles and the test Items; both refuse lone surrogates."""
    samples = [struct.unpack(">d", bytes.fromhex(bits.rjust(16, "0")))[0] for bits, *_ in JCS["appendix_b"]]
    samples += [struct.unpack(">d", bytes.fromhex(bits.rjust(16, "0")))[0] for bits, _ in JCS["es6_samples"]]
    values: list[Any] = [*samples, *BIG_INTEGRAL, *_random_doubles(2000), *_items().values()]
    values += [json.loads(case["input"]) for case in JCS["files"].values()]
    answers = _node([{"op": "canonicalize", "value": value} for value in [*values, "\ud800", {"k": "\udfff"}]])
    mismatches = [
        (value, answer)
        for value, answer in zip(values, answers, strict=False)
        if answer != {"canonical": rfc8785.dumps(value).decode()}
    ]
    assert mismatches == []
    assert all("error" in answer for answer in answers[len(values) :])
