from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Proof(_message.Message):
    __slots__ = ("type", "proof_json")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    PROOF_JSON_FIELD_NUMBER: _ClassVar[int]
    type: str
    proof_json: bytes
    def __init__(self, type: _Optional[str] = ..., proof_json: _Optional[bytes] = ...) -> None: ...

class ItemEnvelope(_message.Message):
    __slots__ = ("item_json", "proofs")
    ITEM_JSON_FIELD_NUMBER: _ClassVar[int]
    PROOFS_FIELD_NUMBER: _ClassVar[int]
    item_json: bytes
    proofs: _containers.RepeatedCompositeFieldContainer[Proof]
    def __init__(self, item_json: _Optional[bytes] = ..., proofs: _Optional[_Iterable[_Union[Proof, _Mapping]]] = ...) -> None: ...

class ItemPart(_message.Message):
    __slots__ = ("envelope", "chunk")
    ENVELOPE_FIELD_NUMBER: _ClassVar[int]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    envelope: ItemEnvelope
    chunk: bytes
    def __init__(self, envelope: _Optional[_Union[ItemEnvelope, _Mapping]] = ..., chunk: _Optional[bytes] = ...) -> None: ...
