from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ManifestoKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MANIFESTO_KIND_UNSPECIFIED: _ClassVar[ManifestoKind]
    MANIFESTO_KIND_PLATFORM: _ClassVar[ManifestoKind]
    MANIFESTO_KIND_OFFER_A: _ClassVar[ManifestoKind]
    MANIFESTO_KIND_OFFER_V: _ClassVar[ManifestoKind]
    MANIFESTO_KIND_ANSWER: _ClassVar[ManifestoKind]
    MANIFESTO_KIND_BRIDGE: _ClassVar[ManifestoKind]

class FeatureRoute(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    FEATURE_ROUTE_UNSPECIFIED: _ClassVar[FeatureRoute]
    FEATURE_ROUTE_DIRECT: _ClassVar[FeatureRoute]
    FEATURE_ROUTE_VIA_BRIDGE: _ClassVar[FeatureRoute]
    FEATURE_ROUTE_UNSUPPORTED: _ClassVar[FeatureRoute]

class KeyRevocationReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    KEY_REVOCATION_REASON_UNSPECIFIED: _ClassVar[KeyRevocationReason]
    KEY_REVOCATION_REASON_COMPROMISED: _ClassVar[KeyRevocationReason]
    KEY_REVOCATION_REASON_SUPERSEDED: _ClassVar[KeyRevocationReason]
MANIFESTO_KIND_UNSPECIFIED: ManifestoKind
MANIFESTO_KIND_PLATFORM: ManifestoKind
MANIFESTO_KIND_OFFER_A: ManifestoKind
MANIFESTO_KIND_OFFER_V: ManifestoKind
MANIFESTO_KIND_ANSWER: ManifestoKind
MANIFESTO_KIND_BRIDGE: ManifestoKind
FEATURE_ROUTE_UNSPECIFIED: FeatureRoute
FEATURE_ROUTE_DIRECT: FeatureRoute
FEATURE_ROUTE_VIA_BRIDGE: FeatureRoute
FEATURE_ROUTE_UNSUPPORTED: FeatureRoute
KEY_REVOCATION_REASON_UNSPECIFIED: KeyRevocationReason
KEY_REVOCATION_REASON_COMPROMISED: KeyRevocationReason
KEY_REVOCATION_REASON_SUPERSEDED: KeyRevocationReason

class Qualifier(_message.Message):
    __slots__ = ("sub_type", "format", "attributes")
    class AttributesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    SUB_TYPE_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    sub_type: str
    format: str
    attributes: _containers.ScalarMap[str, str]
    def __init__(self, sub_type: _Optional[str] = ..., format: _Optional[str] = ..., attributes: _Optional[_Mapping[str, str]] = ...) -> None: ...

class Constraints(_message.Message):
    __slots__ = ("max_triangles", "texture_formats", "max_texture_px", "max_bytes")
    MAX_TRIANGLES_FIELD_NUMBER: _ClassVar[int]
    TEXTURE_FORMATS_FIELD_NUMBER: _ClassVar[int]
    MAX_TEXTURE_PX_FIELD_NUMBER: _ClassVar[int]
    MAX_BYTES_FIELD_NUMBER: _ClassVar[int]
    max_triangles: int
    texture_formats: _containers.RepeatedScalarFieldContainer[str]
    max_texture_px: int
    max_bytes: int
    def __init__(self, max_triangles: _Optional[int] = ..., texture_formats: _Optional[_Iterable[str]] = ..., max_texture_px: _Optional[int] = ..., max_bytes: _Optional[int] = ...) -> None: ...

class Feature(_message.Message):
    __slots__ = ("item_type", "qualifier", "constraints")
    ITEM_TYPE_FIELD_NUMBER: _ClassVar[int]
    QUALIFIER_FIELD_NUMBER: _ClassVar[int]
    CONSTRAINTS_FIELD_NUMBER: _ClassVar[int]
    item_type: str
    qualifier: Qualifier
    constraints: Constraints
    def __init__(self, item_type: _Optional[str] = ..., qualifier: _Optional[_Union[Qualifier, _Mapping]] = ..., constraints: _Optional[_Union[Constraints, _Mapping]] = ...) -> None: ...

class ConversionPair(_message.Message):
    __slots__ = ("item_type", "from_qualifier", "to_qualifier", "drops")
    ITEM_TYPE_FIELD_NUMBER: _ClassVar[int]
    FROM_QUALIFIER_FIELD_NUMBER: _ClassVar[int]
    TO_QUALIFIER_FIELD_NUMBER: _ClassVar[int]
    DROPS_FIELD_NUMBER: _ClassVar[int]
    item_type: str
    from_qualifier: Qualifier
    to_qualifier: Qualifier
    drops: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, item_type: _Optional[str] = ..., from_qualifier: _Optional[_Union[Qualifier, _Mapping]] = ..., to_qualifier: _Optional[_Union[Qualifier, _Mapping]] = ..., drops: _Optional[_Iterable[str]] = ...) -> None: ...

