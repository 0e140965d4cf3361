from mmmfed.api.v1 import item_pb2 as _item_pb2
from mmmfed.api.v1 import process_action_pb2 as _process_action_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class AssetDecisionKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ASSET_DECISION_KIND_UNSPECIFIED: _ClassVar[AssetDecisionKind]
    ASSET_DECISION_KIND_COMMIT: _ClassVar[AssetDecisionKind]
    ASSET_DECISION_KIND_ABORT: _ClassVar[AssetDecisionKind]
ASSET_DECISION_KIND_UNSPECIFIED: AssetDecisionKind
ASSET_DECISION_KIND_COMMIT: AssetDecisionKind
ASSET_DECISION_KIND_ABORT: AssetDecisionKind

class ExchangeRecord(_message.Message):
    __slots__ = ("paid", "fee", "received", "rate", "rounding", "policy_source")
    PAID_FIELD_NUMBER: _ClassVar[int]
    FEE_FIELD_NUMBER: _ClassVar[int]
    RECEIVED_FIELD_NUMBER: _ClassVar[int]
    RATE_FIELD_NUMBER: _ClassVar[int]
    ROUNDING_FIELD_NUMBER: _ClassVar[int]
    POLICY_SOURCE_FIELD_NUMBER: _ClassVar[int]
    paid: _process_action_pb2.Value
    fee: _process_action_pb2.Value
    received: _process_action_pb2.Value
    rate: str
    rounding: str
    policy_source: str
    def __init__(self, paid: _Optional[_Union[_process_action_pb2.Value, _Mapping]] = ..., fee: _Optional[_Union[_process_action_pb2.Value, _Mapping]] = ..., received: _Optional[_Union[_process_action_pb2.Value, _Mapping]] = ..., rate: _Optional[str] = ..., rounding: _Optional[str] = ..., policy_source: _Optional[str] = ...) -> None: ...

class AssetOffer(_message.Message):
    __slots__ = ("transfer_id", "source_process_id", "destination_process_id", "asset", "asset_data", "exchange", "expires_at_ms", "content_digest", "envelope_json", "origin_m_instance_id")
    TRANSFER_ID_FIELD_NUMBER: _ClassVar[int]
    SOURCE_PROCESS_ID_FIELD_NUMBER: _ClassVar[int]
    DESTINATION_PROCESS_ID_FIELD_NUMBER: _ClassVar[int]
    ASSET_FIELD_NUMBER: _ClassVar[int]
    ASSET_DATA_FIELD_NUMBER: _ClassVar[int]
    EXCHANGE_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_MS_FIELD_NUMBER: _ClassVar[int]
    CONTENT_DIGEST_FIELD_NUMBER: _ClassVar[int]
    ENVELOPE_JSON_FIELD_NUMBER: _ClassVar[int]
    ORIGIN_M_INSTANCE_ID_FIELD_NUMBER: _ClassVar[int]
    transfer_id: str
    source_process_id: str
    destination_process_id: str
    asset: _item_pb2.ItemEnvelope
    asset_data: bytes
    exchange: ExchangeRecord
    expires_at_ms: int
    content_digest: str
    envelope_json: bytes
    origin_m_instance_id: str
    def __init__(self, transfer_id: _Optional[str] = ..., source_process_id: _Optional[str] = ..., destination_process_id: _Optional[str] = ..., asset: _Optional[_Union[_item_pb2.ItemEnvelope, _Mapping]] = ..., asset_data: _Optional[bytes] = ..., exchange: _Optional[_Union[ExchangeRecord, _Mapping]] = ..., expires_at_ms: _Optional[int] = ..., content_digest: _Optional[str] = ..., envelope_json: _Optional[bytes] = ..., origin_m_instance_id: _Optional[str] = ...) -> None: ...

