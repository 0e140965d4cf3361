"""Portable user identity (FGMV-43 9.4, IDIFC; issue 17): user DIDs, an SD-JWT VC identity
credential issued by the home M-Instance, presentations the user scopes, verification at the
destination, and the Token Status List that revokes credentials.

Modules, one job each:

- :mod:`.jose`: the thin layer over joserfc: base64url, Ed25519 JWKs, signing and verifying a
  compact JWS.
- :mod:`.user_did`: ``did:web:<m-instance>:users:<id>``, its DID document, the user's key pair.
- :mod:`.sdjwt`: SD-JWT (RFC 9901) disclosures, digests, ``~`` serialization and ``sd_hash``.
- :mod:`.claims`: the identity claims and the ``age_over_NN`` derived at issue time.
- :mod:`.credential`: issuing the SD-JWT VC (``typ`` ``dc+sd-jwt``) (FGMV-43 9.4 step 1).
- :mod:`.presentation`: the holder's scoped presentation with its KB-JWT (FGMV-43 9.4 step 2).
- :mod:`.status_list`: the IETF Token Status List (``statuslist+jwt``).
- :mod:`.nonces`: the destination's nonce store (bounded, expiring; refuses replays).
- :mod:`.policy`: the destination's eligibility rules (IDIR-303).
- :mod:`.verifier`: the destination's checks, in order (FGMV-43 9.4 step 3, IDIR-306).
- :mod:`.jwks`, :mod:`.published_keys`: the home's keys as a JWK Set, and read back from a
  DID document or JWK Set file for verifying outside the federation.
- :mod:`.store`: the home's files (users' held keys and credentials, the status list, the
  user's links to peers and the receipts of deletion they answered).
- :mod:`.linked`: the destination's linked identities (a Process per DID, only the disclosed
  claims; FGMV-43 9.4 step 4).
- :mod:`.receipts`: the user's signed unlink request and the destination's signed receipt of
  deletion (IDIR-204).

Carried over RE-4 by both gateways: gateway/identity_migration.py (home: RI-4 from operators,
presentation out, receipt kept) and gateway/identity_import.py (destination: nonce, verify,
eligibility from its manifesto, link, unlink), proto/mmmfed/api/v1/identity.proto.
- :mod:`.reputation`: the reputation credential (its published schema), its checks, and the
  destination's rule on it (IDIR-301/304/305).

Library choice (recorded as issue 17 asks). PyPI's ``sd-jwt`` (the OpenWallet Foundation reference,
0.10.4 the newest there) was tried and not taken: it is untyped (this project runs mypy strict),
signs ES256 by default through jwcrypto, reads its JWT ``typ`` from an environment variable, stamps
the KB-JWT ``iat`` from the wall clock with no way to inject time, leaves ``exp``/``nbf``/``iat``
unchecked ("TODO"), and reports every refusal as a bare ``ValueError``, so the distinct reasons
the destination must give (``AUDIENCE_MISMATCH``, ``PRESENTATION_REPLAYED``...) would have to be
read from message text. It has no SD-JWT VC (``dc+sd-jwt``, ``vct``) or status list support.
SD-JWT itself is small and fully specified (salted disclosures, SHA-256 digests, ``~``
separators), so we use ``joserfc`` 1.8 (typed, maintained, RFC 9864 ``Ed25519``) for the JWS
and keep the SD-JWT, SD-JWT VC and status list rules in this package, checked against the
independent ``@sd-jwt/sd-jwt-vc`` implementation (tests/interop).

Not yet here (issue 17): resolving user DIDs through the home gateway's key service over RE-5,
linking without migrating, Rights granted to a linked Process, registering it with the
destination's M-Instance (the link is kept by its gateway), synchronisation, appearance
eligibility criteria.
"""
