"""PKI tooling: one CA per trust domain (an M-Instance or a bridge), node and operator
certificates, certificate signing requests and renewal (FGMV-43 GPIR-003).

Nothing here is committed as key material: ``mmmfed certs init DIR --m-instance ID`` and the test
fixtures make keys at run time.
"""

from certs.authority import NodeRole, issue_node, make_ca, make_request, renew, sign_request
from certs.files import CertificateAuthority, init_trust_domain, write_private, write_public

__all__ = [
    "CertificateAuthority",
    "NodeRole",
    "init_trust_domain",
    "issue_node",
    "make_ca",
    "make_request",
    "renew",
    "sign_request",
    "write_private",
    "write_public",
]
