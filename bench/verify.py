"""Foreign-Item verification in Items/s, beside raw Ed25519 and Matrix's signedjson in the same run.

What is measured ("pipeline"): ``ForeignItemVerifier.verify_persona`` on the exact bytes of signed
Persona Items from peer a.example, as gateway B runs it on every Item a peer sends: strict parse
(``mmmfed.items.parse_item``), the JSON Schema of the Item type (``mmmfed.schemas.validate_item``),
origin, the keyring (warm: its fetch returns a.example's KeySet from an ``InstanceKeyStore`` in a
temporary directory, no network) and the eddsa-jcs-2022 proof (``mmmfed.proofs.verify_document``:
two RFC 8785 canonicalisations, two SHA-256, strict Ed25519). The Personae are built as
``instance/avatars.py`` builds them (``build_item``) and signed as a gateway signs them
(``sign_item`` with a.example's current instance key and its did:web verification method); each
has its own ItemID, digest, size, user and names.

Baselines, timed in the same rounds (interleaved, on the same Items):

* raw Ed25519 with libsodium (PyNaCl ``VerifyKey.verify``, the fastest verify here) and with
  ``cryptography`` (OpenSSL ``Ed25519PublicKey.verify``; ``mmmfed.proofs`` calls libsodium), each on
  the 64-byte message the Item's proof signed (DI-EDDSA 3.3.4 hashData) and its signature: the
  work no verifier can skip.
* Matrix's ``signedjson.sign.verify_signed_json`` on the same Persona documents signed the Matrix
  way (``sign_json``: Matrix canonical JSON, code-point key order, libsodium): a peer's pipeline
  that checks less (no strict parse, no schema, no key validity times, no proof options hashed).
  For context only, the same with ``json.loads`` of the bytes first.

Targets (issue "Federated trust", item 10): pipeline >= signedjson, and >= 0.7 x raw libsodium.
Rates are medians over ``--rounds`` rounds; each round gives every path ``--seconds / --rounds``
seconds of whole passes over the Items, after one untimed warm-up pass (the keyring's only fetch,
the schema compilation). A second table splits the pipeline's time per Item into its steps.
Exits 0 whether or not the targets are met, non-zero if any Item fails to verify. Last line:
``RESULT pipeline_items_per_s=N pipeline_vs_signedjson=R pipeline_vs_libsodium=S ...``.

Run (from the checkout):  .venv/bin/python bench/verify.py [--items 256] [--seconds 4]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nacl.signing
import signedjson.key
import signedjson.sign
import signedjson.types
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from rich.console import Console
from rich.table import Table

if not __package__:  # run as a script (python bench/verify.py): make the checkout importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from gateway.keyring import Keyring
from gateway.servicer import key_set
from gateway.verification import ForeignItemVerifier
from mmmfed.api.v1 import manifesto_pb2 as mpb
from mmmfed.did import multibase_decode
from mmmfed.items import FORMAT_GLB, MAX_ITEM_JSON_BYTES, DataBinding, Item, build_item, new_id, parse_item, sign_item
from mmmfed.keys import InstanceKeyStore
from mmmfed.proofs import canonicalize, ed25519_verify, jcs_hash_data, verify_document
from mmmfed.schemas import validate_item
from mmmfed.strictjson import parse_json_plain
from mmmfed.v22 import decode
from mmmfed.v22.conformance import check_conforms

PEER = "a.example"
TARGET_VS_SIGNEDJSON = 1.0
TARGET_VS_LIBSODIUM = 0.7
PIPELINE = "pipeline (verify_persona)"
LIBSODIUM = "Ed25519 libsodium (raw)"
OPENSSL = "Ed25519 cryptography (raw)"
SIGNEDJSON = "signedjson (Matrix)"
SIGNEDJSON_PARSED = "json.loads + signedjson"


# -- the Items ------------------------------------------------------------------------------
def persona(index: int, rng: random.Random) -> Item:
    """An unsigned Persona as ``AvatarService.register_human`` builds it (a GLB's facts)."""
    human = f"human-{index:05d}"
    service = new_id(PEER, "processes/service", "avatar-service")
    attributes = {"Triangles": str(rng.randrange(12, 70_000)), "TextureFormats": "image/jpeg", "MaxTexturePx": "512"}
    return build_item(
        m_instance_id=PEER,
        item_type="ITM",
        qualifier={"SubType": "Persona", "Format": FORMAT_GLB, "Attributes": attributes},
        data=DataBinding(rng.randrange(1_000, 64_000_000), rng.randbytes(32).hex(), "model/gltf-binary"),
        producer_process_id=service,
        capabilities=[
            {
                "ProcessID": new_id(PEER, "processes/user", human),
                "Rights": ["MM-Add", "MM-Animate", "MM-Move", "Convert"],
            }
        ],
        descr={"Name": f"Human {index}'s avatar", "FileName": f"{human}.glb", "Licence": "CC-BY 4.0"},
    )


@dataclass(frozen=True)
class Corpus:
    """The same Personae three ways: eddsa-jcs-2022 bytes, the Ed25519 (message, signature) pairs
    their proofs signed, and Matrix-signed documents (with their raw bytes)."""

    raws: list[bytes]
    public_key: bytes
    signed_messages: list[tuple[bytes, bytes]]
    matrix_docs: list[dict[str, Any]]
    matrix_raws: list[bytes]
    matrix_key: signedjson.types.VerifyKey


def make_corpus(keys: InstanceKeyStore, count: int, *, seed: int = 0) -> Corpus:
    rng = random.Random(seed)
    record, key = keys.current()
    method = keys.method(record)
    matrix_key = signedjson.key.generate_signing_key("k1")
    raws, pairs, matrix_docs = [], [], []
    for index in range(count):
        unsigned = persona(index, rng)
        signed = sign_item(unsigned, key=key, verification_method=method)
        raws.append(signed.raw)
        proof = dict(signed.doc["proof"])
        signature = multibase_decode(proof.pop("proofValue"))
        pairs.append((jcs_hash_data(unsigned.wire, proof), signature))  # the proof covers the V2.2 form
        matrix_docs.append(signedjson.sign.sign_json(json.loads(unsigned.raw), PEER, matrix_key))
    matrix_raws = [json.dumps(d, ensure_ascii=False, separators=(",", ":")).encode() for d in matrix_docs]
    return Corpus(
        raws, key.public_key_bytes, pairs, matrix_docs, matrix_raws, signedjson.key.get_verify_key(matrix_key)
    )


# -- the paths: each verifies every Item once and returns how many --------------------------
Run = Callable[[], Awaitable[int]]


def pipeline_path(corpus: Corpus, verifier: ForeignItemVerifier) -> Run:
    async def run() -> int:
        for raw in corpus.raws:
            await verifier.verify_persona(raw, peer_id=PEER, bridge_keys={})
        return len(corpus.raws)

    return run


def libsodium_path(corpus: Corpus) -> Run:
    verify = nacl.signing.VerifyKey(corpus.public_key).verify

    async def run() -> int:
        for message, signature in corpus.signed_messages:
            verify(message, signature)
        return len(corpus.signed_messages)

    return run


def openssl_path(corpus: Corpus) -> Run:
    verify = Ed25519PublicKey.from_public_bytes(corpus.public_key).verify

    async def run() -> int:
        for message, signature in corpus.signed_messages:
            verify(signature, message)
        return len(corpus.signed_messages)

    return run


def signedjson_path(corpus: Corpus) -> Run:
    verify, key = signedjson.sign.verify_signed_json, corpus.matrix_key

    async def run() -> int:
        for doc in corpus.matrix_docs:
            verify(doc, PEER, key)
        return len(corpus.matrix_docs)

    return run


def signedjson_parsed_path(corpus: Corpus) -> Run:
    verify, key, loads = signedjson.sign.verify_signed_json, corpus.matrix_key, json.loads

    async def run() -> int:
        for raw in corpus.matrix_raws:
            verify(loads(raw), PEER, key)
        return len(corpus.matrix_raws)

    return run


async def measure(paths: dict[str, Run], *, seconds: float, rounds: int) -> dict[str, list[float]]:
    """Items/s of each path per round: whole passes until the round's slice of time is used."""
    for run in paths.values():  # warm-up; also proves every Item verifies on every path
        await run()
    rates: dict[str, list[float]] = {name: [] for name in paths}
    slice_s = seconds / rounds
    for _ in range(rounds):
        for name, run in paths.items():
            done, t0 = 0, time.perf_counter()
            while (elapsed := time.perf_counter() - t0) < slice_s:
                done += await run()
            rates[name].append(done / elapsed)
    return rates


# -- where the pipeline's time goes ---------------------------------------------------------
async def steps_us(corpus: Corpus, keyring: Keyring, *, passes: int = 3) -> dict[str, float]:
    """Median microseconds per Item of each step of the pipeline, run on its own."""
    items = [parse_item(raw) for raw in corpus.raws]
    docs = [item.doc for item in items]
    proofs = [dict(doc["proof"]) for doc in docs]
    methods = [str(p["verificationMethod"]) for p in proofs]
    at_ms = int(time.time() * 1000)
    keys = {methods[0]: corpus.public_key}
    # proofs cover the V2.2 form (Item.wire), which parse_item checks against MPAI's schema of its
    # Header (check_conforms) before decoding it into the domain document (decode)
    unsigned = [{k: v for k, v in item.wire.items() if k != "proof"} for item in items]
    wires = [item.wire for item in items]

    async def resolve_all() -> None:
        for method in methods:
            await keyring.resolve(method, at_ms=at_ms, expected_instance=PEER)

    def each(step: Callable[[Any], object], values: Sequence[Any]) -> Callable[[], None]:
        def run() -> None:
            for value in values:
                step(value)

        return run

    def strict_verify(pair: tuple[bytes, bytes]) -> None:
        if not ed25519_verify(corpus.public_key, *pair):
            raise SystemExit("a signature failed ed25519_verify")

    def verify(item: Item) -> None:  # as the pipeline calls it: Item.plain_json skips the type walk
        result = verify_document(
            item.wire,
            resolve_key=keys.__getitem__,
            expected_proof_purpose="assertionMethod",
            plain_json=item.plain_json,
        )
        if not result.verified:
            raise SystemExit("an Item failed verify_document")

    def parse_strict(raw: bytes) -> None:
        parse_json_plain(raw, max_bytes=MAX_ITEM_JSON_BYTES)

    def validate(item: Item) -> None:
        validate_item(item.doc, plain_json=item.plain_json)

    steps: dict[str, Callable[[], Awaitable[None] | None]] = {
        "parse_item (all of it)": each(parse_item, corpus.raws),
        "  parse_json_plain (strict JSON)": each(parse_strict, corpus.raws),
        "  check_conforms (MPAI V2.2 schema)": each(check_conforms, wires),
        "  decode (V2.2 -> domain document)": each(decode, wires),
        "validate_item (JSON Schema)": each(validate, items),
        "keyring.resolve (warm)": resolve_all,
        "verify_document (all of it)": each(verify, items),
        "  canonicalize(document)": each(canonicalize, unsigned),
        "  multibase_decode(proofValue)": each(multibase_decode, [p["proofValue"] for p in proofs]),
        "  ed25519_verify (strict, libsodium)": each(strict_verify, corpus.signed_messages),
    }
    out: dict[str, float] = {}
    for name, run in steps.items():
        times = []
        for _ in range(passes):
            t0 = time.perf_counter()
            pending = run()
            if pending is not None:
                await pending
            times.append(time.perf_counter() - t0)
        out[name] = statistics.median(times) / len(corpus.raws) * 1e6
    return out


# -- report ---------------------------------------------------------------------------------
def report(count: int, rates: dict[str, list[float]], steps: dict[str, float]) -> None:
    console = Console()
    medians = {name: statistics.median(r) for name, r in rates.items()}
    pipeline = medians[PIPELINE]
    table = Table(title=f"{count} signed Personae, medians of {len(rates[PIPELINE])} interleaved rounds")
    for column in ("path", "Items/s", "min-max", "us/Item", "pipeline/x"):
        table.add_column(column, justify="left" if column == "path" else "right", no_wrap=True)
    for name, rate in medians.items():
        table.add_row(
            name,
            f"{rate:,.0f}",
            f"{min(rates[name]):,.0f}-{max(rates[name]):,.0f}",
            f"{1e6 / rate:.1f}",
            f"{pipeline / rate:.2f}",
        )
    console.print(table)
    split = Table(title="the pipeline's steps, each run on its own")
    split.add_column("step")
    split.add_column("us/Item", justify="right")
    for name, us in steps.items():
        split.add_row(name, f"{us:.1f}")
    console.print(split)
    vs_matrix, vs_sodium = pipeline / medians[SIGNEDJSON], pipeline / medians[LIBSODIUM]
    met_matrix = "met" if vs_matrix >= TARGET_VS_SIGNEDJSON else "NOT met"
    met_sodium = "met" if vs_sodium >= TARGET_VS_LIBSODIUM else "NOT met"
    print(
        f"pipeline: {pipeline:,.0f} Items/s; signedjson: {medians[SIGNEDJSON]:,.0f}/s, ratio {vs_matrix:.2f} "
        f"(target >= {TARGET_VS_SIGNEDJSON}: {met_matrix}); raw libsodium: {medians[LIBSODIUM]:,.0f}/s, ratio "
        f"{vs_sodium:.2f} (target >= {TARGET_VS_LIBSODIUM}: {met_sodium}); raw cryptography: "
        f"{medians[OPENSSL]:,.0f}/s, ratio {pipeline / medians[OPENSSL]:.2f}"
    )
    print(
        f"RESULT pipeline_items_per_s={pipeline:.0f} pipeline_vs_signedjson={vs_matrix:.2f} "
        f"pipeline_vs_libsodium={vs_sodium:.2f} pipeline_vs_cryptography={pipeline / medians[OPENSSL]:.2f} "
        f"pipeline_vs_signedjson_parsed={pipeline / medians[SIGNEDJSON_PARSED]:.2f}",
        flush=True,
    )


async def bench(count: int, seconds: float, rounds: int) -> None:
    with tempfile.TemporaryDirectory(prefix="mmmfed-bench-verify-") as tmp:
        keys = InstanceKeyStore(Path(tmp) / "keys", PEER)
        keys.rotate(at_ms=(int(time.time()) - 3600) * 1000)
        corpus = make_corpus(keys, count)
        published = key_set(keys)

        async def fetch(m_instance_id: str) -> mpb.KeySet:
            return published

        keyring = Keyring(fetch)
        verifier = ForeignItemVerifier(keyring)
        paths = {
            PIPELINE: pipeline_path(corpus, verifier),
            LIBSODIUM: libsodium_path(corpus),
            OPENSSL: openssl_path(corpus),
            SIGNEDJSON: signedjson_path(corpus),
            SIGNEDJSON_PARSED: signedjson_parsed_path(corpus),
        }
        rates = await measure(paths, seconds=seconds, rounds=rounds)
        steps = await steps_us(corpus, keyring)
        if keyring.fetches != 1:
            raise SystemExit(f"the keyring fetched {keyring.fetches} times; the bench expects a warm keyring")
    report(count, rates, steps)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=256, help="distinct signed Personae")
    parser.add_argument("--seconds", type=float, default=4.0, help="timed seconds per path, over all rounds")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (medians are over these)")
    args = parser.parse_args(argv)
    if args.items < 1 or args.seconds <= 0 or args.rounds < 1:
        parser.error("need --items >= 1, --seconds > 0 and --rounds >= 1")
    asyncio.run(bench(args.items, args.seconds, args.rounds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
