"""The asset ledger of one M-Instance: owner of record of its Assets, its Wallets, and the
journal of asset transfers on both sides (FGMV-43 9.2, ASIR-103).

:class:`AssetLedger` is persistence only, the World's durable store for Assets and Wallets: it
is the :class:`~instance.assets.store.LedgerStore` (tables of the M-Instance's one database, one
transaction per decision, crash points around each) with the origin
(:mod:`instance.assets.origin`) and destination (:mod:`instance.assets.destination`) sides of a
transfer. Who may do what is the World's to decide: the transfer's lock and decision are Process
Actions (:mod:`instance.assets.decisions`), and the World holds the ledger's Assets with the
Rights their ICapabilities give. States are :mod:`instance.assets.states` enums.

Money is integers in minor units of this M-Instance's currency. Ledger accounts beside the
Processes' Wallets: ``treasury`` (issues currency; its balance is minus what was issued),
``escrow`` (payments of transfers in flight), ``exchange-fees`` (declared ASEF fees) and
``settlement:<peer>`` (what crossed to or from that peer; the World's clearing Wallet for that
peer, :func:`instance.world.world.settlement_account`). The sum of all balances is always 0.
"""

from __future__ import annotations

from instance.assets import offers
from instance.assets.destination import DestinationJournal
from instance.assets.origin import OriginJournal
from instance.assets.states import MAX_ASSET_BYTES, TREASURY
from instance.assets.store import TRANSFER_COLUMNS, asset_view, insert_asset, transfer_view
from mmmfed.api.v1 import asset_pb2 as apb
from mmmfed.api.v1 import item_pb2 as itpb
from mmmfed.errors import InvalidInput
from mmmfed.formats import check_data, lookup
from mmmfed.items import DataBinding, new_id, sha256_hex
from mmmfed.market import SERVICE, check_market_class
from mmmfed.schemas import validate_item


