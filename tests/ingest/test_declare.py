"""raw_asset: the one declaration every ingest asset uses (assets/ingest/declare.py)."""

import dagster as dg
import pytest

from assets.ingest import ingest_assets
from assets.ingest.declare import raw_asset
from core.contracts import load_contract
from core.partitions import DAILY


def test_a_one_table_step_is_named_as_dagster_would_and_described_by_the_contract():
    @raw_asset("fear_greed_daily")
    def example(context: dg.AssetExecutionContext):
        """Not the description: the table's contract is."""

    key = dg.AssetKey(["raw", "fear_greed_daily"])
    assert example.op.name == "raw__fear_greed_daily"
    assert example.descriptions_by_key[key] == load_contract("raw.fear_greed_daily").description
    assert example.partitions_def == DAILY
    assert example.backfill_policy == dg.BackfillPolicy.single_run()
    assert example.op.pool is None  # writes take turns through the warehouse lock
    assert example.group_names_by_key[key] == "ingest"


def test_a_table_without_a_contract_cannot_be_declared():
    with pytest.raises(ValueError, match="no_such_table"):

        @raw_asset("no_such_table")
        def missing(context: dg.AssetExecutionContext):
            pass


def test_a_several_table_step_needs_a_name():
    with pytest.raises(ValueError, match="several tables needs a name"):

        @raw_asset("exchanges", "exchange_labels")
        def both(context: dg.AssetExecutionContext):
            pass


def test_every_ingest_asset_shares_the_declared_defaults():
    for asset in ingest_assets:
        for key in asset.keys:
            assert key.path[0] == "raw", key
            assert asset.specs_by_key[key].kinds == {"duckdb"}, key
            contract = load_contract(".".join(key.path))
            assert asset.descriptions_by_key[key] == contract.description, key
        assert asset.op.pool is None, asset.op.name
        assert asset.backfill_policy == dg.BackfillPolicy.single_run(), asset.op.name
        assert asset.partitions_def in (DAILY, None), asset.op.name
