"""Tables at 80 columns: columns are hidden in their declared order (and the hint says which), rows
become blocks when even that does not fit, identifiers are never cut; ``--wide`` shows every column."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from instance.assets.offers import asset_item, transaction_item
from mmmfed.api.v1 import asset_pb2 as apb
from mmmfed.cli.asset_render import history_tables, transfers_table
from mmmfed.cli.tables import FittingTable, table_console

PEER = "gateway.b.example"
ADDRESS = "gw-b.federation.internal.example:7443"
BUNDLE = "/etc/mmmfed/trust/b.example/ca-bundle-of-the-peer-trust-domain.pem"


def _peers() -> FittingTable:
    table = FittingTable(box=None, drop=("bundle", "kind"))
    for col in ("kind", "id", "address", "bundle"):
        table.add_column(col, no_wrap=col in ("id", "address"), overflow="fold")
    table.add_row("peer", PEER, ADDRESS, BUNDLE)
    return table


def _lines(table: Table, width: int) -> list[str]:
    console = Console(width=width, record=True, color_system=None)
    console.print(table)
    return console.export_text().splitlines()


def _wide_lines(table: Table) -> list[str]:
    console = table_console(True, record=True, color_system=None)
    console.print(table)
    return [line.rstrip() for line in console.export_text().splitlines()]


def test_at_80_columns_the_least_important_column_is_hidden_and_named() -> None:
    lines = _lines(_peers(), 80)
    assert max(len(line) for line in lines) <= 80
    header = lines[0].split()
    assert header == ["kind", "id", "address"]  # "bundle" hidden first; "kind" still fits
    assert any(PEER in line and ADDRESS in line for line in lines)
    assert "hidden at this width: bundle; --wide shows them" in lines[-1]


def test_wide_shows_every_column_on_one_line_whatever_the_width() -> None:
    lines = _wide_lines(_peers())
    assert lines[0].split() == ["kind", "id", "address", "bundle"]
    assert any(PEER in line and ADDRESS in line and BUNDLE in line for line in lines)
    assert not any("hidden at this width" in line for line in lines)


def test_when_hiding_is_not_enough_each_row_is_a_block_with_every_column() -> None:
    table = FittingTable(drop=("note",))
    for col in ("first id", "second id", "note"):
        table.add_column(col, no_wrap=col != "note")
    table.add_row("x" * 45, "y" * 40, "short")
    lines = _lines(table, 80)
    assert max(len(line) for line in lines) <= 80
    assert [line.split()[:2] for line in lines if line.strip()] == [
        ["first", "id"],
        ["second", "id"],
        ["note", "short"],
    ]
    assert any("x" * 45 in line for line in lines) and any("y" * 40 in line for line in lines)


def test_a_wrapping_column_is_not_squeezed_below_its_longest_word() -> None:
    """rich alone would fold the 60-character word into a narrow column; here the table hides a
    column or turns into blocks instead."""
    table = FittingTable(drop=("title",))
    for col in ("id", "subject", "title"):
        table.add_column(col, overflow="fold")
    word = "mmm://a.example/processes/user/" + "z" * 29
    table.add_row("17", word, "a long title " * 4)
    lines = _lines(table, 80)
    assert any(word in line for line in lines)


def _transfer() -> apb.AssetTransferView:
    view = apb.AssetTransferView(
        transfer_id="urn:uuid:3f2a9c1e-0b7d-4e5f-8a6b-1c2d3e4f5a6b",
        role="origin",
        state="COMPLETED",
        transaction_status="Final",
        asset_id="mmm://a.example/assets/7f448d90-0ff7-5f01-88a7-366854a231e4",
        destination_asset_id="mmm://b.example/assets/0a1b2c3d-0ff7-5f01-88a7-366854a231e4",
        source_process_id="mmm://a.example/processes/user/alice",
        destination_process_id="mmm://b.example/processes/user/bob",
        peer_m_instance_id="b.example",
    )
    view.exchange.paid.amount_minor, view.exchange.paid.currency_id = 1001, "ACU"
    view.exchange.received.amount_minor, view.exchange.received.currency_id = 1492, "BCU"
    return view


def test_asset_transfers_at_80_columns_keep_every_identifier_whole() -> None:
    view = _transfer()
    lines = _lines(transfers_table([view], title="transfers"), 80)
    assert max(len(line) for line in lines) <= 80
    for identifier in (view.transfer_id, view.asset_id, view.destination_asset_id, view.source_process_id):
        assert any(identifier in line for line in lines), identifier


def test_asset_transfers_wide_are_one_table_with_every_column() -> None:
    view = _transfer()
    lines = _wide_lines(transfers_table([view], title="transfers"))
    header = next(line for line in lines if "transfer" in line and "role" in line)
    for name in ("state", "Asset -> new home", "from -> to", "payment", "reason"):
        assert name in header
    assert any(view.transfer_id in line and view.asset_id in line and view.source_process_id in line for line in lines)


def test_asset_history_at_80_columns_keeps_the_transaction_id_whole() -> None:
    history = apb.AssetHistoryResponse()
    history.asset.state = "OWNED"
    alice, carol = "mmm://a.example/processes/user/alice", "mmm://a.example/processes/user/carol"
    box = "mmm://a.example/assets/box"
    history.asset.asset.item_json = asset_item(
        m_instance_id="a.example",
        asset_id=box,
        owner_process_id=alice,
        qualifier={"SubType": "Model", "Format": "glTF/2.0-binary"},
        data=None,
        currency_id="ACU",
        provenance=[],
    ).raw
    tra = transaction_item(
        m_instance_id="a.example",
        transaction_id="mmm://a.example/transactions/4c6e1f0a-58a4-4be2-9d57-0d0c7e4a7b11",
        payer_process_id=alice,
        payee_process_id=carol,
        value=(700, "ACU"),
        status="Final",
    ).raw
    history.provenance.add().item_json = tra
    console = Console(width=80, record=True, color_system=None)
    for table in history_tables(history, where="a.example"):
        console.print(table)
    lines = console.export_text().splitlines()
    assert max(len(line) for line in lines) <= 80
    assert any("mmm://a.example/transactions/4c6e1f0a-58a4-4be2-9d57-0d0c7e4a7b11" in line for line in lines)
