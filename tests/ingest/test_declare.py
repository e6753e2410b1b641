"""raw_asset: the one declaration every ingest asset uses (assets/ingest/declare.py)."""

import dagster as dg
import pytest

from assets.ingest import ingest_assets
from assets.ingest.declare import raw_asset
from core.partitions import DAILY


def test_a_one_table_step_is_named_and_described_as_dagster_would():
    @raw_asset({"example_daily": None})
    def example(context: dg.AssetExecutionContext):
        """One row per day.

        Source: nowhere."""

    key = dg.AssetKey(["raw", "example_daily"])
    assert example.op.name == "raw__example_daily"
    assert example.descriptions_by_key[key] == "One row per day.\n\nSource: nowhere."
    assert example.partitions_def == DAILY
    assert example.backfill_policy == dg.BackfillPolicy.single_run()
    assert example.op.pool == "duckdb"
    assert example.group_names_by_key[key] == "ingest"


def test_a_several_table_step_needs_a_name():
    with pytest.raises(ValueError, match="several tables needs a name"):

        @raw_asset({"a": "A.", "b": "B."})
        def both(context: dg.AssetExecutionContext):
            pass


def test_every_ingest_asset_shares_the_declared_defaults():
    for asset in ingest_assets:
        for key in asset.keys:
            assert key.path[0] == "raw", key
            assert asset.specs_by_key[key].kinds == {"duckdb"}, key
        assert asset.op.pool == "duckdb", asset.op.name
        assert asset.backfill_policy == dg.BackfillPolicy.single_run(), asset.op.name
        assert asset.partitions_def in (DAILY, None), asset.op.name