class AssetOfferAck(_message.Message):
    __slots__ = ("transfer_id", "state", "destination_asset_id", "duplicate")
    TRANSFER_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    DESTINATION_ASSET_ID_FIELD_NUMBER: _ClassVar[int]
    DUPLICATE_FIELD_NUMBER: _ClassVar[int]
    transfer_id: str
    state: str
    destination_asset_id: str
    duplicate: bool
    def __init__(self, transfer_id: _Optional[str] = ..., state: _Optional[str] = ..., destination_asset_id: _Optional[str] = ..., duplicate: _Optional[bool] = ...) -> None: ...

class AssetDecision(_message.Message):
    __slots__ = ("transfer_id", "decision", "content_digest", "destination_m_instance_id", "transaction", "envelope_json", "origin_m_instance_id")
    TRANSFER_ID_FIELD_NUMBER: _ClassVar[int]
    DECISION_FIELD_NUMBER: _ClassVar[int]
    CONTENT_DIGEST_FIELD_NUMBER: _ClassVar[int]
    DESTINATION_M_INSTANCE_ID_FIELD_NUMBER: _ClassVar[int]
    TRANSACTION_FIELD_NUMBER: _ClassVar[int]
    ENVELOPE_JSON_FIELD_NUMBER: _ClassVar[int]
    ORIGIN_M_INSTANCE_ID_FIELD_NUMBER: _ClassVar[int]
    transfer_id: str
    decision: AssetDecisionKind
    content_digest: str
    destination_m_instance_id: str
    transaction: _item_pb2.ItemEnvelope
    envelope_json: bytes
    origin_m_instance_id: str
    def __init__(self, transfer_id: _Optional[str] = ..., decision: _Optional[_Union[AssetDecisionKind, str]] = ..., content_digest: _Optional[str] = ..., destination_m_instance_id: _Optional[str] = ..., transaction: _Optional[_Union[_item_pb2.ItemEnvelope, _Mapping]] = ..., envelope_json: _Optional[bytes] = ..., origin_m_instance_id: _Optional[str] = ...) -> None: ...

class AssetDecisionAck(_message.Message):
    __slots__ = ("transfer_id", "state", "duplicate", "transaction")
    TRANSFER_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    DUPLICATE_FIELD_NUMBER: _ClassVar[int]
    TRANSACTION_FIELD_NUMBER: _ClassVar[int]
    transfer_id: str
    state: str
    duplicate: bool
    transaction: _item_pb2.ItemEnvelope
    def __init__(self, transfer_id: _Optional[str] = ..., state: _Optional[str] = ..., duplicate: _Optional[bool] = ..., transaction: _Optional[_Union[_item_pb2.ItemEnvelope, _Mapping]] = ...) -> None: ...

class AssetView(_message.Message):
    __slots__ = ("asset", "state", "owner_process_id", "migrated_to", "locked_by")
    ASSET_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    OWNER_PROCESS_ID_FIELD_NUMBER: _ClassVar[int]
    MIGRATED_TO_FIELD_NUMBER: _ClassVar[int]
    LOCKED_BY_FIELD_NUMBER: _ClassVar[int]
    asset: _item_pb2.ItemEnvelope
    state: str
    owner_process_id: str
    migrated_to: str
    locked_by: str
    def __init__(self, asset: _Optional[_Union[_item_pb2.ItemEnvelope, _Mapping]] = ..., state: _Optional[str] = ..., owner_process_id: _Optional[str] = ..., migrated_to: _Optional[str] = ..., locked_by: _Optional[str] = ...) -> None: ...

class WalletView(_message.Message):
    __slots__ = ("holder", "balance")
    HOLDER_FIELD_NUMBER: _ClassVar[int]
    BALANCE_FIELD_NUMBER: _ClassVar[int]
    holder: str
    balance: _process_action_pb2.Value
    def __init__(self, holder: _Optional[str] = ..., balance: _Optional[_Union[_process_action_pb2.Value, _Mapping]] = ...) -> None: ...

