"""Node configuration: pydantic models validated once at start-up.

One loader, :func:`load_config`: a JSON or TOML file, then environment overrides
(``MMMFED_LISTEN``, ``MMMFED_DATA_DIR``, ``MMMFED_METRICS_LISTEN``, ``MMMFED_REDIS_URL``), then
what the caller passes. Units are in field names.
"""

from __future__ import annotations

import json
import os
import tomllib
from pathlib import Path
from typing import Literal, TypeVar

import pydantic
from pydantic import BaseModel, ConfigDict, Field, model_validator

from mmmfed.errors import InvalidInput
from mmmfed.formats import lookup
from mmmfed.rules import RuleSet

MiB = 1024 * 1024
# Calls a node's gRPC server runs at once; beyond it a call is answered RESOURCE_EXHAUSTED
# (issue 12 item 6: what a peer can make us spend).
DEFAULT_MAXIMUM_CONCURRENT_RPCS = 256


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class TlsConfig(_Frozen):
    """Paths (PEM) of this node's own trust domain's CA bundle (``ca.pem`` from ``mmmfed certs
    init``; during a CA rotation it holds the old and the new CA) and of this node's certificate
    and key, issued by that CA."""

    ca_cert: Path
    cert: Path
    key: Path


class PeerAddress(_Frozen):
    """Where a node listens, the TLS name its certificate carries and, for a node of another trust
    domain (a peer M-Instance's gateway, a bridge), that trust domain's CA bundle (PEM): the only
    CAs trusted for it. ``bundle`` None: a node of this node's own trust domain."""

    tls_name: str
    address: str  # "host:port"
    bundle: Path | None = None


class GatewayTrust(_Frozen):
    """A gateway allowed to call a bridge: the TLS name its certificate carries and its
    M-Instance's CA bundle (PEM)."""

    tls_name: str
    bundle: Path


class ConstraintsConfig(_Frozen):
    """Constraints on accepted Items; 0 / empty means no limit (manifesto Constraints)."""

    max_triangles: int = Field(default=0, ge=0)
    texture_formats: list[str] = Field(default_factory=list)
    max_texture_px: int = Field(default=0, ge=0)
    max_bytes: int = Field(default=0, ge=0)


class FeatureConfig(_Frozen):
    """One Item type and Qualifier format a platform produces or accepts."""

    item_type: str = "ITM"
    sub_type: str = "Persona"
    format: str
    constraints: ConstraintsConfig = Field(default_factory=ConstraintsConfig)


class ManifestoConfig(_Frozen):
    """What an M-Instance produces and accepts (FGMV-43 9.5 step 1)."""

    produces: list[FeatureConfig]
    accepts: list[FeatureConfig]
    profiles: list[str] = Field(default_factory=lambda: ["Baseline"])
    policies: dict[str, str] = Field(default_factory=dict)


class ObservabilityConfig(_Frozen):
    """What every node exposes to its operators: Prometheus metrics over HTTP and its log format."""

    # "host:port" of the HTTP endpoint serving /metrics (Prometheus text format); None: no endpoint.
    metrics_listen: str | None = None
    # "json": one JSON object per line (time, level, logger, event and the extra fields);
    # "keyvalue": ``time level logger event key=value ...`` for people at a terminal.
    log_format: Literal["json", "keyvalue"] = "json"


