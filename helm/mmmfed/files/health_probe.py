"""Kubernetes exec probe: the gRPC health check of this node, over mutual TLS.

Usage: ``python3 health_probe.py CONFIG ready|live``

Reads the node's JSON configuration (mmmfed/config.py) for its listen port, TLS name and TLS files,
presents the node's own certificate and calls ``grpc.health.v1.Health/Check`` on 127.0.0.1.
Kubernetes' native ``grpc:`` probe cannot present a client certificate, and every mmmfed node
refuses a caller without one during the TLS handshake.

Exit 0 for ``ready`` when the node is SERVING, for ``live`` when it answers at all (a node draining
after SIGTERM answers NOT_SERVING: out of its Service, but not restarted); 1 otherwise; 2 for bad
usage. The reason goes to stdout, where ``kubectl describe pod`` shows it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

TIMEOUT_S = 3.0
MODES = ("ready", "live")


def check(config_path: Path, mode: str) -> tuple[bool, str]:
    """(passed, reason) of one health check of the node configured in ``config_path``."""
    config = json.loads(config_path.read_text())
    tls = config["tls"]
    port = config["listen"].rpartition(":")[2]
    credentials = grpc.ssl_channel_credentials(
        root_certificates=Path(tls["ca_cert"]).read_bytes(),
        private_key=Path(tls["key"]).read_bytes(),
        certificate_chain=Path(tls["cert"]).read_bytes(),
    )
    options = [("grpc.ssl_target_name_override", config["tls_name"])]
    with grpc.secure_channel(f"127.0.0.1:{port}", credentials, options=options) as channel:
        try:
            reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=TIMEOUT_S)
        except grpc.RpcError as err:
            return False, f"{config['tls_name']}: health check failed: {err.code().name} {err.details()}"
    status = health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)
    passed = mode == "live" or reply.status == health_pb2.HealthCheckResponse.SERVING
    return passed, f"{config['tls_name']}: {status}"


def main(argv: list[str]) -> int:
    if len(argv) != 3 or argv[2] not in MODES:
        print(f"usage: {argv[0]} CONFIG {'|'.join(MODES)}")
        return 2
    passed, reason = check(Path(argv[1]), argv[2])
    print(reason)
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
