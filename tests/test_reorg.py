"""Chain reorganisations, simulated on anvil with evm_snapshot / evm_revert.

Above the finality margin (the newest blocks are replaced by others) stored days never
change: only final days are stored. Below it (the whole window re-mined differently, as a
broken or switched node would show) the reorg sensor finds the days whose closing blocks
the chain no longer has, and running what it requests re-ingests them: the tables then equal
a fresh ingest of the new chain.
"""

import datetime as dt

import dagster as dg
import pytest

from assets.ingest.evm import evm_assets
from assets.ingest.labels import load_labels
from core.chains import CHAINS
from core.resources import Warehouse
from pipelines.sensors import build_reorg_sensor
from sandbox.chain import Anvil, Rpc, plant_scenario
from sandbox.world import bury
from tests.conftest import materialize
from tests.ingest.test_evm import EVM_TABLES, evm_resources, snapshot

START, END = dt.date(2021, 3, 1), dt.date(2021, 3, 4)
pytestmark = pytest.mark.timeout(600)


def evaluate(sensor, url: str, warehouse: Warehouse):
    context = dg.build_sensor_context(
        instance=dg.DagsterInstance.ephemeral(), resources=evm_resources(url, warehouse)
    )
    return sensor(context)


def test_reorgs_above_finality_change_nothing_and_below_it_are_reingested(tmp_path):
    job = dg.define_asset_job("daily_refresh")
    sensor = build_reorg_sensor(job, CHAINS)
    labels, chain = load_labels(), CHAINS[0]
    warehouse = Warehouse(path=str(tmp_path / "warehouse.duckdb"))
    with Anvil(START, chain_id=chain.chain_id) as node:
        rpc = Rpc(node.url)
        fresh = rpc("evm_snapshot")
        plant_scenario(node.url, labels, START, END, chain)
        bury(node.url)
        assert materialize(evm_assets, evm_resources(node.url, warehouse), START, END).success
        before = snapshot(warehouse, EVM_TABLES)
        assert isinstance(evaluate(sensor, node.url, warehouse), dg.SkipReason)

        # Above the margin: the 10 newest (not final) blocks are replaced by other blocks.
        tip = rpc("evm_snapshot")
        rpc("anvil_mine", hex(10), hex(12))
        tip_hash = rpc("eth_getBlockByNumber", "latest", False)["hash"]
        rpc("evm_revert", tip)
        rpc("anvil_mine", hex(10), hex(13))
        assert rpc("eth_getBlockByNumber", "latest", False)["hash"] != tip_hash
        assert isinstance(evaluate(sensor, node.url, warehouse), dg.SkipReason)
        assert materialize(evm_assets, evm_resources(node.url, warehouse), START, END).success
        assert all(
            a.equals(b) for a, b in zip(before.values(), snapshot(warehouse, EVM_TABLES).values())
        )

        # Below it: the whole window re-mined with another story (fewer labelled wallets).
        rpc("evm_revert", fresh)
        plant_scenario(node.url, labels.subset(300), START, END, chain)
        bury(node.url)
        [request] = evaluate(sensor, node.url, warehouse)
        assert (
            request.tags["dagster/asset_partition_range_start"],
            request.tags["dagster/asset_partition_range_end"],
        ) == (str(START), str(END))
        result = dg.materialize(
            evm_assets,
            resources=evm_resources(node.url, warehouse),
            instance=dg.DagsterInstance.ephemeral(),
            tags=request.tags,
        )
        assert result.success
        after = snapshot(warehouse, EVM_TABLES)
        assert not after["raw.evm_day_blocks"].equals(before["raw.evm_day_blocks"])
        fresh_ingest = Warehouse(path=str(tmp_path / "fresh.duckdb"))
        assert materialize(evm_assets, evm_resources(node.url, fresh_ingest), START, END).success
        assert all(
            a.equals(b) for a, b in zip(after.values(), snapshot(fresh_ingest, EVM_TABLES).values())
        )
        assert isinstance(evaluate(sensor, node.url, warehouse), dg.SkipReason)
