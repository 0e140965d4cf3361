from mmmfed.api.v1 import asset_pb2 as _asset_pb2
from mmmfed.api.v1 import item_pb2 as _item_pb2
from mmmfed.api.v1 import manifesto_pb2 as _manifesto_pb2
from mmmfed.api.v1 import process_action_pb2 as _process_action_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class MigrationOutcome(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MIGRATION_OUTCOME_UNSPECIFIED: _ClassVar[MigrationOutcome]
    MIGRATION_OUTCOME_MIGRATED: _ClassVar[MigrationOutcome]
    MIGRATION_OUTCOME_REFUSED: _ClassVar[MigrationOutcome]
MIGRATION_OUTCOME_UNSPECIFIED: MigrationOutcome
MIGRATION_OUTCOME_MIGRATED: MigrationOutcome
MIGRATION_OUTCOME_REFUSED: MigrationOutcome

class GetAuditEntriesRequest(_message.Message):
    __slots__ = ("since_seq", "limit")
    SINCE_SEQ_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    since_seq: int
    limit: int
    def __init__(self, since_seq: _Optional[int] = ..., limit: _Optional[int] = ...) -> None: ...

class AuditEntry(_message.Message):
    __slots__ = ("seq", "time_ms", "event", "peer_id", "subject", "reason", "details_json", "prev_hash", "hash")
    SEQ_FIELD_NUMBER: _ClassVar[int]
    TIME_MS_FIELD_NUMBER: _ClassVar[int]
    EVENT_FIELD_NUMBER: _ClassVar[int]
    PEER_ID_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    DETAILS_JSON_FIELD_NUMBER: _ClassVar[int]
    PREV_HASH_FIELD_NUMBER: _ClassVar[int]
    HASH_FIELD_NUMBER: _ClassVar[int]
    seq: int
    time_ms: int
    event: str
    peer_id: str
    subject: str
    reason: str
    details_json: bytes
    prev_hash: str
    hash: str
    def __init__(self, seq: _Optional[int] = ..., time_ms: _Optional[int] = ..., event: _Optional[str] = ..., peer_id: _Optional[str] = ..., subject: _Optional[str] = ..., reason: _Optional[str] = ..., details_json: _Optional[bytes] = ..., prev_hash: _Optional[str] = ..., hash: _Optional[str] = ...) -> None: ...

class GetAuditEntriesResponse(_message.Message):
    __slots__ = ("entries", "head_seq", "head_hash", "checkpoint_json", "next_since_seq")
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    HEAD_SEQ_FIELD_NUMBER: _ClassVar[int]
    HEAD_HASH_FIELD_NUMBER: _ClassVar[int]
    CHECKPOINT_JSON_FIELD_NUMBER: _ClassVar[int]
    NEXT_SINCE_SEQ_FIELD_NUMBER: _ClassVar[int]
    entries: _containers.RepeatedCompositeFieldContainer[AuditEntry]
    head_seq: int
    head_hash: str
    checkpoint_json: bytes
    next_since_seq: int
    def __init__(self, entries: _Optional[_Iterable[_Union[AuditEntry, _Mapping]]] = ..., head_seq: _Optional[int] = ..., head_hash: _Optional[str] = ..., checkpoint_json: _Optional[bytes] = ..., next_since_seq: _Optional[int] = ...) -> None: ...

class GetAuditCheckpointRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class AuditCheckpoint(_message.Message):
    __slots__ = ("signed_json",)
    SIGNED_JSON_FIELD_NUMBER: _ClassVar[int]
    signed_json: bytes
    def __init__(self, signed_json: _Optional[bytes] = ...) -> None: ...

class GetKeysRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetBundleRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class TrustBundle(_message.Message):
    __slots__ = ("trust_domain", "bundle_pem", "refresh_hint_s")
    TRUST_DOMAIN_FIELD_NUMBER: _ClassVar[int]
    BUNDLE_PEM_FIELD_NUMBER: _ClassVar[int]
    REFRESH_HINT_S_FIELD_NUMBER: _ClassVar[int]
    trust_domain: str
    bundle_pem: bytes
    refresh_hint_s: int
    def __init__(self, trust_domain: _Optional[str] = ..., bundle_pem: _Optional[bytes] = ..., refresh_hint_s: _Optional[int] = ...) -> None: ...

class RegisterManifestoResponse(_message.Message):
    __slots__ = ("manifesto_id",)
    MANIFESTO_ID_FIELD_NUMBER: _ClassVar[int]
    manifesto_id: str
    def __init__(self, manifesto_id: _Optional[str] = ...) -> None: ...

class NegotiateRequest(_message.Message):
    __slots__ = ("peer_m_instance_id",)
    PEER_M_INSTANCE_ID_FIELD_NUMBER: _ClassVar[int]
    peer_m_instance_id: str
    def __init__(self, peer_m_instance_id: _Optional[str] = ...) -> None: ...

class NegotiateResponse(_message.Message):
    __slots__ = ("offer_a", "offer_v", "answer", "agreement_json")
    OFFER_A_FIELD_NUMBER: _ClassVar[int]
    OFFER_V_FIELD_NUMBER: _ClassVar[int]
    ANSWER_FIELD_NUMBER: _ClassVar[int]
    AGREEMENT_JSON_FIELD_NUMBER: _ClassVar[int]
    offer_a: _manifesto_pb2.Manifesto
    offer_v: _manifesto_pb2.Manifesto
    answer: _manifesto_pb2.Manifesto
    agreement_json: bytes
    def __init__(self, offer_a: _Optional[_Union[_manifesto_pb2.Manifesto, _Mapping]] = ..., offer_v: _Optional[_Union[_manifesto_pb2.Manifesto, _Mapping]] = ..., answer: _Optional[_Union[_manifesto_pb2.Manifesto, _Mapping]] = ..., agreement_json: _Optional[bytes] = ...) -> None: ...

class RevokePeerAgreementRequest(_message.Message):
    __slots__ = ("peer_m_instance_id", "reason")
    PEER_M_INSTANCE_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    peer_m_instance_id: str
    reason: str
    def __init__(self, peer_m_instance_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class MigrateAvatarRequest(_message.Message):
    __slots__ = ("user_process_id", "peer_m_instance_id")
    USER_PROCESS_ID_FIELD_NUMBER: _ClassVar[int]
    PEER_M_INSTANCE_ID_FIELD_NUMBER: _ClassVar[int]
    user_process_id: str
    peer_m_instance_id: str
    def __init__(self, user_process_id: _Optional[str] = ..., peer_m_instance_id: _Optional[str] = ...) -> None: ...

class StepTiming(_message.Message):
    __slots__ = ("step", "seconds")
    STEP_FIELD_NUMBER: _ClassVar[int]
    SECONDS_FIELD_NUMBER: _ClassVar[int]
    step: str
    seconds: float
    def __init__(self, step: _Optional[str] = ..., seconds: _Optional[float] = ...) -> None: ...

class MigrateAvatarResponse(_message.Message):
    __slots__ = ("outcome", "roaming_user_process_id", "home_persona", "peer_persona", "route", "conversion_report_json", "refusal_reason", "refusal_message", "default_avatar", "timings", "bytes_sent")
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    ROAMING_USER_PROCESS_ID_FIELD_NUMBER: _ClassVar[int]
    HOME_PERSONA_FIELD_NUMBER: _ClassVar[int]
    PEER_PERSONA_FIELD_NUMBER: _ClassVar[int]
    ROUTE_FIELD_NUMBER: _ClassVar[int]
    CONVERSION_REPORT_JSON_FIELD_NUMBER: _ClassVar[int]
    REFUSAL_REASON_FIELD_NUMBER: _ClassVar[int]
    REFUSAL_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_AVATAR_FIELD_NUMBER: _ClassVar[int]
    TIMINGS_FIELD_NUMBER: _ClassVar[int]
    BYTES_SENT_FIELD_NUMBER: _ClassVar[int]
    outcome: MigrationOutcome
    roaming_user_process_id: str
    home_persona: _item_pb2.ItemEnvelope
    peer_persona: _item_pb2.ItemEnvelope
    route: str
    conversion_report_json: bytes
    refusal_reason: str
    refusal_message: str
    default_avatar: _item_pb2.ItemEnvelope
    timings: _containers.RepeatedCompositeFieldContainer[StepTiming]
    bytes_sent: int
    def __init__(self, outcome: _Optional[_Union[MigrationOutcome, str]] = ..., roaming_user_process_id: _Optional[str] = ..., home_persona: _Optional[_Union[_item_pb2.ItemEnvelope, _Mapping]] = ..., peer_persona: _Optional[_Union[_item_pb2.ItemEnvelope, _Mapping]] = ..., route: _Optional[str] = ..., conversion_report_json: _Optional[bytes] = ..., refusal_reason: _Optional[str] = ..., refusal_message: _Optional[str] = ..., default_avatar: _Optional[_Union[_item_pb2.ItemEnvelope, _Mapping]] = ..., timings: _Optional[_Iterable[_Union[StepTiming, _Mapping]]] = ..., bytes_sent: _Optional[int] = ...) -> None: ...

class GetPeerManifestoRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class OfferManifestosResponse(_message.Message):
    __slots__ = ("answer", "agreement_json")
    ANSWER_FIELD_NUMBER: _ClassVar[int]
    AGREEMENT_JSON_FIELD_NUMBER: _ClassVar[int]
    answer: _manifesto_pb2.Manifesto
    agreement_json: bytes
    def __init__(self, answer: _Optional[_Union[_manifesto_pb2.Manifesto, _Mapping]] = ..., agreement_json: _Optional[bytes] = ...) -> None: ...

class AgreementMessage(_message.Message):
    __slots__ = ("agreement_json",)
    AGREEMENT_JSON_FIELD_NUMBER: _ClassVar[int]
    agreement_json: bytes
    def __init__(self, agreement_json: _Optional[bytes] = ...) -> None: ...

class RevokeAgreementRequest(_message.Message):
    __slots__ = ("agreement_id", "reason")
    AGREEMENT_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    agreement_id: str
    reason: str
    def __init__(self, agreement_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class OfferManifestosRequest(_message.Message):
    __slots__ = ("offer_a", "offer_v")
    OFFER_A_FIELD_NUMBER: _ClassVar[int]
    OFFER_V_FIELD_NUMBER: _ClassVar[int]
    offer_a: _manifesto_pb2.Manifesto
    offer_v: _manifesto_pb2.Manifesto
    def __init__(self, offer_a: _Optional[_Union[_manifesto_pb2.Manifesto, _Mapping]] = ..., offer_v: _Optional[_Union[_manifesto_pb2.Manifesto, _Mapping]] = ...) -> None: ...

class TransferAvatarHeader(_message.Message):
    __slots__ = ("transfer_id", "home_user_process_id", "persona", "home_item_id", "answer_manifesto_id", "envelope_json")
    TRANSFER_ID_FIELD_NUMBER: _ClassVar[int]
    HOME_USER_PROCESS_ID_FIELD_NUMBER: _ClassVar[int]
    PERSONA_FIELD_NUMBER: _ClassVar[int]
    HOME_ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    ANSWER_MANIFESTO_ID_FIELD_NUMBER: _ClassVar[int]
    ENVELOPE_JSON_FIELD_NUMBER: _ClassVar[int]
    transfer_id: str
    home_user_process_id: str
    persona: _item_pb2.ItemEnvelope
    home_item_id: str
    answer_manifesto_id: str
    envelope_json: bytes
    def __init__(self, transfer_id: _Optional[str] = ..., home_user_process_id: _Optional[str] = ..., persona: _Optional[_Union[_item_pb2.ItemEnvelope, _Mapping]] = ..., home_item_id: _Optional[str] = ..., answer_manifesto_id: _Optional[str] = ..., envelope_json: _Optional[bytes] = ...) -> None: ...

class TransferAvatarRequest(_message.Message):
    __slots__ = ("header", "chunk")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    header: TransferAvatarHeader
    chunk: bytes
    def __init__(self, header: _Optional[_Union[TransferAvatarHeader, _Mapping]] = ..., chunk: _Optional[bytes] = ...) -> None: ...

class TransferAvatarResponse(_message.Message):
    __slots__ = ("roaming_user_process_id", "persona", "bytes_received")
    ROAMING_USER_PROCESS_ID_FIELD_NUMBER: _ClassVar[int]
    PERSONA_FIELD_NUMBER: _ClassVar[int]
    BYTES_RECEIVED_FIELD_NUMBER: _ClassVar[int]
    roaming_user_process_id: str
    persona: _item_pb2.ItemEnvelope
    bytes_received: int
    def __init__(self, roaming_user_process_id: _Optional[str] = ..., persona: _Optional[_Union[_item_pb2.ItemEnvelope, _Mapping]] = ..., bytes_received: _Optional[int] = ...) -> None: ...

class OfferDefaultAvatarRequest(_message.Message):
    __slots__ = ("home_user_process_id", "refusal_reason")
    HOME_USER_PROCESS_ID_FIELD_NUMBER: _ClassVar[int]
    REFUSAL_REASON_FIELD_NUMBER: _ClassVar[int]
    home_user_process_id: str
    refusal_reason: str
    def __init__(self, home_user_process_id: _Optional[str] = ..., refusal_reason: _Optional[str] = ...) -> None: ...

class OfferDefaultAvatarResponse(_message.Message):
    __slots__ = ("persona",)
    PERSONA_FIELD_NUMBER: _ClassVar[int]
    persona: _item_pb2.ItemEnvelope
    def __init__(self, persona: _Optional[_Union[_item_pb2.ItemEnvelope, _Mapping]] = ...) -> None: ...

class PeerAssetHistoryRequest(_message.Message):
    __slots__ = ("peer_m_instance_id", "asset_id")
    PEER_M_INSTANCE_ID_FIELD_NUMBER: _ClassVar[int]
    ASSET_ID_FIELD_NUMBER: _ClassVar[int]
    peer_m_instance_id: str
    asset_id: str
    def __init__(self, peer_m_instance_id: _Optional[str] = ..., asset_id: _Optional[str] = ...) -> None: ...
