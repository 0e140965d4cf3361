from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class DeonticVerb(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DEONTIC_VERB_UNSPECIFIED: _ClassVar[DeonticVerb]
    DEONTIC_VERB_MAY: _ClassVar[DeonticVerb]
    DEONTIC_VERB_MAY_NOT: _ClassVar[DeonticVerb]
    DEONTIC_VERB_MUST: _ClassVar[DeonticVerb]

class ComplementKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    COMPLEMENT_KIND_UNSPECIFIED: _ClassVar[ComplementKind]
    COMPLEMENT_KIND_NIL: _ClassVar[ComplementKind]
    COMPLEMENT_KIND_AT: _ClassVar[ComplementKind]
    COMPLEMENT_KIND_FROM: _ClassVar[ComplementKind]
    COMPLEMENT_KIND_TO: _ClassVar[ComplementKind]
    COMPLEMENT_KIND_WITH: _ClassVar[ComplementKind]
    COMPLEMENT_KIND_OF: _ClassVar[ComplementKind]

class PAErrorCode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PA_ERROR_CODE_UNSPECIFIED: _ClassVar[PAErrorCode]
    PA_ERROR_CODE_CLASH: _ClassVar[PAErrorCode]
    PA_ERROR_CODE_FAULTY_REQ: _ClassVar[PAErrorCode]
    PA_ERROR_CODE_INC_ID: _ClassVar[PAErrorCode]
    PA_ERROR_CODE_INC_DQ: _ClassVar[PAErrorCode]
    PA_ERROR_CODE_INS_RIGHTS: _ClassVar[PAErrorCode]
    PA_ERROR_CODE_INS_VALUE: _ClassVar[PAErrorCode]
    PA_ERROR_CODE_LOC_OOR: _ClassVar[PAErrorCode]
    PA_ERROR_CODE_POST_REF: _ClassVar[PAErrorCode]
    PA_ERROR_CODE_QUAL_NS: _ClassVar[PAErrorCode]
DEONTIC_VERB_UNSPECIFIED: DeonticVerb
DEONTIC_VERB_MAY: DeonticVerb
DEONTIC_VERB_MAY_NOT: DeonticVerb
DEONTIC_VERB_MUST: DeonticVerb
COMPLEMENT_KIND_UNSPECIFIED: ComplementKind
COMPLEMENT_KIND_NIL: ComplementKind
COMPLEMENT_KIND_AT: ComplementKind
COMPLEMENT_KIND_FROM: ComplementKind
COMPLEMENT_KIND_TO: ComplementKind
COMPLEMENT_KIND_WITH: ComplementKind
COMPLEMENT_KIND_OF: ComplementKind
PA_ERROR_CODE_UNSPECIFIED: PAErrorCode
PA_ERROR_CODE_CLASH: PAErrorCode
PA_ERROR_CODE_FAULTY_REQ: PAErrorCode
PA_ERROR_CODE_INC_ID: PAErrorCode
PA_ERROR_CODE_INC_DQ: PAErrorCode
PA_ERROR_CODE_INS_RIGHTS: PAErrorCode
PA_ERROR_CODE_INS_VALUE: PAErrorCode
PA_ERROR_CODE_LOC_OOR: PAErrorCode
PA_ERROR_CODE_POST_REF: PAErrorCode
PA_ERROR_CODE_QUAL_NS: PAErrorCode

class Complement(_message.Message):
    __slots__ = ("kind", "item_id", "process_id")
    KIND_FIELD_NUMBER: _ClassVar[int]
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    PROCESS_ID_FIELD_NUMBER: _ClassVar[int]
    kind: ComplementKind
    item_id: str
    process_id: str
    def __init__(self, kind: _Optional[_Union[ComplementKind, str]] = ..., item_id: _Optional[str] = ..., process_id: _Optional[str] = ...) -> None: ...

class IfEvent(_message.Message):
    __slots__ = ("process_action_id", "at_time_ms", "on_action")
    PROCESS_ACTION_ID_FIELD_NUMBER: _ClassVar[int]
    AT_TIME_MS_FIELD_NUMBER: _ClassVar[int]
    ON_ACTION_FIELD_NUMBER: _ClassVar[int]
    process_action_id: str
    at_time_ms: int
    on_action: ActionEvent
    def __init__(self, process_action_id: _Optional[str] = ..., at_time_ms: _Optional[int] = ..., on_action: _Optional[_Union[ActionEvent, _Mapping]] = ...) -> None: ...

class ActionEvent(_message.Message):
    __slots__ = ("action", "item_id")
    ACTION_FIELD_NUMBER: _ClassVar[int]
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    action: str
    item_id: str
    def __init__(self, action: _Optional[str] = ..., item_id: _Optional[str] = ...) -> None: ...

class RightSpec(_message.Message):
    __slots__ = ("deontic_verb", "action", "level", "valid_from_ms", "valid_until_ms")
    DEONTIC_VERB_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    VALID_FROM_MS_FIELD_NUMBER: _ClassVar[int]
    VALID_UNTIL_MS_FIELD_NUMBER: _ClassVar[int]
    deontic_verb: DeonticVerb
    action: str
    level: str
    valid_from_ms: int
    valid_until_ms: int
    def __init__(self, deontic_verb: _Optional[_Union[DeonticVerb, str]] = ..., action: _Optional[str] = ..., level: _Optional[str] = ..., valid_from_ms: _Optional[int] = ..., valid_until_ms: _Optional[int] = ...) -> None: ...

class ProcessActionRequest(_message.Message):
    __slots__ = ("header", "m_instance_id", "process_action_id", "source_process_id", "destination_process_id", "deontic_verb", "action", "rq_complements", "if_event", "time_ms", "payment", "rights", "items_json")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    M_INSTANCE_ID_FIELD_NUMBER: _ClassVar[int]
    PROCESS_ACTION_ID_FIELD_NUMBER: _ClassVar[int]
    SOURCE_PROCESS_ID_FIELD_NUMBER: _ClassVar[int]
    DESTINATION_PROCESS_ID_FIELD_NUMBER: _ClassVar[int]
    DEONTIC_VERB_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    RQ_COMPLEMENTS_FIELD_NUMBER: _ClassVar[int]
    IF_EVENT_FIELD_NUMBER: _ClassVar[int]
    TIME_MS_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_FIELD_NUMBER: _ClassVar[int]
    RIGHTS_FIELD_NUMBER: _ClassVar[int]
    ITEMS_JSON_FIELD_NUMBER: _ClassVar[int]
    header: str
    m_instance_id: str
    process_action_id: str
    source_process_id: str
    destination_process_id: str
    deontic_verb: DeonticVerb
    action: str
    rq_complements: _containers.RepeatedCompositeFieldContainer[Complement]
    if_event: IfEvent
    time_ms: int
    payment: Value
    rights: _containers.RepeatedCompositeFieldContainer[RightSpec]
    items_json: _containers.RepeatedScalarFieldContainer[bytes]
    def __init__(self, header: _Optional[str] = ..., m_instance_id: _Optional[str] = ..., process_action_id: _Optional[str] = ..., source_process_id: _Optional[str] = ..., destination_process_id: _Optional[str] = ..., deontic_verb: _Optional[_Union[DeonticVerb, str]] = ..., action: _Optional[str] = ..., rq_complements: _Optional[_Iterable[_Union[Complement, _Mapping]]] = ..., if_event: _Optional[_Union[IfEvent, _Mapping]] = ..., time_ms: _Optional[int] = ..., payment: _Optional[_Union[Value, _Mapping]] = ..., rights: _Optional[_Iterable[_Union[RightSpec, _Mapping]]] = ..., items_json: _Optional[_Iterable[bytes]] = ...) -> None: ...

class Value(_message.Message):
    __slots__ = ("amount_minor", "currency_id")
    AMOUNT_MINOR_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_ID_FIELD_NUMBER: _ClassVar[int]
    amount_minor: int
    currency_id: str
    def __init__(self, amount_minor: _Optional[int] = ..., currency_id: _Optional[str] = ...) -> None: ...

class PAStatus(_message.Message):
    __slots__ = ("ack", "request", "error")
    ACK_FIELD_NUMBER: _ClassVar[int]
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    ack: bool
    request: Value
    error: PAError
    def __init__(self, ack: _Optional[bool] = ..., request: _Optional[_Union[Value, _Mapping]] = ..., error: _Optional[_Union[PAError, _Mapping]] = ...) -> None: ...

class PAError(_message.Message):
    __slots__ = ("code", "reason")
    CODE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    code: PAErrorCode
    reason: str
    def __init__(self, code: _Optional[_Union[PAErrorCode, str]] = ..., reason: _Optional[str] = ...) -> None: ...

class ProcessActionResponse(_message.Message):
    __slots__ = ("process_action_id", "rs_complements", "pa_status", "time_ms", "items_json", "m_instance_id")
    PROCESS_ACTION_ID_FIELD_NUMBER: _ClassVar[int]
    RS_COMPLEMENTS_FIELD_NUMBER: _ClassVar[int]
    PA_STATUS_FIELD_NUMBER: _ClassVar[int]
    TIME_MS_FIELD_NUMBER: _ClassVar[int]
    ITEMS_JSON_FIELD_NUMBER: _ClassVar[int]
    M_INSTANCE_ID_FIELD_NUMBER: _ClassVar[int]
    process_action_id: str
    rs_complements: _containers.RepeatedCompositeFieldContainer[Complement]
    pa_status: PAStatus
    time_ms: int
    items_json: _containers.RepeatedScalarFieldContainer[bytes]
    m_instance_id: str
    def __init__(self, process_action_id: _Optional[str] = ..., rs_complements: _Optional[_Iterable[_Union[Complement, _Mapping]]] = ..., pa_status: _Optional[_Union[PAStatus, _Mapping]] = ..., time_ms: _Optional[int] = ..., items_json: _Optional[_Iterable[bytes]] = ..., m_instance_id: _Optional[str] = ...) -> None: ...