class AssetLedger(OriginJournal, DestinationJournal):
    """The ledger's tables in the M-Instance's database (see the module docstring). Thread-safe; every
    method is one short transaction (call from a worker thread in async code)."""

    @staticmethod
    def _data_binding(request: apb.RegisterAssetRequest) -> DataBinding | None:
        """The DataBinding of an Asset's data (None without data), once the data passed the check
        of its declared Qualifier Format (:func:`mmmfed.formats.check_data`; the media type
        recorded is the format's own when the request gives none). InvalidInput
        ``UNKNOWN_FORMAT``, ``ASSET_FORMAT_MISSING`` (data without a format),
        ``ASSET_MEDIA_TYPE_MISMATCH``, ``ASSET_FORMAT_MISMATCH``, ``GLB_MALFORMED``,
        ``GLB_TRUNCATED``, ``USDZ_MALFORMED``."""
        if not request.data:
            if request.format:
                lookup(request.format)
            return None
        if not request.format:
            raise InvalidInput(
                "Asset data needs a Qualifier Format to be checked against: give format (e.g. glTF/2.0-binary)",
                reason="ASSET_FORMAT_MISSING",
            )
        media_type = check_data(request.format, request.data, media_type=request.media_type)
        return DataBinding(len(request.data), sha256_hex(request.data), media_type)

    def fund(self, holder_process_id: str, amount: int) -> apb.WalletView:
        """Issue ``amount`` minor units from the treasury to a Process's Wallet. InvalidInput
        ``BAD_PROCESS_ID`` / ``AMOUNT_INVALID``."""
        self._check_local_process(holder_process_id, "holder_process_id")
        if not 1 <= amount <= 2**53 - 1:
            raise InvalidInput(f"amount must be in [1, 2^53-1] minor units, not {amount}", reason="AMOUNT_INVALID")
        with self._write() as db:
            self._move(db, TREASURY, holder_process_id, amount)
            balance = self._balance(db, holder_process_id)
        return self._wallet(holder_process_id, balance)

    def register_asset(self, request: apb.RegisterAssetRequest) -> apb.AssetView:
        """Mint an ASS Item owned by ``owner_process_id`` (9.2 step 1), with a first, Final
        Transaction in its Provenance. InvalidInput ``BAD_PROCESS_ID``, ``ASSET_MALFORMED``,
        ``MARKET_CLASS_UNKNOWN`` (not one of MPAI's MC-* codes), ``ASSET_PRICE_MISSING`` (an
        MC-Service Asset without a price: MMM-TEC V2.2 requires its ServicePricingModel),
        the format checks of :meth:`_data_binding`; RESOURCE_EXHAUSTED is not used: data over
        8 MiB is InvalidInput ``ASSET_TOO_LARGE``. Nothing is stored when one is raised."""
        owner = request.owner_process_id
        self._check_local_process(owner, "owner_process_id")
        if len(request.data) > MAX_ASSET_BYTES:
            raise InvalidInput(f"Asset data is limited to {MAX_ASSET_BYTES} bytes", reason="ASSET_TOO_LARGE")
        check_market_class(request.market_class)
        if request.market_class == SERVICE and not request.price.amount_minor:
            raise InvalidInput(
                "an MC-Service Asset states its price (MMM-TEC V2.2: its ServicePricingModel): give price",
                reason="ASSET_PRICE_MISSING",
            )
        qualifier = {"SubType": request.sub_type or "Model"}
        if request.format:
            qualifier["Format"] = request.format
        data = self._data_binding(request)
        asset_id = new_id(self.m_instance_id, "assets")
        mint = offers.transaction_item(
            m_instance_id=self.m_instance_id,
            transaction_id=new_id(self.m_instance_id, "transactions"),
            payer_process_id=owner,
            payee_process_id=owner,
            value=(0, self.currency_id),
            status="Final",
            asset_id=asset_id,
        )
        price = None
        if request.price.amount_minor:
            price = {
                "Price": {
                    "Amount": request.price.amount_minor,
                    "CurrencyID": request.price.currency_id or self.currency_id,
                }
            }
        item = offers.asset_item(
            m_instance_id=self.m_instance_id,
            asset_id=asset_id,
            owner_process_id=owner,
            qualifier=qualifier,
            data=data,
            currency_id=self.currency_id,
            provenance=[mint.item_id],
            market_class=request.market_class,
            value_metadata=price,
            descr={"Title": request.title} if request.title else None,
        )

        try:
            validate_item(item.doc)
        except InvalidInput as err:
            raise InvalidInput(err.message, reason="ASSET_MALFORMED") from err
        with self._write() as db:
            insert_asset(db, asset_id, item.raw, request.data, owner, self._clock_ms())
            db.execute("INSERT INTO provenance VALUES (?, 1, ?, ?)", (asset_id, mint.item_id, mint.raw))
        return self.asset(asset_id)

    def history(self, asset_id: str) -> apb.AssetHistoryResponse:
        """ASIR-103/105: the Asset, its Provenance (Transactions, oldest first) and its transfers."""
        view = self.asset(asset_id)
        with self._read() as db:
            prov = db.execute(
                "SELECT item_json FROM provenance WHERE asset_id = ? ORDER BY seq", (asset_id,)
            ).fetchall()
            rows = db.execute(
                f"SELECT {TRANSFER_COLUMNS} FROM transfers WHERE asset_id = ? OR destination_asset_id = ? "
                "ORDER BY created_ms",
                (asset_id, asset_id),
            ).fetchall()
        return apb.AssetHistoryResponse(
            asset=view,
            provenance=[itpb.ItemEnvelope(item_json=bytes(r[0])) for r in prov],
            transfers=[transfer_view(r) for r in rows],
        )

    def snapshot(self) -> apb.Ledger:
        """Everything: Assets, Wallets (ledger accounts included) and transfers."""
        with self._read() as db:
            assets = db.execute(
                "SELECT item_json, state, owner, migrated_to, locked_by FROM assets ORDER BY created_ms, asset_id"
            ).fetchall()
            wallets = db.execute("SELECT holder, balance FROM wallets ORDER BY holder").fetchall()
            transfers = db.execute(f"SELECT {TRANSFER_COLUMNS} FROM transfers ORDER BY created_ms").fetchall()
        return apb.Ledger(
            m_instance_id=self.m_instance_id,
            currency_id=self.currency_id,
            assets=[asset_view(r) for r in assets],
            wallets=[self._wallet(h, b) for h, b in wallets],
            transfers=[transfer_view(r) for r in transfers],
        )