class StoreConfig(_Frozen):
    """Where a gateway keeps its shared state (manifestos, agreements, key cache, replay nonces,
    transfer journals, audit chain head). "sqlite": embedded, one node (the default, and the demo's);
    "redis": shared by every replica of one M-Instance's gateway (see the README on durability)."""

    backend: Literal["sqlite", "redis"] = "sqlite"
    # redis://[user:password@]host:port/db or rediss://... (TLS); required for backend "redis".
    redis_url: str | None = None
    # Prefix of every key, so several M-Instances can share one Redis.
    redis_key_prefix: str = "mmmfed"
    # Before a write that ownership of record depends on is acknowledged: WAIT for this many
    # Redis replicas (0: none) and WAITAOF for the local AOF fsync, at most wait_timeout_ms each.
    redis_wait_replicas: int = Field(default=0, ge=0)
    redis_wait_timeout_ms: int = Field(default=1000, gt=0)

    @model_validator(mode="after")
    def _redis_needs_url(self) -> StoreConfig:
        """Backend "redis" needs ``redis_url`` (or ``MMMFED_REDIS_URL``); ValueError otherwise."""
        if self.backend == "redis" and not self.redis_url:
            raise ValueError('store.backend "redis" needs store.redis_url (or MMMFED_REDIS_URL)')
        return self


class ExchangePolicyConfig(_Frozen):
    """ASEF policy (FGMV-43 9.2 steps 3, 5) for payments to one peer M-Instance: the origin's
    currency is exchanged into ``to_currency`` at ``rate`` (destination minor units per origin
    minor unit, an exact fraction "p/q"), after a fee of ``fee_bp`` basis points of the amount
    paid (rounded up: the fee is never under-declared), the result rounded by ``rounding``."""

    to_currency: str = Field(pattern=r"^[A-Z][A-Z0-9-]{1,15}$")
    rate: str = Field(pattern=r"^[1-9][0-9]{0,17}(/[1-9][0-9]{0,17})?$")
    fee_bp: int = Field(default=0, ge=0, le=10_000)
    rounding: Literal["half_even", "down", "up"] = "half_even"


class AssetsConfig(_Frozen):
    """The M-Instance's asset ledger (FGMV-43 9.2): its currency, exchange policies by peer
    M-Instance id, and how long a transfer may take and how its messages are retried."""

    currency_id: str = Field(default="MMC", pattern=r"^[A-Z][A-Z0-9-]{1,15}$")
    exchange: dict[str, ExchangePolicyConfig] = Field(default_factory=dict)
    transfer_timeout_ms: int = Field(default=60_000, gt=0)
    retry_initial_ms: int = Field(default=50, gt=0)
    retry_max_ms: int = Field(default=2_000, gt=0)


class InstanceConfig(_Frozen):
    """A reference M-Instance node (``mmmfed serve instance``)."""

    kind: Literal["instance"] = "instance"
    m_instance_id: str
    tls_name: str
    listen: str = "127.0.0.1:0"
    data_dir: Path
    tls: TlsConfig
    gateway: PeerAddress | None = None
    manifesto: ManifestoConfig
    default_avatar: Path | None = None
    max_item_bytes: int = Field(default=256 * MiB, gt=0)
    observability: ObservabilityConfig = Field(default_factory=ObservabilityConfig)
    assets: AssetsConfig = Field(default_factory=AssetsConfig)
    # Calls served at once; more are answered RESOURCE_EXHAUSTED (issue 12 item 6).
    maximum_concurrent_rpcs: int = Field(default=DEFAULT_MAXIMUM_CONCURRENT_RPCS, gt=0)


