"""A loopback federation: two M-Instances, their gateways and one bridge on 127.0.0.1.

Used by ``mmmfed demo`` (each node its own process), the tests (in-process nodes) and the
benchmarks. a.example accepts and produces VRM; b.example accepts only glTF binary under a
triangle budget with JPEG textures up to 512 px, so VRM avatars go through the bridge.

Three trust domains, as three operators would have them: a.example, b.example and
bridge.example each make their own CA (``<workdir>/<domain>/pki/``: ``ca.pem``, ``ca.key``, its
nodes' certificates, ``operator.pem`` + ``operator.key``) and exchange only ``ca.pem`` bundles:
a's gateway trusts b's bundle for b's gateway and the bridge's for the bridge; the bridge trusts
each M-Instance's bundle for its gateway.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from pathlib import Path
from typing import TypedDict

from bridge.identity import bridge_key_and_did
from certs import NodeRole, init_trust_domain
from mmmfed.config import (
    AssetsConfig,
    BridgeConfig,
    ConstraintsConfig,
    ExchangePolicyConfig,
    FeatureConfig,
    GatewayConfig,
    GatewayTrust,
    InstanceConfig,
    ManifestoConfig,
    PeerAddress,
    TlsConfig,
)
from mmmfed.items import FORMAT_GLB, FORMAT_VRM_0, FORMAT_VRM_1

A, B, BRIDGE = "a.example", "b.example", "bridge.example"
DOMAINS = (A, B, BRIDGE)


def operator_name(trust_domain: str) -> str:
    """The TLS name of a trust domain's operator certificate, e.g. ``operator.a.example``."""
    return f"operator.{trust_domain}"


OPERATOR = operator_name(A)
B_MAX_TRIANGLES = 1500
B_MAX_TEXTURE_PX = 512
# Each M-Instance has its own currency; payments are exchanged by the origin's policy (ASEF).
ASSETS = {
    A: AssetsConfig(currency_id="ACU", exchange={B: ExchangePolicyConfig(to_currency="BCU", rate="3/2", fee_bp=50)}),
    B: AssetsConfig(currency_id="BCU", exchange={A: ExchangePolicyConfig(to_currency="ACU", rate="2/3", fee_bp=50)}),
}
SAMPLES = Path(__file__).resolve().parents[3] / "shared" / "samples"


def samples_dir() -> Path:
    """``../shared/samples`` beside the checkout (or ``$MMMFED_SAMPLES``)."""
    import os

    return Path(os.environ.get("MMMFED_SAMPLES", SAMPLES))


class PortReservation:
    """``n`` free TCP ports on 127.0.0.1, held until the nodes bind them.

    Each port stays bound (SO_REUSEPORT, not listening) so no other process's ``bind`` can take
    it in the meantime. Nodes' serving sockets have no SO_REUSEPORT (a second node on a used
    port must fail), so ``release()`` (idempotent) just before the nodes start.
    """

    def __init__(self, n: int) -> None:
        self._socks: list[socket.socket] = []
        for _ in range(n):
            sock = socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            sock.bind(("127.0.0.1", 0))
            self._socks.append(sock)
        self.ports = [sock.getsockname()[1] for sock in self._socks]

    def release(self) -> None:
        socks, self._socks = self._socks, []
        for sock in socks:
            sock.close()


