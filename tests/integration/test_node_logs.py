"""A node's logs are one JSON object per line, even when a caller fails its TLS handshake (which
gRPC's C core would otherwise report with a raw text line of its own on stderr), and they say what
the node is waiting for: an instance whose gateway is not up logs that it waits, and stops cleanly
on SIGTERM while it waits (FGMV-43 9.5 step 1, RI-5 manifesto registration)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import grpc

from mmmfed.cli.loopback import plan

ROOT = Path(__file__).parents[2]
START_S = 60.0


def _wait_for_event(process: subprocess.Popen[str], event: str) -> list[str]:
    """stderr lines of ``process`` up to and including the first whose event is ``event``."""
    assert process.stderr is not None
    lines: list[str] = []
    deadline = time.monotonic() + START_S
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        if not line:
            break
        lines.append(line)
        if f'"event": "{event}"' in line:
            return lines
    raise AssertionError(f"no {event!r} log line within {START_S} s: {''.join(lines)[-2000:]}")


def test_gateway_logs_stay_json_when_a_caller_fails_the_tls_handshake(tmp_path: Path) -> None:
    """Plaintext bytes and a gRPC call without TLS on a gateway's mTLS port: the caller is
    refused, and every line the gateway writes to stderr (until SIGTERM) parses as a JSON log
    record with time, level, logger and event."""
    p = plan(tmp_path)
    p.ports.release()
    config = tmp_path / "gateway.json"
    config.write_text(p.gateway_a.model_dump_json())
    env = {k: v for k, v in os.environ.items() if k != "GRPC_VERBOSITY"}
    gateway = subprocess.Popen(
        [sys.executable, "-m", "mmmfed", "serve", "gateway", "--config", str(config)],
        cwd=ROOT,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    try:
        lines = _wait_for_event(gateway, "serving")
        host, port = p.gateway_a.listen.rsplit(":", 1)
        with socket.create_connection((host, int(port)), timeout=5) as raw:
            raw.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            raw.settimeout(5)
            raw.recv(1024)  # the server answers a TLS alert or closes: either way the handshake failed
        with grpc.insecure_channel(p.gateway_a.listen) as channel:
            try:
                channel.unary_unary("/mmmfed.api.v1.Federation/GetManifesto")(b"", timeout=5)
                raise AssertionError("a call without TLS was answered")
            except grpc.RpcError as err:
                assert err.code() == grpc.StatusCode.UNAVAILABLE, err
        time.sleep(0.5)  # the C core logs the failed handshakes asynchronously
        gateway.send_signal(signal.SIGTERM)
        _, rest = gateway.communicate(timeout=30)
    finally:
        if gateway.poll() is None:
            gateway.kill()
    assert gateway.returncode == 0, rest[-2000:]
    records = [line for line in lines + rest.splitlines() if line.strip()]
    not_json = []
    for line in records:
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            not_json.append(line)
            continue
        assert {"time", "level", "logger", "event"} <= set(entry), line
    assert not_json == [], f"non-JSON lines in the gateway's log: {not_json[:5]}"


def test_instance_waiting_for_its_gateway_says_so_and_stops_on_sigterm(tmp_path: Path) -> None:
    """`mmmfed serve instance` with its gateway not running: it serves, logs "waiting for the
    gateway" with the gateway's address and the reason, at a bounded rate, and SIGTERM during the
    wait ends it with exit 0, every line JSON."""
    p = plan(tmp_path)
    p.ports.release()
    config = tmp_path / "instance.json"
    config.write_text(p.instance_a.model_dump_json())
    instance = subprocess.Popen(
        [sys.executable, "-m", "mmmfed", "serve", "instance", "--config", str(config)],
        cwd=ROOT,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env=os.environ.copy(),
    )
    try:
        lines = _wait_for_event(instance, "waiting for the gateway")
        time.sleep(2)  # a few more retries
        instance.send_signal(signal.SIGTERM)
        _, rest = instance.communicate(timeout=30)
    finally:
        if instance.poll() is None:
            instance.kill()
    assert instance.returncode == 0, rest[-2000:]
    records = [json.loads(line) for line in lines + rest.splitlines() if line.strip()]
    waits = [r for r in records if r["event"] == "waiting for the gateway"]
    assert p.instance_a.gateway is not None
    assert waits and waits[0]["gateway"] == p.instance_a.gateway.address and waits[0]["reason"]
    assert len(waits) <= 8, f"{len(waits)} wait lines in about 2 s: the backoff should space them"
    assert not [r for r in records if r["level"] in ("ERROR", "CRITICAL")], records
