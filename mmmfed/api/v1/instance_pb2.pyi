from mmmfed.api.v1 import asset_pb2 as _asset_pb2
from mmmfed.api.v1 import item_pb2 as _item_pb2
from mmmfed.api.v1 import manifesto_pb2 as _manifesto_pb2
from mmmfed.api.v1 import process_action_pb2 as _process_action_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ActRequest(_message.Message):
    __slots__ = ("request", "origin_m_instance_id")
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    ORIGIN_M_INSTANCE_ID_FIELD_NUMBER: _ClassVar[int]
    request: _process_action_pb2.ProcessActionRequest
    origin_m_instance_id: str
    def __init__(self, request: _Optional[_Union[_process_action_pb2.ProcessActionRequest, _Mapping]] = ..., origin_m_instance_id: _Optional[str] = ...) -> None: ...

class QueryActivityRequest(_message.Message):
    __slots__ = ("process_id", "item_id", "since_ms", "until_ms", "limit")
    PROCESS_ID_FIELD_NUMBER: _ClassVar[int]
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    SINCE_MS_FIELD_NUMBER: _ClassVar[int]
    UNTIL_MS_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    process_id: str
    item_id: str
    since_ms: int
    until_ms: int
    limit: int
    def __init__(self, process_id: _Optional[str] = ..., item_id: _Optional[str] = ..., since_ms: _Optional[int] = ..., until_ms: _Optional[int] = ..., limit: _Optional[int] = ...) -> None: ...

class QueryActivityResponse(_message.Message):
    __slots__ = ("records_json",)
    RECORDS_JSON_FIELD_NUMBER: _ClassVar[int]
    records_json: _containers.RepeatedScalarFieldContainer[bytes]
    def __init__(self, records_json: _Optional[_Iterable[bytes]] = ...) -> None: ...

class RegisterHumanHeader(_message.Message):
    __slots__ = ("human_name", "display_name", "file_name", "licence")
    HUMAN_NAME_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    FILE_NAME_FIELD_NUMBER: _ClassVar[int]
    LICENCE_FIELD_NUMBER: _ClassVar[int]
    human_name: str
    display_name: str
    file_name: str
    licence: str
    def __init__(self, human_name: _Optional[str] = ..., display_name: _Optional[str] = ..., file_name: _Optional[str] = ..., licence: _Optional[str] = ...) -> None: ...

class RegisterHumanRequest(_message.Message):
    __slots__ = ("header", "chunk")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    header: RegisterHumanHeader
    chunk: bytes
    def __init__(self, header: _Optional[_Union[RegisterHumanHeader, _Mapping]] = ..., chunk: _Optional[bytes] = ...) -> None: ...

class RegisterHumanResponse(_message.Message):
    __slots__ = ("user_process_id", "account_id", "personal_profile_id", "persona")
    USER_PROCESS_ID_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    PERSONAL_PROFILE_ID_FIELD_NUMBER: _ClassVar[int]
    PERSONA_FIELD_NUMBER: _ClassVar[int]
    user_process_id: str
    account_id: str
    personal_profile_id: str
    persona: _item_pb2.ItemEnvelope
    def __init__(self, user_process_id: _Optional[str] = ..., account_id: _Optional[str] = ..., personal_profile_id: _Optional[str] = ..., persona: _Optional[_Union[_item_pb2.ItemEnvelope, _Mapping]] = ...) -> None: ...

class ExportAvatarRequest(_message.Message):
    __slots__ = ("user_process_id",)
    USER_PROCESS_ID_FIELD_NUMBER: _ClassVar[int]
    user_process_id: str
    def __init__(self, user_process_id: _Optional[str] = ...) -> None: ...

class ImportAvatarHeader(_message.Message):
    __slots__ = ("home_user_process_id", "home_m_instance_id", "persona", "home_item_id", "transfer_id")
    HOME_USER_PROCESS_ID_FIELD_NUMBER: _ClassVar[int]
    HOME_M_INSTANCE_ID_FIELD_NUMBER: _ClassVar[int]
    PERSONA_FIELD_NUMBER: _ClassVar[int]
    HOME_ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    TRANSFER_ID_FIELD_NUMBER: _ClassVar[int]
    home_user_process_id: str
    home_m_instance_id: str
    persona: _item_pb2.ItemEnvelope
    home_item_id: str
    transfer_id: str
    def __init__(self, home_user_process_id: _Optional[str] = ..., home_m_instance_id: _Optional[str] = ..., persona: _Optional[_Union[_item_pb2.ItemEnvelope, _Mapping]] = ..., home_item_id: _Optional[str] = ..., transfer_id: _Optional[str] = ...) -> None: ...

class ImportAvatarRequest(_message.Message):
    __slots__ = ("header", "chunk")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    header: ImportAvatarHeader
    chunk: bytes
    def __init__(self, header: _Optional[_Union[ImportAvatarHeader, _Mapping]] = ..., chunk: _Optional[bytes] = ...) -> None: ...

class ImportAvatarResponse(_message.Message):
    __slots__ = ("roaming_user_process_id", "persona", "bytes_received")
    ROAMING_USER_PROCESS_ID_FIELD_NUMBER: _ClassVar[int]
    PERSONA_FIELD_NUMBER: _ClassVar[int]
    BYTES_RECEIVED_FIELD_NUMBER: _ClassVar[int]
    roaming_user_process_id: str
    persona: _item_pb2.ItemEnvelope
    bytes_received: int
    def __init__(self, roaming_user_process_id: _Optional[str] = ..., persona: _Optional[_Union[_item_pb2.ItemEnvelope, _Mapping]] = ..., bytes_received: _Optional[int] = ...) -> None: ...

class GetDefaultAvatarRequest(_message.Message):
    __slots__ = ("home_user_process_id",)
    HOME_USER_PROCESS_ID_FIELD_NUMBER: _ClassVar[int]
    home_user_process_id: str
    def __init__(self, home_user_process_id: _Optional[str] = ...) -> None: ...

class GetDefaultAvatarResponse(_message.Message):
    __slots__ = ("persona",)
    PERSONA_FIELD_NUMBER: _ClassVar[int]
    persona: _item_pb2.ItemEnvelope
    def __init__(self, persona: _Optional[_Union[_item_pb2.ItemEnvelope, _Mapping]] = ...) -> None: ...

class GetManifestoRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ReadItemRequest(_message.Message):
    __slots__ = ("item_id",)
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    item_id: str
    def __init__(self, item_id: _Optional[str] = ...) -> None: ...
