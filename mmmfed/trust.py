"""Trust domains: one CA bundle per M-Instance, kept apart, and who a verified TLS peer is.

Each M-Instance (and each bridge) is its own trust domain with its own CA, as SPIFFE has them. A
node holds its own domain's bundle and, for each peer it federates with, that peer's bundle; the
bundles are never merged into one pool of equals. A CA names its trust domain in a URI
subjectAltName ``mmmfed://trust-domain/<id>`` (written by ``mmmfed certs init``), so a bundle
handed to an operator says whose it is.

The TLS handshake accepts a client certificate issued by any CA the node holds (its server roots
are the union, because a handshake can only say "some trusted CA"). What the caller *is* is
decided afterwards, per call, by :meth:`TrustDomains.identify`: the trust domain whose bundle holds
the CA that directly issued the presented leaf certificate, and the ``mmmfed://<role>/<name>``
identities of that leaf. Authorizers (``mmmfed.tls``) then admit roles of the node's own domain
only from its own CA, and a peer's gateway only as that peer.

Bundles change at run time when a peer publishes a rotation (RE-5 ``GetBundle``):
:meth:`TrustDomains.set_peer` replaces one peer's bundle, clears the identification cache, and
the server's dynamic credentials pick up the new roots at the next handshake.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature

from mmmfed.errors import InvalidInput
from mmmfed.rpc_types import ServicerContext

URI_SCHEME = "mmmfed"
TRUST_DOMAIN_PREFIX = f"{URI_SCHEME}://trust-domain/"
BUNDLE_INVALID = "BUNDLE_INVALID"
# Distinct client certificates remembered by identify(); a peer cannot grow it past this.
IDENTIFY_CACHE_ENTRIES = 1024
# The caller of the call being served, as :meth:`TrustDomains.identify` found it: grpc.aio serves
# each call in a task of its own, so the guard's identification is reused by the servicer (a
# gateway's own-instance and peer checks) instead of asking the TLS layer for the certificate again.
_IDENTIFIED: ContextVar[tuple[object, object, Caller] | None] = ContextVar("mmmfed_identified_caller", default=None)
# A bundle larger than this is not a CA bundle (a few CAs are a few KB).
MAX_BUNDLE_BYTES = 256 * 1024


@dataclass(frozen=True)
class PeerIdentity:
    """One ``mmmfed://<role>/<name>`` identity of a verified certificate."""

    role: str
    name: str


@dataclass(frozen=True)
class Caller:
    """Who a verified TLS client is.

    Attributes:
        trust_domains: every trust domain whose bundle issued the client's certificate, this
            node's own first (more than one only when an operator configured a bridge of its own
            trust domain, whose bundle is then its own CA); empty when no bundle held now issued
            it (e.g. a CA removed by a rotation).
        own: True when this node's own trust domain issued it.
        identities: the certificate's ``mmmfed://<role>/<name>`` identities.
    """

    trust_domains: tuple[str, ...]
    own: bool
    identities: tuple[PeerIdentity, ...] = ()

    @property
    def trust_domain(self) -> str | None:
        """The first of :attr:`trust_domains` (None if there is none)."""
        return self.trust_domains[0] if self.trust_domains else None

    def describe(self) -> str:
        """``role/name@domain, ...`` for messages and logs."""
        domain = self.trust_domain or "no trust domain held here"
        who = ", ".join(f"{i.role}/{i.name}" for i in self.identities) or "no mmmfed identity"
        return f"{who} of {domain}"


def _uris(cert: x509.Certificate) -> list[str]:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    return list(san.get_values_for_type(x509.UniformResourceIdentifier))


def identities_of(cert: x509.Certificate) -> tuple[PeerIdentity, ...]:
    """The ``mmmfed://<role>/<name>`` URI subjectAltNames of ``cert``."""
    return identities_from_uris(_uris(cert))


def identities_from_uris(uris: Iterable[str]) -> tuple[PeerIdentity, ...]:
    """The ``mmmfed://<role>/<name>`` identities among URI subjectAltNames ``uris``."""
    out = []
    for uri in uris:
        if uri.startswith(f"{URI_SCHEME}://") and not uri.startswith(TRUST_DOMAIN_PREFIX):
            role, _, name = uri.removeprefix(f"{URI_SCHEME}://").partition("/")
            out.append(PeerIdentity(role=role, name=name))
    return tuple(out)