@dataclass(frozen=True)
class LoopbackPlan:
    """Configurations of every node, and each trust domain's PKI directory and operator."""

    instance_a: InstanceConfig
    instance_b: InstanceConfig
    gateway_a: GatewayConfig
    gateway_b: GatewayConfig
    bridge: BridgeConfig
    operators: dict[str, TlsConfig]
    pki: dict[str, Path]
    ports: PortReservation
    workdir: Path

    @property
    def operator_tls(self) -> TlsConfig:
        """a.example's operator."""
        return self.operators[A]

    def config_paths(self) -> dict[str, Path]:
        """Where each node's configuration file goes: ``<workdir>/<domain>/<kind>.json``."""
        return {
            name: self.workdir
            / (cfg.bridge_id if isinstance(cfg, BridgeConfig) else cfg.m_instance_id)
            / f"{cfg.kind}.json"
            for name, cfg in self.nodes().items()
        }

    def operator_for(self, node: InstanceConfig | GatewayConfig | BridgeConfig) -> TlsConfig:
        """The operator of ``node``'s trust domain (the only operator it admits)."""
        return self.operators[node.bridge_id if isinstance(node, BridgeConfig) else node.m_instance_id]

    def nodes(self) -> dict[str, InstanceConfig | GatewayConfig | BridgeConfig]:
        return {
            "bridge": self.bridge,
            "gateway-a": self.gateway_a,
            "gateway-b": self.gateway_b,
            "instance-a": self.instance_a,
            "instance-b": self.instance_b,
        }


# Both produce and accept Assets whose data is a glTF binary model (FGMV-43 9.2). a.example also
# produces VRM Assets, which reach b.example converted by the bridge, and USDZ Assets, which
# b.example refuses (QUALIFIER_NOT_SUPPORTED).
GLB_ASSET = FeatureConfig(item_type="ASS", sub_type="Model", format=FORMAT_GLB)


def _vrm_manifesto() -> ManifestoConfig:
    persona = [FeatureConfig(format=f) for f in (FORMAT_VRM_0, FORMAT_VRM_1)]
    light_gltf = FeatureConfig(
        format=FORMAT_GLB,
        constraints=ConstraintsConfig(max_triangles=1000, texture_formats=["image/jpeg"], max_texture_px=512),
    )
    usdz = FeatureConfig(item_type="ASS", sub_type="Model", format="USDZ/1.0")
    vrm_assets = [FeatureConfig(item_type="ASS", sub_type="Model", format=f) for f in (FORMAT_VRM_0, FORMAT_VRM_1)]
    return ManifestoConfig(
        produces=[*persona, light_gltf, usdz, GLB_ASSET, *vrm_assets],
        accepts=[*persona, FeatureConfig(format=FORMAT_GLB), GLB_ASSET],
        profiles=["Baseline"],
        policies={"avatar.kinds": "home,registered roaming"},
    )


def _gltf_manifesto() -> ManifestoConfig:
    limits = ConstraintsConfig(
        max_triangles=B_MAX_TRIANGLES, texture_formats=["image/jpeg"], max_texture_px=B_MAX_TEXTURE_PX
    )
    return ManifestoConfig(
        produces=[FeatureConfig(format=FORMAT_GLB, constraints=limits), GLB_ASSET],
        accepts=[FeatureConfig(format=FORMAT_GLB, constraints=limits), GLB_ASSET],
        profiles=["Baseline"],
        # IDIR-303: identities arriving at b.example must show they are 18 or over, and a name
        policies={
            "avatar.default": "offered on refusal (AVIR-001)",
            "identity.min_age": "18",
            "identity.required_claims": "name",
        },
    )


def node_roles(trust_domain: str) -> dict[str, NodeRole]:
    """TLS name -> role of every node of one trust domain of the loopback federation (and its
    operator)."""
    if trust_domain == BRIDGE:
        return {BRIDGE: NodeRole.BRIDGE, operator_name(BRIDGE): NodeRole.OPERATOR}
    return {
        f"instance.{trust_domain}": NodeRole.INSTANCE,
        f"gateway.{trust_domain}": NodeRole.GATEWAY,
        operator_name(trust_domain): NodeRole.OPERATOR,
    }


class _Limits(TypedDict, total=False):
    """Optional limits every node of the plan is given (absent: the node's default)."""

    max_item_bytes: int


