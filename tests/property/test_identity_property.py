"""Properties of the identity presentation (FGMV-43 9.4 steps 2-3; IDIR-306), over every choice
of claims and every single-character change: the destination sees exactly the claims chosen, and
a presentation changed anywhere after the holder signed it is refused. One home and credential
for the module (issuing is the slow part); each example gets its own verifier and nonce."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit"))  # the home set-up of the unit tests
from identity_helpers import ADULT, DEST, T0_S, Home, make_home, make_verifier

from mmmfed.errors import MmmfedError
from mmmfed.identity.presentation import present
from mmmfed.identity.sdjwt import SdJwt
from mmmfed.identity.verifier import IdentityVerifier

ISSUED_ON = dt.date(2027, 1, 15)  # the UTC date of T0_S
CLAIMS = sorted(ADULT.claims(issued_on=ISSUED_ON))
B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> tuple[Home, SdJwt]:
    home = make_home(tmp_path_factory.mktemp("identity-property"))
    return home, home.issue()


def _presentation(home: Home, issued: SdJwt, chosen: list[str]) -> tuple[str, IdentityVerifier]:
    verifier = make_verifier(home)
    nonce = verifier.nonces.issue(now_s=T0_S)
    assert home.user.signing_key is not None
    shown = present(issued, disclose=chosen, audience=DEST, nonce=nonce, holder_key=home.user.signing_key, iat_s=T0_S)
    return shown.serialize(), verifier


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(chosen=st.lists(st.sampled_from(CLAIMS), unique=True))
def test_fgmv43_9_4_step3_exactly_the_chosen_claims_arrive(world: tuple[Home, SdJwt], chosen: list[str]) -> None:
    home, issued = world
    text, verifier = _presentation(home, issued, chosen)
    disclosed = verifier.verify(text, now_s=T0_S).disclosed
    assert set(disclosed) == set(chosen)
    expected = ADULT.claims(issued_on=ISSUED_ON)
    assert disclosed == {name: expected[name] for name in chosen}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_idir306_any_changed_character_is_refused(world: tuple[Home, SdJwt], data: st.DataObject) -> None:
    """Replace one base64url character anywhere (issuer JWT, a disclosure, the KB-JWT): refused
    with a reason, never accepted and never an unexpected exception (a changed last character
    that decodes to the same bytes is refused as non-canonical base64url)."""
    home, issued = world
    text, verifier = _presentation(home, issued, ["name", "age_over_18", "languages"])
    positions = [i for i, c in enumerate(text) if c in B64URL]
    at = data.draw(st.sampled_from(positions), label="position")
    replacement = data.draw(st.sampled_from([c for c in B64URL if c != text[at]]), label="replacement")
    changed = text[:at] + replacement + text[at + 1 :]
    with pytest.raises(MmmfedError) as info:
        verifier.verify(changed, now_s=T0_S)
    assert info.value.reason.isupper() and info.value.reason != "INTERNAL", info.value
