"""Trust bundles and caller identification (mmmfed/trust.py; issue 12 items 1-2)."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from certs import NodeRole, issue_node, make_ca
from mmmfed.errors import InvalidInput
from mmmfed.trust import IDENTIFY_CACHE_ENTRIES, PeerIdentity, TrustBundle, TrustDomains


def _bundle(domain: str) -> tuple[TrustBundle, x509.Certificate, ec.EllipticCurvePrivateKey]:
    issued, cert, key = make_ca(domain)
    return TrustBundle.from_pem(issued.cert_pem, trust_domain=domain, source="test"), cert, key


@pytest.mark.parametrize(
    ("pem", "why"),
    [
        (b"not pem", "not PEM certificates"),
        (b"", "not PEM certificates"),
    ],
)
def test_a_bundle_that_is_not_pem_is_refused(pem: bytes, why: str) -> None:
    with pytest.raises(InvalidInput) as err:
        TrustBundle.from_pem(pem, trust_domain="a.example", source="f.pem")
    assert err.value.reason == "BUNDLE_INVALID" and why in err.value.message and "f.pem" in err.value.message


def test_a_node_certificate_another_domains_ca_or_an_expired_ca_is_not_a_bundle() -> None:
    """Only CA certificates of the named trust domain, valid now, make a bundle."""
    _, cert, key = make_ca("a.example")
    leaf = issue_node(cert, key, "gateway.a.example", NodeRole.GATEWAY)
    with pytest.raises(InvalidInput, match="not a CA certificate"):
        TrustBundle.from_pem(leaf.cert_pem, trust_domain="a.example", source="leaf")
    other, _, _ = make_ca("b.example")
    with pytest.raises(InvalidInput, match=re.escape("CA of trust domain b.example, not a.example")):
        TrustBundle.from_pem(other.cert_pem, trust_domain="a.example", source="b")
    old, _, _ = make_ca("a.example", not_before=dt.datetime.now(dt.UTC) - dt.timedelta(days=400), valid_days=30)
    with pytest.raises(InvalidInput, match="not valid now"):
        TrustBundle.from_pem(old.cert_pem, trust_domain="a.example", source="old")


def test_identify_names_the_issuing_trust_domain_and_roles() -> None:
    """A leaf is attributed to the bundle whose CA issued it: own, a peer's, or none."""
    own, own_cert, own_key = _bundle("a.example")
    peer, peer_cert, peer_key = _bundle("b.example")
    _, c_cert, c_key = make_ca("c.example")
    domains = TrustDomains.of(own, [peer])
    mine = issue_node(own_cert, own_key, "operator.a.example", NodeRole.OPERATOR)
    theirs = issue_node(peer_cert, peer_key, "gateway.a.example", NodeRole.GATEWAY)
    stranger = issue_node(c_cert, c_key, "gateway.b.example", NodeRole.GATEWAY)
    caller = domains.identify_pem(mine.cert_pem)
    assert (caller.own, caller.trust_domains) == (True, ("a.example",))
    assert caller.identities == (PeerIdentity("operator", "operator.a.example"),)
    caller = domains.identify_pem(theirs.cert_pem)
    assert (caller.own, caller.trust_domains) == (False, ("b.example",))  # a's name, b's CA: b's
    assert domains.identify_pem(stranger.cert_pem).trust_domains == ()


def test_set_peer_replaces_one_bundle_and_forgets_earlier_identifications() -> None:
    """A rotation's new bundle applies at once: a certificate of a CA no longer in the peer's
    bundle is no longer that peer's."""
    own, _, _ = _bundle("a.example")
    peer, peer_cert, peer_key = _bundle("b.example")
    domains = TrustDomains.of(own, [peer])
    leaf = issue_node(peer_cert, peer_key, "gateway.b.example", NodeRole.GATEWAY)
    assert domains.identify_pem(leaf.cert_pem).trust_domain == "b.example"
    rotated, _, _ = _bundle("b.example")
    version = domains.version
    assert domains.set_peer(rotated) is True and domains.version == version + 1
    assert domains.identify_pem(leaf.cert_pem).trust_domain is None
    assert domains.set_peer(rotated) is False
    with pytest.raises(InvalidInput) as err:
        domains.set_peer(own)
    assert err.value.reason == "BUNDLE_INVALID"


def test_bundles_are_kept_apart() -> None:
    """A peer may not bring another CA for this node's own domain, nor two peers one domain."""
    own, _, _ = _bundle("a.example")
    impostor, _, _ = _bundle("a.example")
    with pytest.raises(InvalidInput, match="its own trust domain"):
        TrustDomains.of(own, [impostor])
    b1, _, _ = _bundle("b.example")
    b2, _, _ = _bundle("b.example")
    with pytest.raises(InvalidInput, match="two different CA bundles"):
        TrustDomains.of(own, [b1, b2])
    assert TrustDomains.of(own, [own]).peers == {}  # an own-domain node listed explicitly


def test_the_identification_cache_is_bounded() -> None:
    """However many distinct certificates a peer presents, at most IDENTIFY_CACHE_ENTRIES are kept."""
    own, cert, key = _bundle("a.example")
    domains = TrustDomains.of(own)
    leaf = issue_node(cert, key, "x.a.example", NodeRole.OPERATOR)
    for n in range(IDENTIFY_CACHE_ENTRIES + 50):
        domains.identify_pem(leaf.cert_pem + b"\n" * (n % 7) + str(n).encode())
    assert len(domains._cache) == IDENTIFY_CACHE_ENTRIES
