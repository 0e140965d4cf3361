"""Errors of the Conversion Service (ITU FGMV-43 AVCF; MPAI MMM-TEC Convert Action).

Reasons are stable, machine-readable strings sent to the peer in ``google.rpc.ErrorInfo``
(FGMV-43 AVIR-202 refusal reasons):

- ``GLTF_VALIDATION_FAILED``: the Khronos glTF validator reports errors for the input.
- ``NOT_GLB``: the bytes are not a GLB (glTF 2.0 binary): bad magic, version, header or chunk
  lengths, truncated, JSON chunk not an object, or data outside its buffer.
- ``TRIANGLE_BUDGET_UNREACHABLE``: simplification cannot meet the target's triangle budget.
- ``IMAGE_TOO_LARGE``: an image's header gives a size over the bridge's limits (checked
  before decoding; issue 12 item 6).
- ``UNSUPPORTED_INPUT``: valid glTF that this service does not convert (external or
  compressed data, image formats other than PNG/JPEG, required unknown extensions).
"""

from __future__ import annotations

import grpc

from mmmfed.errors import InvalidInput, MmmfedError

GLTF_VALIDATION_FAILED = "GLTF_VALIDATION_FAILED"
IMAGE_TOO_LARGE = "IMAGE_TOO_LARGE"
NOT_GLB = "NOT_GLB"
TRIANGLE_BUDGET_UNREACHABLE = "TRIANGLE_BUDGET_UNREACHABLE"
UNSUPPORTED_INPUT = "UNSUPPORTED_INPUT"


class ConversionRefused(InvalidInput):
    """The Conversion Service will not convert this input (gRPC INVALID_ARGUMENT).

    ``reason`` is one of the module constants above; the message says what is wrong.
    """

    reason = UNSUPPORTED_INPUT


class ValidatorUnavailable(MmmfedError):
    """The glTF validator could not run: Node.js or the npm package ``gltf-validator`` is
    missing, or the validator process failed (gRPC INTERNAL, reason ``VALIDATOR_UNAVAILABLE``).
    """

    code = grpc.StatusCode.INTERNAL
    reason = "VALIDATOR_UNAVAILABLE"


class ConversionOutputInvalid(MmmfedError):
    """The converted file failed the glTF validator: a bug in this service, never sent on
    (gRPC INTERNAL, reason ``CONVERSION_OUTPUT_INVALID``)."""

    code = grpc.StatusCode.INTERNAL
    reason = "CONVERSION_OUTPUT_INVALID"


class ValidatorTimeout(MmmfedError):
    """The glTF validator did not finish within its time limit and was killed (gRPC
    DEADLINE_EXCEEDED, reason ``VALIDATOR_TIMEOUT``; issue 12 item 6)."""

    code = grpc.StatusCode.DEADLINE_EXCEEDED
    reason = "VALIDATOR_TIMEOUT"


class ConversionTimeout(MmmfedError):
    """The conversion did not finish within its time limit (gRPC DEADLINE_EXCEEDED, reason
    ``CONVERSION_TIMEOUT``; issue 12 item 6)."""

    code = grpc.StatusCode.DEADLINE_EXCEEDED
    reason = "CONVERSION_TIMEOUT"