class AssetTransferView(_message.Message):
    __slots__ = ("transfer_id", "role", "state", "transaction_status", "asset_id", "destination_asset_id", "source_process_id", "destination_process_id", "peer_m_instance_id", "exchange", "created_ms", "updated_ms", "expires_at_ms", "reason", "message", "terminal", "attempts")
    TRANSFER_ID_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    TRANSACTION_STATUS_FIELD_NUMBER: _ClassVar[int]
    ASSET_ID_FIELD_NUMBER: _ClassVar[int]
    DESTINATION_ASSET_ID_FIELD_NUMBER: _ClassVar[int]
    SOURCE_PROCESS_ID_FIELD_NUMBER: _ClassVar[int]
    DESTINATION_PROCESS_ID_FIELD_NUMBER: _ClassVar[int]
    PEER_M_INSTANCE_ID_FIELD_NUMBER: _ClassVar[int]
    EXCHANGE_FIELD_NUMBER: _ClassVar[int]
    CREATED_MS_FIELD_NUMBER: _ClassVar[int]
    UPDATED_MS_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_MS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    TERMINAL_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    transfer_id: str
    role: str
    state: str
    transaction_status: str
    asset_id: str
    destination_asset_id: str
    source_process_id: str
    destination_process_id: str
    peer_m_instance_id: str
    exchange: ExchangeRecord
    created_ms: int
    updated_ms: int
    expires_at_ms: int
    reason: str
    message: str
    terminal: bool
    attempts: int
    def __init__(self, transfer_id: _Optional[str] = ..., role: _Optional[str] = ..., state: _Optional[str] = ..., transaction_status: _Optional[str] = ..., asset_id: _Optional[str] = ..., destination_asset_id: _Optional[str] = ..., source_process_id: _Optional[str] = ..., destination_process_id: _Optional[str] = ..., peer_m_instance_id: _Optional[str] = ..., exchange: _Optional[_Union[ExchangeRecord, _Mapping]] = ..., created_ms: _Optional[int] = ..., updated_ms: _Optional[int] = ..., expires_at_ms: _Optional[int] = ..., reason: _Optional[str] = ..., message: _Optional[str] = ..., terminal: _Optional[bool] = ..., attempts: _Optional[int] = ...) -> None: ...

class AssetTransferRecord(_message.Message):
    __slots__ = ("view", "offer", "transaction_json")
    VIEW_FIELD_NUMBER: _ClassVar[int]
    OFFER_FIELD_NUMBER: _ClassVar[int]
    TRANSACTION_JSON_FIELD_NUMBER: _ClassVar[int]
    view: AssetTransferView
    offer: AssetOffer
    transaction_json: bytes
    def __init__(self, view: _Optional[_Union[AssetTransferView, _Mapping]] = ..., offer: _Optional[_Union[AssetOffer, _Mapping]] = ..., transaction_json: _Optional[bytes] = ...) -> None: ...

class RegisterAssetRequest(_message.Message):
    __slots__ = ("owner_process_id", "sub_type", "format", "media_type", "data", "market_class", "price", "title")
    OWNER_PROCESS_ID_FIELD_NUMBER: _ClassVar[int]
    SUB_TYPE_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    MEDIA_TYPE_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    MARKET_CLASS_FIELD_NUMBER: _ClassVar[int]
    PRICE_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    owner_process_id: str
    sub_type: str
    format: str
    media_type: str
    data: bytes
    market_class: str
    price: _process_action_pb2.Value
    title: str
    def __init__(self, owner_process_id: _Optional[str] = ..., sub_type: _Optional[str] = ..., format: _Optional[str] = ..., media_type: _Optional[str] = ..., data: _Optional[bytes] = ..., market_class: _Optional[str] = ..., price: _Optional[_Union[_process_action_pb2.Value, _Mapping]] = ..., title: _Optional[str] = ...) -> None: ...

class FundWalletRequest(_message.Message):
    __slots__ = ("holder_process_id", "amount")
    HOLDER_PROCESS_ID_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    holder_process_id: str
    amount: int
    def __init__(self, holder_process_id: _Optional[str] = ..., amount: _Optional[int] = ...) -> None: ...