class GatewayConfig(_Frozen):
    """A Resolution gateway node (``mmmfed serve gateway``), one per M-Instance."""

    kind: Literal["gateway"] = "gateway"
    m_instance_id: str
    tls_name: str
    listen: str = "127.0.0.1:0"
    data_dir: Path
    tls: TlsConfig
    instance: PeerAddress
    # M-Instance id -> its gateway, with its CA bundle (`mmmfed peer add`).
    peers: dict[str, PeerAddress] = Field(default_factory=dict)
    # bridge id -> the bridge, with its CA bundle.
    bridges: dict[str, PeerAddress] = Field(default_factory=dict)
    # How often each peer's current CA bundle is fetched over RE-5 (GetBundle), so a rotation it
    # publishes ahead reaches this gateway with no one acting here; 0: never.
    bundle_refresh_s: float = Field(default=300.0, ge=0)
    max_item_bytes: int = Field(default=256 * MiB, gt=0)
    # TLS names of this trust domain, besides its instance and operator certificates, allowed to
    # call RI methods (platform services of the M-Instance).
    platform_clients: list[str] = Field(default_factory=list)
    # Versions of the local Rules applied to foreign Items (mmmfed.rules; MMM-TEC Rules).
    rules: list[RuleSet] = Field(default_factory=list)
    # Peers whose trust agreement proposals this instance accepts without an operator's
    # `mmmfed agreement accept PEER` first.
    accept_agreements_from: list[str] = Field(default_factory=list)
    store: StoreConfig = Field(default_factory=StoreConfig)
    observability: ObservabilityConfig = Field(default_factory=ObservabilityConfig)
    # Calls served at once; more are answered RESOURCE_EXHAUSTED (issue 12 item 6).
    maximum_concurrent_rpcs: int = Field(default=DEFAULT_MAXIMUM_CONCURRENT_RPCS, gt=0)

    @model_validator(mode="after")
    def _other_domains_need_bundles(self) -> GatewayConfig:
        """Every peer and bridge is another trust domain: its CA bundle is required (ValueError)."""
        for section, entries in (("peers", self.peers), ("bridges", self.bridges)):
            for name, entry in entries.items():
                if entry.bundle is None:
                    raise ValueError(
                        f"{section}.{name}.bundle is missing: give the CA bundle (ca.pem) of {name}'s trust "
                        f"domain, e.g. `mmmfed peer add {name} --endpoint HOST:PORT --bundle {name}-ca.pem`"
                    )
        if self.m_instance_id in self.peers:
            raise ValueError(f"peers.{self.m_instance_id}: an M-Instance is not its own peer")
        return self


class BridgeConfig(_Frozen):
    """A bridge node (``mmmfed serve bridge``) running Conversion Services."""

    kind: Literal["bridge"] = "bridge"
    bridge_id: str
    tls_name: str
    listen: str = "127.0.0.1:0"
    # Where the bridge keeps its signing key (signing-key.pem, made once, 0600) and its virtual
    # bridges (virtual-bridges.sqlite), so it is the same bridge after a restart (issue 12 item 5).
    data_dir: Path
    tls: TlsConfig
    # The trust domain whose CA issued this bridge's certificate: the bridge's own (default: its id)
    # or, for a bridge an M-Instance's operator runs, that M-Instance's id.
    trust_domain: str | None = None
    # M-Instance id -> its gateway's TLS name and CA bundle: the gateways that may call this bridge.
    gateways: dict[str, GatewayTrust] = Field(default_factory=dict)
    node_modules_dir: Path | None = None
    max_item_bytes: int = Field(default=256 * MiB, gt=0)
    # Key that signs manifesto V and converted Items (PKCS#8 from `mmmfed keys generate`);
    # None: the key in data_dir. Either way the certificate must bind its did:key.
    signing_key: Path | None = None
    observability: ObservabilityConfig = Field(default_factory=ObservabilityConfig)
    # Calls served at once; more are answered RESOURCE_EXHAUSTED (issue 12 item 6).
    maximum_concurrent_rpcs: int = Field(default=DEFAULT_MAXIMUM_CONCURRENT_RPCS, gt=0)
    # What one conversion may cost (issue 12 item 6): input images larger than these are refused
    # IMAGE_TOO_LARGE from their headers, before decoding; the validator is killed after
    # validator_timeout_s (VALIDATOR_TIMEOUT), a conversion ends after conversion_timeout_s
    # (CONVERSION_TIMEOUT).
    max_image_side_px: int = Field(default=8192, gt=0)
    max_image_pixels: int = Field(default=8192 * 8192, gt=0)
    validator_timeout_s: float = Field(default=60.0, gt=0)
    conversion_timeout_s: float = Field(default=300.0, gt=0)


