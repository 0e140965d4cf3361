"""Prometheus metrics of one node, and the HTTP endpoint serving them (issue 6, item 2
"Observability on every node").

Every node (instance, gateway, bridge) owns one :class:`NodeMetrics`: its own
``CollectorRegistry``, never prometheus_client's global default one, because several nodes run in
one process in the tests and the benchmarks. It is created by the node's constructor and passed
explicitly to what counts (the server interceptor, the verifier, the migration service, the
bridge's Conversion Service). Names follow ``mmmfed_<thing>_<unit>`` (prometheus_client adds
``_total`` to counters) and every metric has help text.

When ``observability.metrics_listen`` is set, :class:`MetricsEndpoint` serves ``GET /metrics``
over plain HTTP for as long as the node's :class:`~mmmfed.server.NodeServer` runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from http import HTTPStatus

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector

from mmmfed.errors import MmmfedError

log = logging.getLogger(__name__)

# Bucket upper bounds, seconds. RPCs range from sub-millisecond health checks to avatar streams.
RPC_BUCKETS_S = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)
MIGRATION_BUCKETS_S = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0)
TRANSACTION_ENTRY_BUCKETS = (1, 2, 5, 10, 20, 30, 40, 50)
CONVERSION_BUCKETS_S = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0)
SENT, RECEIVED = "sent", "received"

StateReader = Callable[[], Awaitable[Mapping[str, int]]]


class StateGauge(Collector):
    """A gauge ``name{label=state}`` counting things by state, read at scrape time.

    prometheus_client calls ``collect()`` synchronously, but the states may live behind an async
    store (a gateway's agreements are in SQLite or Redis). So :meth:`refresh` awaits ``read`` on the
    node's event loop just before a scrape (:class:`MetricsEndpoint` does it) and ``collect()``
    reports that snapshot. Every state in ``states`` is reported, 0 when none is in it; a state
    ``read`` returns that is not in ``states`` is reported too.

    Args:
        name: metric name (``mmmfed_<thing>``; a count, so no unit suffix).
        documentation: help text.
        label: label name, e.g. ``state``.
        states: label values always reported.
        read: async function returning {state: count}.
    """

    def __init__(self, name: str, documentation: str, *, label: str, states: Sequence[str], read: StateReader) -> None:
        self.name = name
        self._documentation = documentation
        self._label = label
        self._states = tuple(states)
        self._read = read
        self._counts: dict[str, int] = dict.fromkeys(self._states, 0)

    async def refresh(self) -> None:
        """Read the current counts (errors of ``read`` propagate; the last snapshot stays)."""
        counts = dict.fromkeys(self._states, 0)
        counts.update(await self._read())
        self._counts = counts

    def describe(self) -> Iterator[Metric]:
        """The family without samples (so registering it does not call ``read``)."""
        yield GaugeMetricFamily(self.name, self._documentation, labels=[self._label])

    def collect(self) -> Iterator[Metric]:
        """The last snapshot, one sample per state."""
        family = GaugeMetricFamily(self.name, self._documentation, labels=[self._label])
        for state, count in sorted(self._counts.items()):
            family.add_metric([state], count)
        yield family


class NodeMetrics:
    """The metrics of one node in its own registry (``registry``); no global state. Every node
    declares the same families (a family a node never counts stays empty), so dashboards and
    alerts read the same names everywhere.

    Counted by (see each help text): the server interceptor (:class:`mmmfed.server.MetricsInterceptor`),
    the gateway's ForeignItemVerifier and MigrationService, the bridge's service and servicer.
    """

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._state_gauges: list[StateGauge] = []
        r = self.registry
        self.grpc_requests = Counter(
            "mmmfed_grpc_requests",
            "gRPC calls served by this node, by full method name and final status code "
            '(method "unknown" for methods it does not serve).',
            ["method", "code"],
            registry=r,
        )
        self.grpc_request_duration = Histogram(
            "mmmfed_grpc_request_duration_seconds",
            "Time from the start of a served gRPC call to its final status, seconds, by full method name.",
            ["method"],
            buckets=RPC_BUCKETS_S,
            registry=r,
        )
        self.verification_refusals = Counter(
            "mmmfed_verification_refusals",
            "Foreign Items (and their transfer envelopes) refused by a gateway's verification, by ErrorInfo "
            "reason (e.g. SIGNATURE_INVALID, KEY_UNKNOWN, REPLAYED); gateways only.",
            ["reason"],
            registry=r,
        )
        self.migration_duration = Histogram(
            "mmmfed_migration_duration_seconds",
            "Avatar migrations (FGMV-43 9.1), seconds: side home (MigrateAvatar, export to import at "
            "the peer) or visiting (TransferAvatar, checks and streaming to the instance); outcome "
            "migrated, refused (AVIR-202) or error; gateways only.",
            ["side", "outcome"],
            buckets=MIGRATION_BUCKETS_S,
            registry=r,
        )
        self.conversion_duration = Histogram(
            "mmmfed_conversion_duration_seconds",
            "Conversion Service runs (validate, convert, validate), seconds; outcome converted, refused "
            "(input it will not convert) or error; bridges only.",
            ["outcome"],
            buckets=CONVERSION_BUCKETS_S,
            registry=r,
        )
        self.transferred_bytes = Counter(
            "mmmfed_transferred_bytes",
            "Item data bytes streamed to (sent) or from (received) another node: a gateway counts "
            "RE-1 avatar transfers with peer gateways, a bridge the data it converts (in) and returns (out).",
            ["direction"],
            registry=r,
        )
        self.federation_entries = Counter(
            "mmmfed_federation_entries",
            "Entries of federation transactions (issue 18 item 2) this gateway sent and had answered "
            '(direction "out") or received and answered ("in"), by kind (item_json, process_action, '
            "identity_update, content_versions) and outcome (accepted, refused); gateways only.",
            ["direction", "kind", "outcome"],
            registry=r,
        )
        self.federation_transaction_entries = Histogram(
            "mmmfed_federation_transaction_entries",
            'Entries per answered federation transaction, sent ("out") or received ("in"): how much '
            "each lane batches; gateways only.",
            ["direction"],
            buckets=TRANSACTION_ENTRY_BUCKETS,
            registry=r,
        )
        self.store_round_trips = Counter(
            "mmmfed_store_round_trips",
            "Round trips from this gateway to its shared store on Redis (one command or one pipeline), by what "
            'they were for ("document read", "audit append", "change feed ping", ...); zero on the embedded store.',
            ["op"],
            registry=r,
        )

    def add_state_gauge(
        self, name: str, documentation: str, *, label: str, states: Sequence[str], read: StateReader
    ) -> StateGauge:
        """Register a :class:`StateGauge` read at every scrape (e.g. a gateway's agreements)."""
        gauge = StateGauge(name, documentation, label=label, states=states, read=read)
        self.registry.register(gauge)
        self._state_gauges.append(gauge)
        return gauge

    async def refresh(self) -> None:
        """Refresh every scrape-time gauge (before rendering the registry)."""
        for gauge in self._state_gauges:
            await gauge.refresh()


def split_listen(listen: str) -> tuple[str | None, int]:
    """``"host:port"`` -> (host, port); ``"[::1]:9464"`` -> ("::1", 9464); an empty host (``":9464"``)
    means every interface (None). ValueError if there is no ``:`` or the port is not a number."""
    host, sep, port = listen.rpartition(":")
    if not sep:
        raise ValueError(f'metrics_listen {listen!r} is not "host:port"')
    return (host.strip("[]") or None), int(port)


class MetricsEndpoint:
    """``GET /metrics`` (Prometheus text format, or OpenMetrics when the scraper asks for it) over
    plain HTTP on ``listen`` ("host:port"; port 0 picks a free one, read :attr:`port` after
    :meth:`start`). Other paths answer 404, other methods 405; one request per connection.

    Why a small asyncio handler and not prometheus_client's ``start_http_server``: that one serves
    from a thread of its own, while some metrics (a gateway's agreements by state) are read from
    the node's async store and must be read on the node's event loop at scrape time; here
    :meth:`NodeMetrics.refresh` is simply awaited before ``prometheus_client.exposition`` renders the
    registry (``choose_encoder``, the library's own content negotiation). It also starts and stops
    with the node (awaited, idempotent), adds no thread per node (several nodes share a test
    process) and needs no HTTP framework.

    A scrape whose refresh fails with a domain error (e.g. the gateway's Redis is unreachable) is
    answered 503 with the reason; a bug propagates (asyncio logs it) and the connection closes.
    """

    def __init__(self, metrics: NodeMetrics, listen: str, *, read_timeout_s: float = 5.0) -> None:
        self._metrics = metrics
        self._listen = listen
        self._read_timeout_s = read_timeout_s
        self._server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> int:
        """Bind and serve; returns the bound port. OSError if the address cannot be bound."""
        if self._server is not None:
            return self.port
        host, port = split_listen(self._listen)
        server = await asyncio.start_server(self._handle, host, port, limit=16 * 1024)
        self._server = server
        self.port = int(server.sockets[0].getsockname()[1])
        log.info("serving metrics", extra={"address": f"{host or '*'}:{self.port}", "path": "/metrics"})
        return self.port

    async def stop(self) -> None:
        """Stop listening (idempotent); a scrape being answered finishes."""
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        await server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            try:
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), self._read_timeout_s)
            except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
                return  # not an HTTP request we can answer: just close
            status, headers, body = await self._answer(head.decode("latin-1"))
            lines = [f"HTTP/1.1 {status.value} {status.phrase}", *(f"{k}: {v}" for k, v in headers.items())]
            writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
            with contextlib.suppress(ConnectionError):
                await writer.drain()
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def _answer(self, head: str) -> tuple[HTTPStatus, dict[str, str], bytes]:
        request_line, *header_lines = head.split("\r\n")
        parts = request_line.split()
        if len(parts) != 3:
            return _plain(HTTPStatus.BAD_REQUEST, "malformed request line\n")
        method, target, _version = parts
        if target.split("?", 1)[0] != "/metrics":
            return _plain(HTTPStatus.NOT_FOUND, "metrics are at /metrics\n")
        if method not in ("GET", "HEAD"):
            status, headers, body = _plain(HTTPStatus.METHOD_NOT_ALLOWED, "GET or HEAD\n")
            return status, {**headers, "Allow": "GET, HEAD"}, body
        fields = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in header_lines if line)}
        try:
            await self._metrics.refresh()
        except MmmfedError as err:
            log.warning("metrics refresh failed", extra={"reason": err.reason})
            return _plain(HTTPStatus.SERVICE_UNAVAILABLE, f"{err}\n")
        encoder, content_type = choose_encoder(fields.get("accept", ""))
        body = encoder(self._metrics.registry)
        headers = {"Content-Type": content_type, "Content-Length": str(len(body)), "Connection": "close"}
        return HTTPStatus.OK, headers, b"" if method == "HEAD" else body


def _plain(status: HTTPStatus, text: str) -> tuple[HTTPStatus, dict[str, str], bytes]:
    body = text.encode()
    headers = {"Content-Type": "text/plain; charset=utf-8", "Content-Length": str(len(body)), "Connection": "close"}
    return status, headers, body
