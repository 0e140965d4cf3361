"""MPAI's Market Classes (MMM-TEC V2.2 ``MMM4_V22_MarketClasses``): the class of market an Asset is
offered in, the ``MarketClass`` of an ASS Item.

The domain takes MPAI's codes only (:data:`MARKET_CLASSES`, in the order of MPAI's enum; a unit
test checks them against the shared MPAI document). The CLI also takes the plain words of
:data:`MARKET_CLASS_WORDS` (``collectible`` -> ``MC-DigitalCollectible``) and maps them here,
explicitly: anything else is refused with InvalidInput ``MARKET_CLASS_UNKNOWN`` naming the value
and listing the choices.
"""

from __future__ import annotations

from typing import Final

from mmmfed.errors import InvalidInput

SERVICE: Final = "MC-Service"
"""The one class whose Assets must state a pricing model (MPAI's Asset ``if MarketClass MC-Service
then required ServicePricingModel``)."""

MARKET_CLASSES: Final[tuple[str, ...]] = (
    SERVICE,
    "MC-DigitalCollectible",
    "MC-VirtualAsset",
    "MC-PhysicalGood",
    "MC-Experience",
    "MC-AccessRight",
    "MC-Donation",
)
"""MPAI's ``MMM4_V22_MarketClasses`` enum, in its order."""

MARKET_CLASS_WORDS: Final[dict[str, str]] = {
    "service": SERVICE,
    "collectible": "MC-DigitalCollectible",
    "virtual-asset": "MC-VirtualAsset",
    "physical-good": "MC-PhysicalGood",
    "experience": "MC-Experience",
    "access-right": "MC-AccessRight",
    "donation": "MC-Donation",
}
"""The words the CLI accepts beside the codes, one per code."""


def choices() -> str:
    """The accepted values, for messages and help: ``MC-Service (service), ...``."""
    words = {code: word for word, code in MARKET_CLASS_WORDS.items()}
    return ", ".join(f"{code} ({words[code]})" for code in MARKET_CLASSES)


def check_market_class(value: str) -> str:
    """``value`` if it is one of MPAI's codes or ``""`` (no class); InvalidInput
    ``MARKET_CLASS_UNKNOWN`` naming it otherwise (what the domain and gRPC RegisterAsset accept)."""
    if value == "" or value in MARKET_CLASSES:
        return value
    raise InvalidInput(
        f"MarketClass {value[:64]!r} is not an MMM-TEC V2.2 Market Class; use one of {', '.join(MARKET_CLASSES)}",
        reason="MARKET_CLASS_UNKNOWN",
    )


def market_class_of(text: str) -> str:
    """The code ``text`` names: a code itself, or a word of :data:`MARKET_CLASS_WORDS` (any case);
    ``""`` stays ``""``. InvalidInput ``MARKET_CLASS_UNKNOWN`` naming ``text`` and listing the
    choices otherwise (what the CLI accepts)."""
    if text == "" or text in MARKET_CLASSES:
        return text
    code = MARKET_CLASS_WORDS.get(text.strip().lower())
    if code is None:
        raise InvalidInput(
            f"market class {text[:64]!r} is unknown; choose one of {choices()}", reason="MARKET_CLASS_UNKNOWN"
        )
    return code