def plan(workdir: Path, *, default_avatar: Path | None = None, max_item_bytes: int | None = None) -> LoopbackPlan:
    """Make each trust domain's PKI under ``workdir/<domain>/pki`` and the configuration of every
    node (data under ``workdir/<domain>/``).

    Ports are reserved now (``plan.ports``); release them just before the nodes start.
    """
    pki = {domain: workdir / domain / "pki" for domain in DOMAINS}
    # The bridge's key first (in its data_dir), so its certificate binds its did:key (issue 12 item 5).
    bridge_dir = workdir / BRIDGE / "bridge-data"
    bound = {BRIDGE: [bridge_key_and_did(bridge_dir)]}
    for domain in DOMAINS:
        nodes = {name: role.value for name, role in node_roles(domain).items()}
        init_trust_domain(pki[domain], domain, nodes, stems={operator_name(domain): "operator"}, extra_uris=bound)
    domain_of = {name: domain for domain in DOMAINS for name in node_roles(domain)}

    def tls(name: str) -> TlsConfig:
        directory = pki[domain_of[name]]
        stem = "operator" if name.startswith("operator.") else name
        return TlsConfig(ca_cert=directory / "ca.pem", cert=directory / f"{stem}.pem", key=directory / f"{stem}.key")

    ports = PortReservation(5)
    p_ia, p_ib, p_ga, p_gb, p_br = ports.ports
    addr = {
        f"instance.{A}": p_ia,
        f"instance.{B}": p_ib,
        f"gateway.{A}": p_ga,
        f"gateway.{B}": p_gb,
        BRIDGE: p_br,
    }

    def peer(name: str, *, other_domain: bool = False) -> PeerAddress:
        bundle = pki[domain_of[name]] / "ca.pem" if other_domain else None
        return PeerAddress(tls_name=name, address=f"127.0.0.1:{addr[name]}", bundle=bundle)

    limits: _Limits = {"max_item_bytes": max_item_bytes} if max_item_bytes else {}
    if default_avatar is None:
        candidate = samples_dir() / "gltf" / "BoxTextured" / "BoxTextured.glb"
        default_avatar = candidate if candidate.exists() else None

    def instance(m: str, manifesto: ManifestoConfig, default: Path | None) -> InstanceConfig:
        return InstanceConfig(
            assets=ASSETS[m],
            m_instance_id=m,
            tls_name=f"instance.{m}",
            listen=f"127.0.0.1:{addr[f'instance.{m}']}",
            data_dir=workdir / m / "instance-data",
            tls=tls(f"instance.{m}"),
            gateway=peer(f"gateway.{m}"),
            manifesto=manifesto,
            default_avatar=default,
            **limits,
        )

    def gateway(m: str, other: str) -> GatewayConfig:
        return GatewayConfig(
            m_instance_id=m,
            tls_name=f"gateway.{m}",
            listen=f"127.0.0.1:{addr[f'gateway.{m}']}",
            data_dir=workdir / m / "gateway-data",
            tls=tls(f"gateway.{m}"),
            instance=peer(f"instance.{m}"),
            peers={other: peer(f"gateway.{other}", other_domain=True)},
            bridges={BRIDGE: peer(BRIDGE, other_domain=True)},
            accept_agreements_from=[other],  # the demo's operators agreed to federate up front
            **limits,
        )

    return LoopbackPlan(
        instance_a=instance(A, _vrm_manifesto(), None),
        instance_b=instance(B, _gltf_manifesto(), default_avatar),
        gateway_a=gateway(A, B),
        gateway_b=gateway(B, A),
        bridge=BridgeConfig(
            bridge_id=BRIDGE,
            tls_name=BRIDGE,
            listen=f"127.0.0.1:{p_br}",
            data_dir=bridge_dir,
            tls=tls(BRIDGE),
            gateways={m: GatewayTrust(tls_name=f"gateway.{m}", bundle=pki[m] / "ca.pem") for m in (A, B)},
            **limits,
        ),
        operators={domain: tls(operator_name(domain)) for domain in DOMAINS},
        pki=pki,
        ports=ports,
        workdir=workdir,
    )
