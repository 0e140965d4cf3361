"""The baseline hops of bench/resolve.py: two chains of two proxies in front of instance B, one of
nginx ``grpc_pass`` proxies and one of bare Python relays (bench/relay.py), each hop its own
process, every leg gRPC over mutual TLS on loopback.

:func:`start_proxies` raises SystemExit when nginx is not installed; :meth:`Proxies.stop` is
idempotent (SIGTERM, then SIGKILL after 5 s).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from mmmfed.cli.inprocess import peer
from mmmfed.cli.loopback import LoopbackPlan, PortReservation
from mmmfed.config import PeerAddress, TlsConfig


@dataclass
class Proxies:
    """Two chains of two proxies in front of instance B: nginx and bare Python relays.

    ``procs``, in start order: nginx hop 2, nginx hop 1, relay hop 2, relay hop 1."""

    nginx_entry: PeerAddress
    relay_entry: PeerAddress
    procs: list[subprocess.Popen[bytes]]

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()


def _nginx_conf(workdir: Path, name: str, listen: int, server: TlsConfig, upstream: PeerAddress) -> Path:
    """One nginx proxying every gRPC call to ``upstream`` over TLS with a client certificate."""
    root = workdir / name
    root.mkdir()
    conf = root / "nginx.conf"
    conf.write_text(f"""
worker_processes 1;
daemon off;
pid {root}/nginx.pid;
error_log {root}/error.log warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  client_body_temp_path {root}/body;
  proxy_temp_path {root}/proxy;
  fastcgi_temp_path {root}/fastcgi;
  uwsgi_temp_path {root}/uwsgi;
  scgi_temp_path {root}/scgi;
  upstream next {{ server {upstream.address}; keepalive 64; }}
  server {{
    listen 127.0.0.1:{listen} ssl http2;
    ssl_certificate {server.cert};
    ssl_certificate_key {server.key};
    ssl_client_certificate {server.ca_cert};
    ssl_verify_client on;
    location / {{
      grpc_pass grpcs://next;
      grpc_ssl_certificate {server.cert};
      grpc_ssl_certificate_key {server.key};
      grpc_ssl_trusted_certificate {server.ca_cert};
      grpc_ssl_verify on;
      grpc_ssl_name {upstream.tls_name};
      grpc_ssl_server_name on;
    }}
  }}
}}
""")
    return conf


def start_proxies(workdir: Path, p: LoopbackPlan) -> Proxies:
    """nginx -> nginx -> instance B and relay -> relay -> instance B. The hop next to instance B
    presents gateway B's certificate (instance B admits only its gateway and operators); the
    first hop presents gateway A's."""
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(nginx).exists():
        raise SystemExit("nginx not found: install Debian's nginx (apt-get install nginx-light)")
    ports = PortReservation(4)
    n1, n2, r1, r2 = ports.ports
    ports.release()
    instance_b = peer(p.instance_b)
    # The baseline hops trust both M-Instances' CAs (their trust set is not what is measured).
    roots = workdir / "relay-roots.pem"
    roots.write_bytes(p.gateway_a.tls.ca_cert.read_bytes() + p.gateway_b.tls.ca_cert.read_bytes())
    tls_a, tls_b = (cfg.tls.model_copy(update={"ca_cert": roots}) for cfg in (p.gateway_a, p.gateway_b))
    procs = []
    hop2 = PeerAddress(tls_name=p.gateway_b.tls_name, address=f"127.0.0.1:{n2}")
    for name, port, tls, upstream in (("nginx2", n2, tls_b, instance_b), ("nginx1", n1, tls_a, hop2)):
        conf = _nginx_conf(workdir, name, port, tls, upstream)
        procs.append(subprocess.Popen([nginx, "-c", str(conf), "-p", str(conf.parent)], stderr=subprocess.DEVNULL))
    relay_hop2 = PeerAddress(tls_name=p.gateway_b.tls_name, address=f"127.0.0.1:{r2}")
    for name, port, tls, upstream in (("relay2", r2, tls_b, instance_b), ("relay1", r1, tls_a, relay_hop2)):
        tls_file = workdir / f"{name}-tls.json"
        tls_file.write_text(tls.model_dump_json())
        argv = [sys.executable, str(Path(__file__).with_name("relay.py")), "--tls", str(tls_file)]
        argv += ["--listen", f"127.0.0.1:{port}", "--relay-to", upstream.address, "--relay-name", upstream.tls_name]
        procs.append(subprocess.Popen(argv))
    return Proxies(
        nginx_entry=PeerAddress(tls_name=p.gateway_a.tls_name, address=f"127.0.0.1:{n1}"),
        relay_entry=PeerAddress(tls_name=p.gateway_a.tls_name, address=f"127.0.0.1:{r1}"),
        procs=procs,
    )
