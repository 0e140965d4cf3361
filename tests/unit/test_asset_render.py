"""Operator tables readable at 80 columns (issue 13 item 5): identifiers stay whole."""

from __future__ import annotations

from rich.console import Console

from instance.assets.offers import asset_item
from mmmfed.api.v1 import asset_pb2 as apb
from mmmfed.cli.asset_render import ledger_tables

ASSET = "mmm://b.example/assets/7f448d90-0ff7-5f01-88a7-366854a231e4"
OWNER = "mmm://b.example/processes/user/bob"


def _ledger() -> apb.Ledger:
    item = asset_item(
        m_instance_id="b.example",
        asset_id=ASSET,
        owner_process_id=OWNER,
        qualifier={"SubType": "Model", "Format": "glTF/2.0-binary"},
        data=None,
        currency_id="BCU",
        provenance=[],
    ).raw
    ledger = apb.Ledger(m_instance_id="b.example", currency_id="BCU")
    ledger.assets.add(state="OWNED", owner_process_id=OWNER).asset.item_json = item
    ledger.wallets.add(holder=OWNER).balance.amount_minor = 1492
    return ledger


def _render(width: int) -> list[str]:
    console = Console(width=width, record=True, color_system=None)
    for table in ledger_tables(_ledger()):
        console.print(table)
    return console.export_text().splitlines()


def test_at_80_columns_rows_become_blocks_and_identifiers_stay_whole() -> None:
    lines = _render(80)
    assert max(len(line) for line in lines) <= 80
    assert any(ASSET in line for line in lines) and any(OWNER in line for line in lines)
    assert any(line.split()[:2] == ["owner", "/"] for line in lines if line.strip())  # "owner / new home  mmm://..."


def test_a_wide_terminal_gets_the_table() -> None:
    lines = _render(200)
    header = next(line for line in lines if "AssetID" in line)
    assert all(name in header for name in ("state", "owner / new home", "Qualifier", "title"))
    assert any(ASSET in line and OWNER in line for line in lines)
