"""A loopback federation: two M-Instances, their gateways and one bridge on 127.0.0.1.

Used by ``mmmfed demo`` (each node its own process), the tests (in-process nodes) and the
benchmarks. a.example accepts and produces VRM; b.example accepts only glTF binary under a
triangle budget with JPEG textures up to 512 px, so VRM avatars go through the bridge.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from pathlib import Path

from certs import NodeRole, write_federation
from mmmfed.config import (
    AssetsConfig,
    BridgeConfig,
    ConstraintsConfig,
    ExchangePolicyConfig,
    FeatureConfig,
    GatewayConfig,
    InstanceConfig,
    ManifestoConfig,
    PeerAddress,
    TlsConfig,
)
from mmmfed.items import FORMAT_GLB, FORMAT_VRM_0, FORMAT_VRM_1

A, B, BRIDGE = "a.example", "b.example", "bridge.example"
OPERATOR = "operator.example"
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
    """Configurations of every node, and the operator's TLS material."""

    instance_a: InstanceConfig
    instance_b: InstanceConfig
    gateway_a: GatewayConfig
    gateway_b: GatewayConfig
    bridge: BridgeConfig
    operator_tls: TlsConfig
    ports: PortReservation

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
        policies={"avatar.default": "offered on refusal (AVIR-001)"},
    )


def node_roles() -> dict[str, NodeRole]:
    """TLS name -> role of every node of the loopback federation (and its operator)."""
    return {
        f"instance.{A}": NodeRole.INSTANCE,
        f"gateway.{A}": NodeRole.GATEWAY,
        f"instance.{B}": NodeRole.INSTANCE,
        f"gateway.{B}": NodeRole.GATEWAY,
        BRIDGE: NodeRole.BRIDGE,
        OPERATOR: NodeRole.OPERATOR,
    }


def plan(workdir: Path, *, default_avatar: Path | None = None, max_item_bytes: int | None = None) -> LoopbackPlan:
    """Make certificates under ``workdir/certs`` and the configuration of every node.

    Ports are reserved now (``plan.ports``); release them just before the nodes start.
    """
    names = node_roles()
    certs = workdir / "certs"
    write_federation(certs, names)

    def tls(name: str) -> TlsConfig:
        return TlsConfig(ca_cert=certs / "ca.pem", cert=certs / f"{name}.pem", key=certs / f"{name}.key")

    ports = PortReservation(5)
    p_ia, p_ib, p_ga, p_gb, p_br = ports.ports
    addr = {
        f"instance.{A}": p_ia,
        f"instance.{B}": p_ib,
        f"gateway.{A}": p_ga,
        f"gateway.{B}": p_gb,
        BRIDGE: p_br,
    }

    def peer(name: str) -> PeerAddress:
        return PeerAddress(tls_name=name, address=f"127.0.0.1:{addr[name]}")

    limits = {"max_item_bytes": max_item_bytes} if max_item_bytes else {}
    if default_avatar is None:
        candidate = samples_dir() / "gltf" / "BoxTextured" / "BoxTextured.glb"
        default_avatar = candidate if candidate.exists() else None

    def instance(m: str, manifesto: ManifestoConfig, default: Path | None) -> InstanceConfig:
        return InstanceConfig(
            assets=ASSETS[m],
            m_instance_id=m,
            tls_name=f"instance.{m}",
            listen=f"127.0.0.1:{addr[f'instance.{m}']}",
            data_dir=workdir / f"instance-{m}",
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
            data_dir=workdir / f"gateway-{m}",
            tls=tls(f"gateway.{m}"),
            instance=peer(f"instance.{m}"),
            peers={other: peer(f"gateway.{other}")},
            bridges={BRIDGE: peer(BRIDGE)},
            accept_agreements_from=[other],  # the demo's operators agreed to federate up front
            **limits,
        )

    return LoopbackPlan(
        instance_a=instance(A, _vrm_manifesto(), None),
        instance_b=instance(B, _gltf_manifesto(), default_avatar),
        gateway_a=gateway(A, B),
        gateway_b=gateway(B, A),
        bridge=BridgeConfig(bridge_id=BRIDGE, tls_name=BRIDGE, listen=f"127.0.0.1:{p_br}", tls=tls(BRIDGE), **limits),
        operator_tls=tls(OPERATOR),
        ports=ports,
    )
