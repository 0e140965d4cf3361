from mmmfed.api.v1 import item_pb2 as _item_pb2
from mmmfed.api.v1 import manifesto_pb2 as _manifesto_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class GetBridgeManifestoRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class CreateVirtualBridgeRequest(_message.Message):
    __slots__ = ("from_m_instance_id", "to_m_instance_id", "features")
    FROM_M_INSTANCE_ID_FIELD_NUMBER: _ClassVar[int]
    TO_M_INSTANCE_ID_FIELD_NUMBER: _ClassVar[int]
    FEATURES_FIELD_NUMBER: _ClassVar[int]
    from_m_instance_id: str
    to_m_instance_id: str
    features: _containers.RepeatedCompositeFieldContainer[_manifesto_pb2.NegotiatedFeature]
    def __init__(self, from_m_instance_id: _Optional[str] = ..., to_m_instance_id: _Optional[str] = ..., features: _Optional[_Iterable[_Union[_manifesto_pb2.NegotiatedFeature, _Mapping]]] = ...) -> None: ...

class CreateVirtualBridgeResponse(_message.Message):
    __slots__ = ("virtual_bridge_id", "offer_v")
    VIRTUAL_BRIDGE_ID_FIELD_NUMBER: _ClassVar[int]
    OFFER_V_FIELD_NUMBER: _ClassVar[int]
    virtual_bridge_id: str
    offer_v: _manifesto_pb2.Manifesto
    def __init__(self, virtual_bridge_id: _Optional[str] = ..., offer_v: _Optional[_Union[_manifesto_pb2.Manifesto, _Mapping]] = ...) -> None: ...

class ConvertHeader(_message.Message):
    __slots__ = ("virtual_bridge_id", "item", "target")
    VIRTUAL_BRIDGE_ID_FIELD_NUMBER: _ClassVar[int]
    ITEM_FIELD_NUMBER: _ClassVar[int]
    TARGET_FIELD_NUMBER: _ClassVar[int]
    virtual_bridge_id: str
    item: _item_pb2.ItemEnvelope
    target: _manifesto_pb2.Feature
    def __init__(self, virtual_bridge_id: _Optional[str] = ..., item: _Optional[_Union[_item_pb2.ItemEnvelope, _Mapping]] = ..., target: _Optional[_Union[_manifesto_pb2.Feature, _Mapping]] = ...) -> None: ...

class ConvertRequest(_message.Message):
    __slots__ = ("header", "chunk")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    header: ConvertHeader
    chunk: bytes
    def __init__(self, header: _Optional[_Union[ConvertHeader, _Mapping]] = ..., chunk: _Optional[bytes] = ...) -> None: ...

class ConvertResponse(_message.Message):
    __slots__ = ("item", "chunk", "report_json")
    ITEM_FIELD_NUMBER: _ClassVar[int]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    REPORT_JSON_FIELD_NUMBER: _ClassVar[int]
    item: _item_pb2.ItemEnvelope
    chunk: bytes
    report_json: bytes
    def __init__(self, item: _Optional[_Union[_item_pb2.ItemEnvelope, _Mapping]] = ..., chunk: _Optional[bytes] = ..., report_json: _Optional[bytes] = ...) -> None: ...
