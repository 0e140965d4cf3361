"""The bridge's Conversion Service: VRM 0.x / VRM 1.0 / glTF 2.0 binary to a plain glTF 2.0 GLB
that fits a target (triangle budget, texture format and size).

ITU FGMV-43 AVCF (avatar conversion); MPAI MMM-TEC Convert Action. Every input and output is
checked with the Khronos glTF validator (Node.js, npm ``gltf-validator``).
"""

from bridge.conversion.errors import (
    GLTF_VALIDATION_FAILED,
    IMAGE_TOO_LARGE,
    NOT_GLB,
    TRIANGLE_BUDGET_UNREACHABLE,
    UNSUPPORTED_INPUT,
    ConversionOutputInvalid,
    ConversionRefused,
    ConversionTimeout,
    ValidatorTimeout,
    ValidatorUnavailable,
)
from bridge.conversion.limits import ConversionLimits
from bridge.conversion.report import ConversionReport
from bridge.conversion.service import convert
from bridge.conversion.target import ConversionTarget
from bridge.conversion.validator import GltfValidator, ValidationResult

__all__ = [
    "GLTF_VALIDATION_FAILED",
    "IMAGE_TOO_LARGE",
    "NOT_GLB",
    "TRIANGLE_BUDGET_UNREACHABLE",
    "UNSUPPORTED_INPUT",
    "ConversionLimits",
    "ConversionOutputInvalid",
    "ConversionRefused",
    "ConversionReport",
    "ConversionTarget",
    "ConversionTimeout",
    "GltfValidator",
    "ValidationResult",
    "ValidatorTimeout",
    "ValidatorUnavailable",
    "convert",
]