class Manifesto(_message.Message):
    __slots__ = ("manifesto_id", "kind", "issuer_id", "produces", "accepts", "profiles", "policies", "conversions", "issued_at_ms", "peer_id", "virtual_bridge_id", "negotiated", "keys", "signed_keys_json", "signed_json", "certificate_pem")
    class PoliciesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    MANIFESTO_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    ISSUER_ID_FIELD_NUMBER: _ClassVar[int]
    PRODUCES_FIELD_NUMBER: _ClassVar[int]
    ACCEPTS_FIELD_NUMBER: _ClassVar[int]
    PROFILES_FIELD_NUMBER: _ClassVar[int]
    POLICIES_FIELD_NUMBER: _ClassVar[int]
    CONVERSIONS_FIELD_NUMBER: _ClassVar[int]
    ISSUED_AT_MS_FIELD_NUMBER: _ClassVar[int]
    PEER_ID_FIELD_NUMBER: _ClassVar[int]
    VIRTUAL_BRIDGE_ID_FIELD_NUMBER: _ClassVar[int]
    NEGOTIATED_FIELD_NUMBER: _ClassVar[int]
    KEYS_FIELD_NUMBER: _ClassVar[int]
    SIGNED_KEYS_JSON_FIELD_NUMBER: _ClassVar[int]
    SIGNED_JSON_FIELD_NUMBER: _ClassVar[int]
    CERTIFICATE_PEM_FIELD_NUMBER: _ClassVar[int]
    manifesto_id: str
    kind: ManifestoKind
    issuer_id: str
    produces: _containers.RepeatedCompositeFieldContainer[Feature]
    accepts: _containers.RepeatedCompositeFieldContainer[Feature]
    profiles: _containers.RepeatedScalarFieldContainer[str]
    policies: _containers.ScalarMap[str, str]
    conversions: _containers.RepeatedCompositeFieldContainer[ConversionPair]
    issued_at_ms: int
    peer_id: str
    virtual_bridge_id: str
    negotiated: _containers.RepeatedCompositeFieldContainer[NegotiatedFeature]
    keys: _containers.RepeatedCompositeFieldContainer[VerificationKey]
    signed_keys_json: bytes
    signed_json: bytes
    certificate_pem: str
    def __init__(self, manifesto_id: _Optional[str] = ..., kind: _Optional[_Union[ManifestoKind, str]] = ..., issuer_id: _Optional[str] = ..., produces: _Optional[_Iterable[_Union[Feature, _Mapping]]] = ..., accepts: _Optional[_Iterable[_Union[Feature, _Mapping]]] = ..., profiles: _Optional[_Iterable[str]] = ..., policies: _Optional[_Mapping[str, str]] = ..., conversions: _Optional[_Iterable[_Union[ConversionPair, _Mapping]]] = ..., issued_at_ms: _Optional[int] = ..., peer_id: _Optional[str] = ..., virtual_bridge_id: _Optional[str] = ..., negotiated: _Optional[_Iterable[_Union[NegotiatedFeature, _Mapping]]] = ..., keys: _Optional[_Iterable[_Union[VerificationKey, _Mapping]]] = ..., signed_keys_json: _Optional[bytes] = ..., signed_json: _Optional[bytes] = ..., certificate_pem: _Optional[str] = ...) -> None: ...

class NegotiatedFeature(_message.Message):
    __slots__ = ("offered", "route", "target", "detail", "bridge_id")
    OFFERED_FIELD_NUMBER: _ClassVar[int]
    ROUTE_FIELD_NUMBER: _ClassVar[int]
    TARGET_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    BRIDGE_ID_FIELD_NUMBER: _ClassVar[int]
    offered: Feature
    route: FeatureRoute
    target: Feature
    detail: str
    bridge_id: str
    def __init__(self, offered: _Optional[_Union[Feature, _Mapping]] = ..., route: _Optional[_Union[FeatureRoute, str]] = ..., target: _Optional[_Union[Feature, _Mapping]] = ..., detail: _Optional[str] = ..., bridge_id: _Optional[str] = ...) -> None: ...

class VerificationKey(_message.Message):
    __slots__ = ("key_id", "verification_method", "public_key_multibase", "valid_from_ms", "valid_until_ms", "revoked_at_ms", "revocation_reason")
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    VERIFICATION_METHOD_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_KEY_MULTIBASE_FIELD_NUMBER: _ClassVar[int]
    VALID_FROM_MS_FIELD_NUMBER: _ClassVar[int]
    VALID_UNTIL_MS_FIELD_NUMBER: _ClassVar[int]
    REVOKED_AT_MS_FIELD_NUMBER: _ClassVar[int]
    REVOCATION_REASON_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    verification_method: str
    public_key_multibase: str
    valid_from_ms: int
    valid_until_ms: int
    revoked_at_ms: int
    revocation_reason: KeyRevocationReason
    def __init__(self, key_id: _Optional[str] = ..., verification_method: _Optional[str] = ..., public_key_multibase: _Optional[str] = ..., valid_from_ms: _Optional[int] = ..., valid_until_ms: _Optional[int] = ..., revoked_at_ms: _Optional[int] = ..., revocation_reason: _Optional[_Union[KeyRevocationReason, str]] = ...) -> None: ...

class KeySet(_message.Message):
    __slots__ = ("m_instance_id", "keys", "signed_json")
    M_INSTANCE_ID_FIELD_NUMBER: _ClassVar[int]
    KEYS_FIELD_NUMBER: _ClassVar[int]
    SIGNED_JSON_FIELD_NUMBER: _ClassVar[int]
    m_instance_id: str
    keys: _containers.RepeatedCompositeFieldContainer[VerificationKey]
    signed_json: bytes
    def __init__(self, m_instance_id: _Optional[str] = ..., keys: _Optional[_Iterable[_Union[VerificationKey, _Mapping]]] = ..., signed_json: _Optional[bytes] = ...) -> None: ...