class GetWalletRequest(_message.Message):
    __slots__ = ("holder_process_id",)
    HOLDER_PROCESS_ID_FIELD_NUMBER: _ClassVar[int]
    holder_process_id: str
    def __init__(self, holder_process_id: _Optional[str] = ...) -> None: ...

class TransferAssetRequest(_message.Message):
    __slots__ = ("transfer_id", "asset_id", "source_process_id", "destination_process_id", "payment_amount", "timeout_ms")
    TRANSFER_ID_FIELD_NUMBER: _ClassVar[int]
    ASSET_ID_FIELD_NUMBER: _ClassVar[int]
    SOURCE_PROCESS_ID_FIELD_NUMBER: _ClassVar[int]
    DESTINATION_PROCESS_ID_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_MS_FIELD_NUMBER: _ClassVar[int]
    transfer_id: str
    asset_id: str
    source_process_id: str
    destination_process_id: str
    payment_amount: int
    timeout_ms: int
    def __init__(self, transfer_id: _Optional[str] = ..., asset_id: _Optional[str] = ..., source_process_id: _Optional[str] = ..., destination_process_id: _Optional[str] = ..., payment_amount: _Optional[int] = ..., timeout_ms: _Optional[int] = ...) -> None: ...

class GetAssetTransferRequest(_message.Message):
    __slots__ = ("transfer_id",)
    TRANSFER_ID_FIELD_NUMBER: _ClassVar[int]
    transfer_id: str
    def __init__(self, transfer_id: _Optional[str] = ...) -> None: ...

class AssetHistoryRequest(_message.Message):
    __slots__ = ("asset_id",)
    ASSET_ID_FIELD_NUMBER: _ClassVar[int]
    asset_id: str
    def __init__(self, asset_id: _Optional[str] = ...) -> None: ...

class AssetHistoryResponse(_message.Message):
    __slots__ = ("asset", "provenance", "transfers")
    ASSET_FIELD_NUMBER: _ClassVar[int]
    PROVENANCE_FIELD_NUMBER: _ClassVar[int]
    TRANSFERS_FIELD_NUMBER: _ClassVar[int]
    asset: AssetView
    provenance: _containers.RepeatedCompositeFieldContainer[_item_pb2.ItemEnvelope]
    transfers: _containers.RepeatedCompositeFieldContainer[AssetTransferView]
    def __init__(self, asset: _Optional[_Union[AssetView, _Mapping]] = ..., provenance: _Optional[_Iterable[_Union[_item_pb2.ItemEnvelope, _Mapping]]] = ..., transfers: _Optional[_Iterable[_Union[AssetTransferView, _Mapping]]] = ...) -> None: ...

class GetLedgerRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class Ledger(_message.Message):
    __slots__ = ("m_instance_id", "currency_id", "assets", "wallets", "transfers")
    M_INSTANCE_ID_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_ID_FIELD_NUMBER: _ClassVar[int]
    ASSETS_FIELD_NUMBER: _ClassVar[int]
    WALLETS_FIELD_NUMBER: _ClassVar[int]
    TRANSFERS_FIELD_NUMBER: _ClassVar[int]
    m_instance_id: str
    currency_id: str
    assets: _containers.RepeatedCompositeFieldContainer[AssetView]
    wallets: _containers.RepeatedCompositeFieldContainer[WalletView]
    transfers: _containers.RepeatedCompositeFieldContainer[AssetTransferView]
    def __init__(self, m_instance_id: _Optional[str] = ..., currency_id: _Optional[str] = ..., assets: _Optional[_Iterable[_Union[AssetView, _Mapping]]] = ..., wallets: _Optional[_Iterable[_Union[WalletView, _Mapping]]] = ..., transfers: _Optional[_Iterable[_Union[AssetTransferView, _Mapping]]] = ...) -> None: ...
