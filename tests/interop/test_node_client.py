"""A Node.js gRPC client against an in-process loopback federation (issue 6, item 3: standard tools work
against mmmfed). ``node_client.mjs`` beside this file uses npm ``@grpc/grpc-js`` and ``@grpc/proto-loader``
on the .proto files under proto/ only, over mutual TLS with certificates of the run; it shares no code
with mmmfed. It runs in a worker thread so the in-process servers keep serving, and prints JSON.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

from gateway.agreements import ACTIVE, PROPOSED
from mmmfed.cli.inprocess import Federation
from mmmfed.config import GatewayConfig, TlsConfig
from mmmfed.proofs import verify_document

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).with_name("node_client.mjs")
NODE = shutil.which("node")
assert NODE is not None, "node is not on PATH: `make setup` installs Node.js"
for _package in ("@grpc/grpc-js", "@grpc/proto-loader"):
    assert (ROOT / "node_modules" / _package / "package.json").is_file(), f"{_package} missing: run `make setup`"

GLB, VRM1 = "glTF/2.0-binary", "VRM/1.0"


async def node_client(
    gateway: GatewayConfig, tls: TlsConfig, *operation: str, stdin: dict[str, Any] | None = None
) -> tuple[int, dict[str, Any]]:
    """Exit status and JSON answer of ``node node_client.mjs`` calling ``gateway`` with ``tls``
    (trusting the gateway's own trust domain's CA for its server certificate)."""
    assert NODE is not None
    command = [NODE, str(SCRIPT), "--address", gateway.listen, "--tls-name", gateway.tls_name]
    command += ["--ca", str(gateway.tls.ca_cert), "--cert", str(tls.cert), "--key", str(tls.key), *operation]
    proc = await asyncio.to_thread(
        subprocess.run,
        command,
        input=json.dumps(stdin or {}),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode in (0, 3), proc.stderr
    return proc.returncode, json.loads(proc.stdout)


def routes(manifesto: dict[str, Any]) -> dict[str, str]:
    """Offered format -> route name of each negotiated row."""
    return {row["offered"]["qualifier"]["format"]: row["route"] for row in manifesto["negotiated"]}


def feature(fmt: str, **constraints: Any) -> dict[str, Any]:
    return {"item_type": "ITM", "qualifier": {"sub_type": "Persona", "format": fmt}, "constraints": constraints}


def signers(agreement: dict[str, Any]) -> list[str]:
    """The DIDs whose proofs the agreement carries (one proof, or a proof set)."""
    proofs = agreement["proof"] if isinstance(agreement["proof"], list) else [agreement["proof"]]
    return sorted(proof["verificationMethod"].split("#")[0] for proof in proofs)


async def test_node_operator_negotiates_and_both_gateways_hold_the_agreement(federation: Federation) -> None:
    """As a.example's operator, the Node client asks its gateway to negotiate with b.example (FGMV-43 9.5:
    RI-5, then the manifesto exchange over RE-5): it reads offers A and V and b.example's answer, and the
    agreement it prints, signed by both, is the one both gateways hold ACTIVE."""
    plan = federation.plan
    code, out = await node_client(plan.gateway_a, plan.operator_tls, "negotiate", "b.example")
    assert code == 0
    offer_a, offer_v, answer = out["offer_a"], out["offer_v"], out["answer"]
    assert (offer_a["kind"], offer_a["issuer_id"], offer_a["peer_id"]) == (
        "MANIFESTO_KIND_OFFER_A",
        "a.example",
        "b.example",
    )
    assert (offer_v["kind"], offer_v["issuer_id"]) == ("MANIFESTO_KIND_OFFER_V", "bridge.example")
    assert (answer["kind"], answer["issuer_id"], answer["peer_id"]) == (
        "MANIFESTO_KIND_ANSWER",
        "b.example",
        "a.example",
    )
    assert answer["virtual_bridge_id"] == offer_v["virtual_bridge_id"] != ""
    assert routes(answer) == {
        "VRM/0.x": "FEATURE_ROUTE_VIA_BRIDGE",
        VRM1: "FEATURE_ROUTE_VIA_BRIDGE",
        GLB: "FEATURE_ROUTE_DIRECT",
        "USDZ/1.0": "FEATURE_ROUTE_UNSUPPORTED",
    }
    direct = next(row for row in answer["negotiated"] if row["route"] == "FEATURE_ROUTE_DIRECT")
    assert direct["target"]["constraints"]["max_triangles"] == 1500  # b.example's own limit

    stored = await federation.nodes["gateway-a"].negotiation.answer_for("b.example")
    assert stored.manifesto_id == answer["manifesto_id"]
    agreement = out["agreement"]
    assert agreement["Parties"] == ["a.example", "b.example"]
    assert agreement["AnswerManifestoID"] == answer["manifesto_id"]
    assert signers(agreement) == ["did:web:a.example", "did:web:b.example"]
    for name, other in (("gateway-a", "b.example"), ("gateway-b", "a.example")):
        record = await federation.nodes[name].agreements.record(other)
        assert record["Status"] == ACTIVE and record["Document"] == agreement


async def test_node_peer_gateway_offers_manifestos_over_re5(federation: Federation) -> None:
    """With a.example's gateway certificate, the Node client speaks RE-5 itself: it reads b.example's
    platform manifesto, offers manifesto A, and b.example answers row by row (a glTF feature within its
    limits DIRECT, VRM it does not accept UNSUPPORTED) and proposes an agreement signed by b.example alone,
    which gateway b holds PROPOSED."""
    plan = federation.plan
    rows = [
        {
            "offered": feature(GLB, max_triangles=1000, texture_formats=["image/jpeg"], max_texture_px=512),
            "route": "FEATURE_ROUTE_DIRECT",
        },
        {"offered": feature(VRM1), "route": "FEATURE_ROUTE_DIRECT"},
    ]
    offer_a = {
        "manifesto_id": "urn:uuid:00000000-0000-4000-8000-00000000000a",
        "kind": "MANIFESTO_KIND_OFFER_A",
        "issuer_id": "a.example",
        "peer_id": "b.example",
        "produces": [row["offered"] for row in rows],
        "profiles": ["Baseline"],
        "negotiated": rows,
    }
    code, out = await node_client(plan.gateway_b, plan.gateway_a.tls, "exchange", stdin={"offer_a": offer_a})
    assert code == 0
    theirs = out["peer_manifesto"]
    assert (theirs["kind"], theirs["issuer_id"]) == ("MANIFESTO_KIND_PLATFORM", "b.example")
    assert theirs["keys"] and theirs["keys"][0]["verification_method"].startswith("did:web:b.example#")

    answer = out["answer"]
    assert (answer["kind"], answer["issuer_id"], answer["peer_id"]) == (
        "MANIFESTO_KIND_ANSWER",
        "b.example",
        "a.example",
    )
    assert routes(answer) == {GLB: "FEATURE_ROUTE_DIRECT", VRM1: "FEATURE_ROUTE_UNSUPPORTED"}
    gateway_b = federation.nodes["gateway-b"]
    assert (await gateway_b.negotiation.answer_for("a.example", incoming=True)).manifesto_id == answer["manifesto_id"]

    agreement = out["agreement"]
    assert agreement["Parties"] == ["a.example", "b.example"] and signers(agreement) == ["did:web:b.example"]
    assert agreement["Scope"]["Features"] == [f"ITM {GLB} direct"]
    keys = gateway_b.keys
    published = {keys.method(record): record.public_key for record in keys.records()}
    assert verify_document(agreement, resolve_key=published.__getitem__).verified  # b.example's proof, intact
    assert await gateway_b.agreements.record("a.example") == {"Status": PROPOSED, "Document": agreement}


async def test_node_client_is_refused_with_status_and_reason(federation: Federation) -> None:
    """A refusal reaches the Node client as a gRPC status with mmmfed's google.rpc.ErrorInfo: the
    operator's certificate may not call the gateway-only Federation service (PERMISSION_DENIED
    PEER_NOT_ALLOWED, nothing answered), and negotiating with an unconfigured peer is NOT_FOUND
    UNKNOWN_PEER."""
    plan = federation.plan
    code, denied = await node_client(plan.gateway_b, plan.operator_tls, "exchange", stdin={})
    assert code == 3
    assert (denied["code"], denied["status"]) == (7, "PERMISSION_DENIED")
    method = "/mmmfed.api.v1.Federation/GetManifesto"
    assert denied["error_info"] == {
        "reason": "PEER_NOT_ALLOWED",
        "domain": "mmmfed.dev",
        "metadata": {"method": method, "peer": "operator/operator.a.example", "trust_domain": "a.example"},
    }
    assert method in denied["details"]
    assert await federation.nodes["gateway-b"].agreements.all() == {}

    code, unknown = await node_client(plan.gateway_a, plan.operator_tls, "negotiate", "c.example")
    assert code == 3
    assert (unknown["status"], unknown["error_info"]["reason"]) == ("NOT_FOUND", "UNKNOWN_PEER")
    assert "c.example" in unknown["details"]