C = TypeVar("C", InstanceConfig, GatewayConfig, BridgeConfig)


def check_manifesto_formats(manifesto: ManifestoConfig, *, source: str) -> None:
    """Refuse a manifesto that produces or accepts a Qualifier Format mmmfed does not know
    (:data:`mmmfed.formats.FORMATS`): no instance could check such a file, no Conversion Service
    convert it. ``source`` names where the manifesto came from (e.g. ``config instance-a.json``).

    Raises:
        InvalidInput (reason ``UNKNOWN_FORMAT``): the message names ``source``, the field (e.g.
            ``manifesto.accepts[1].format``), the value, the known formats and what to do."""
    for section, features in (("produces", manifesto.produces), ("accepts", manifesto.accepts)):
        for index, feature in enumerate(features):
            try:
                lookup(feature.format, field=f"manifesto.{section}[{index}].format")
            except InvalidInput as err:
                raise InvalidInput(
                    f"{source}: {err.message}, or remove that feature", reason=err.reason, metadata=err.metadata
                ) from err


_PLAIN = {
    "missing": "is required: add it",
    "extra_forbidden": "is not a field of this configuration: remove it (or check its spelling)",
}


def _location(loc: tuple[int | str, ...]) -> str:
    """``("tls", "cert")`` -> ``tls.cert``; list indexes as ``[i]``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def describe_validation(err: pydantic.ValidationError) -> str:
    """A validation error as an operator reads it: ``field listen: Input should be a valid string
    (got 5); field bogus: is not a field ...``, every field named, no pydantic internals."""
    parts = []
    for e in err.errors():
        field = _location(tuple(e["loc"]))
        what = _PLAIN.get(e["type"], e["msg"])
        given = "" if e["type"] in _PLAIN else f" (got {e['input']!r:.60})"
        parts.append(f"field {field}: {what}{given}")
    return "; ".join(parts)


def load_config(path: Path, model: type[C]) -> C:
    """Load and validate a node configuration.

    Args:
        path: a ``.json`` or ``.toml`` file.
        model: the node's config class.
    Raises:
        InvalidInput (reason ``CONFIG_INVALID``): unreadable file or a field that fails
            validation; the message names the field.
        InvalidInput (reason ``UNKNOWN_FORMAT``): an instance's manifesto names a Qualifier
            Format mmmfed does not know (:func:`check_manifesto_formats`).
    """
    try:
        text = path.read_text()
        raw = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
    except (OSError, ValueError) as err:
        raise InvalidInput(f"cannot read config {path}: {err}", reason="CONFIG_INVALID") from err
    if not isinstance(raw, dict):
        raise InvalidInput(f"invalid config {path}: the top level is not an object", reason="CONFIG_INVALID")
    for env, key in (("MMMFED_LISTEN", "listen"), ("MMMFED_DATA_DIR", "data_dir")):
        if env in os.environ and key in model.model_fields:
            raw[key] = os.environ[env]
    for env, section, key in (
        ("MMMFED_METRICS_LISTEN", "observability", "metrics_listen"),
        ("MMMFED_REDIS_URL", "store", "redis_url"),
    ):
        if env in os.environ and section in model.model_fields:
            raw[section] = {**(raw.get(section) or {}), key: os.environ[env]}
    try:
        config = model.model_validate(raw)
    except pydantic.ValidationError as err:
        raise InvalidInput(
            f"invalid config {path}: {describe_validation(err)}",
            reason="CONFIG_INVALID",
            metadata={"field": _location(err.errors()[0]["loc"]) if err.errors() else ""},
        ) from err
    except ValueError as err:
        raise InvalidInput(f"invalid config {path}: {err}", reason="CONFIG_INVALID") from err
    if isinstance(config, InstanceConfig):
        check_manifesto_formats(config.manifesto, source=f"config {path}")
    return config
