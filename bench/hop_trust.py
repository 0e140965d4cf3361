"""The trust of the benchmarks' baseline hops (bench/relay.py, bench/rawsink.py): their TLS
configuration's CA file holds every M-Instance's CA (what they trust is not what is measured), and
a server built on :func:`mmmfed.tls.server_credentials` takes them as one bundle per trust domain.
"""

from __future__ import annotations

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from mmmfed.config import TlsConfig
from mmmfed.trust import TrustBundle, TrustDomains, trust_domain_of


def hop_trust(tls: TlsConfig) -> TrustDomains:
    """One bundle per CA of ``tls.ca_cert`` (PEM), the first as the hop's own; a CA naming no
    trust domain is labelled by its subject. InvalidInput ``BUNDLE_INVALID`` for a bad CA."""
    cas = x509.load_pem_x509_certificates(tls.ca_cert.read_bytes())
    bundles = [
        TrustBundle.from_pem(
            ca.public_bytes(Encoding.PEM),
            trust_domain=trust_domain_of(ca) or ca.subject.rfc4514_string(),
            source=str(tls.ca_cert),
        )
        for ca in cas
    ]
    return TrustDomains.of(bundles[0], bundles[1:])
