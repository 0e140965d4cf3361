"""mmmfed's Items in MPAI MMM-TEC V2.2 data types (issue 15): :func:`encode` and :func:`decode`
between the M-Instance's domain documents and the V2.2 form that is stored, signed and sent."""

from mmmfed.v22.codec import decode, encode, header_of, item_type_of
from mmmfed.v22.fields import embedded_source

__all__ = ["decode", "embedded_source", "encode", "header_of", "item_type_of"]