def trust_domain_of(ca: x509.Certificate) -> str | None:
    """The trust domain a CA certificate names (``mmmfed://trust-domain/<id>``), if any."""
    return next((u.removeprefix(TRUST_DOMAIN_PREFIX) for u in _uris(ca) if u.startswith(TRUST_DOMAIN_PREFIX)), None)


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


@dataclass(frozen=True)
class TrustBundle:
    """The CA certificates of one trust domain (during a rotation, the old and the new CA).

    Attributes:
        trust_domain: the domain's id (an M-Instance id such as ``a.example``, or a bridge id).
        pem: the bundle as PEM bytes, exactly as loaded.
        cas: the parsed CA certificates.
    """

    trust_domain: str
    pem: bytes
    cas: tuple[x509.Certificate, ...]

    @classmethod
    def from_pem(cls, pem: bytes, *, trust_domain: str, source: str) -> TrustBundle:
        """Parse and check a bundle said to be ``trust_domain``'s.

        Every certificate must be a CA (basicConstraints CA:TRUE), self-signed, within its
        validity, and, if it names a trust domain, name ``trust_domain``.

        Raises:
            InvalidInput (reason ``BUNDLE_INVALID``): the message names ``source`` and what is wrong.
        """

        def invalid(why: str) -> InvalidInput:
            return InvalidInput(f"CA bundle {source} for {trust_domain}: {why}", reason=BUNDLE_INVALID)

        if len(pem) > MAX_BUNDLE_BYTES:
            raise invalid(f"{len(pem)} bytes is more than a CA bundle ({MAX_BUNDLE_BYTES} at most)")
        try:
            cas = tuple(x509.load_pem_x509_certificates(pem))
        except ValueError as err:
            raise invalid(f"not PEM certificates ({err}); pass the ca.pem that `mmmfed certs init` made") from err
        now = dt.datetime.now(dt.UTC)
        for ca in cas:
            subject = ca.subject.rfc4514_string()
            if not _is_ca(ca):
                raise invalid(f"{subject} is not a CA certificate; pass the CA's ca.pem, not a node certificate")
            try:
                ca.verify_directly_issued_by(ca)
            except (ValueError, TypeError, InvalidSignature) as err:
                raise invalid(f"{subject} is not self-signed") from err
            if not ca.not_valid_before_utc <= now <= ca.not_valid_after_utc:
                window = f"{ca.not_valid_before_utc:%Y-%m-%d} to {ca.not_valid_after_utc:%Y-%m-%d}"
                raise invalid(f"{subject} is not valid now (valid {window})")
            named = trust_domain_of(ca)
            if named is not None and named != trust_domain:
                raise invalid(f"{subject} is the CA of trust domain {named}, not {trust_domain}")
        return cls(trust_domain=trust_domain, pem=pem, cas=cas)

    @classmethod
    def load(cls, path: Path, *, trust_domain: str) -> TrustBundle:
        """Read ``path`` and parse it with :meth:`from_pem`; InvalidInput ``BUNDLE_INVALID`` if
        unreadable (the message names the file)."""
        try:
            pem = path.read_bytes()
        except OSError as err:
            raise InvalidInput(
                f"CA bundle {path} for {trust_domain}: cannot read it ({err.strerror})", reason=BUNDLE_INVALID
            ) from err
        return cls.from_pem(pem, trust_domain=trust_domain, source=str(path))

    @staticmethod
    def named_domain(path: Path) -> str | None:
        """The trust domain the first CA in ``path`` names, if the file is readable PEM and it names
        one (a bridge's bundle: the bridge's own domain, or its operator's M-Instance)."""
        try:
            cas = x509.load_pem_x509_certificates(path.read_bytes())
        except (OSError, ValueError):
            return None
        return trust_domain_of(cas[0]) if cas else None

    @property
    def digest(self) -> str:
        """SHA-256 hex of :attr:`pem`."""
        return hashlib.sha256(self.pem).hexdigest()

    def issued(self, leaf: x509.Certificate) -> bool:
        """True when a CA of this bundle directly issued ``leaf`` (name and signature)."""
        for ca in self.cas:
            try:
                leaf.verify_directly_issued_by(ca)
            except (ValueError, TypeError, InvalidSignature):
                continue
            return True
        return False


@dataclass
class TrustDomains:
    """The bundles a node holds: its own trust domain's and one per peer (thread-safe).

    Args:
        own: this node's own trust domain's bundle.
        peers: trust domain id -> bundle, for each peer M-Instance or bridge this node trusts.
    """

    own: TrustBundle
    peers: dict[str, TrustBundle] = field(default_factory=dict)
    _cache: OrderedDict[bytes, Caller] = field(default_factory=OrderedDict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    version: int = 0

    @classmethod
    def of(cls, own: TrustBundle, peers: Iterable[TrustBundle] = ()) -> TrustDomains:
        """Trust domains from bundles; InvalidInput ``BUNDLE_INVALID`` if a peer names this
        node's own domain or two peers one domain. (A bridge's bundle may be the node's own CA:
        an operator's own bridge.)"""
        by_domain: dict[str, TrustBundle] = {}
        for bundle in peers:
            if bundle.trust_domain == own.trust_domain:
                if bundle.pem != own.pem:
                    raise InvalidInput(
                        f"a CA bundle other than this node's own is configured for its own trust domain "
                        f"{own.trust_domain}",
                        reason=BUNDLE_INVALID,
                    )
                continue  # a node of this node's own trust domain: its own CA covers it
            if bundle.trust_domain in by_domain and by_domain[bundle.trust_domain].pem != bundle.pem:
                raise InvalidInput(
                    f"two different CA bundles are configured for {bundle.trust_domain}", reason=BUNDLE_INVALID
                )
            by_domain[bundle.trust_domain] = bundle
        return cls(own=own, peers=by_domain)

    @property
    def own_domain(self) -> str:
        return self.own.trust_domain

    def server_roots(self) -> bytes:
        """PEM of every CA held (own first): the roots a handshake accepts client certificates from."""
        with self._lock:
            return b"".join([self.own.pem, *(b.pem for b in self.peers.values())])

    def peer_bundle(self, trust_domain: str) -> TrustBundle | None:
        with self._lock:
            return self.peers.get(trust_domain)

    def set_peer(self, bundle: TrustBundle) -> bool:
        """Replace one peer's bundle (a rotation it published); True if it changed. Calls
        identified before are identified again."""
        with self._lock:
            if bundle.trust_domain == self.own.trust_domain:
                raise InvalidInput("a peer cannot replace this node's own trust domain", reason=BUNDLE_INVALID)
            current = self.peers.get(bundle.trust_domain)
            if current is not None and current.pem == bundle.pem:
                return False
            self.peers[bundle.trust_domain] = bundle
            self._cache.clear()
            self.version += 1
            return True

    def identify_pem(self, pem: bytes) -> Caller:
        """Who holds the (already TLS-verified) leaf certificate ``pem``; cached per certificate."""
        with self._lock:
            hit = self._cache.get(pem)
            if hit is not None:
                self._cache.move_to_end(pem)
                return hit
            bundles = [self.own, *self.peers.values()]
        try:
            leaf = x509.load_pem_x509_certificate(pem)
        except ValueError:
            return Caller(trust_domains=(), own=False)
        issuers = [b for b in bundles if b.issued(leaf)]
        caller = Caller(
            trust_domains=tuple(b.trust_domain for b in issuers),
            own=bool(issuers) and issuers[0] is self.own,
            identities=identities_of(leaf),
        )
        with self._lock:
            self._cache[pem] = caller
            while len(self._cache) > IDENTIFY_CACHE_ENTRIES:
                self._cache.popitem(last=False)
        return caller

    def identify(self, context: ServicerContext) -> Caller:
        """Who the client of ``context`` is (its certificate as the TLS layer verified it); found
        once per call and these trust domains (the guard's answer is the servicer's)."""
        hit = _IDENTIFIED.get()
        if hit is not None and hit[0] is context and hit[1] is self:
            return hit[2]
        pem = next(iter(context.auth_context().get("x509_pem_cert") or ()), None)
        caller = self.identify_pem(bytes(pem)) if pem is not None else Caller(trust_domains=(), own=False)
        _IDENTIFIED.set((context, self, caller))
        return caller


def bundles_from(paths: Mapping[str, Path]) -> list[TrustBundle]:
    """Load one bundle per trust domain id from ``paths`` (InvalidInput ``BUNDLE_INVALID``)."""
    return [TrustBundle.load(path, trust_domain=domain) for domain, path in paths.items()]
