"""Planted secrets never reach the event log, materialisation metadata, tables or logs.

A CoinGecko key (sent in a header) and an RPC URL with a key in its path (as Infura and
Alchemy issue them) come from environment variables through dagster.EnvVar. The run is made
to retry and to fail on one source, so error messages are exercised too. Then every event of
the run, every table cell and everything logged is searched for the secrets, after checking
they really were used.
"""

import datetime as dt
import logging

import dagster as dg
import pytest
from dagster._serdes import serialize_value

from assets.ingest import api_assets
from assets.ingest.evm import evm_assets
from core.resources.evm import EvmRpc
from sandbox.rpc_proxy import RpcProxy
from sandbox.world import planted_chain
from tests.conftest import fast_source, materialize

START, END = dt.date(2021, 3, 1), dt.date(2021, 3, 4)
API_SECRET = "CG-planted-7f3a9c1e5b"
RPC_SECRET = "planted0rpc0key0d41d8cd98f00b204e98"


@pytest.fixture(scope="module")
def node():
    with planted_chain(START, END) as (node_url, _), RpcProxy(node_url) as proxy:
        yield proxy


def test_no_secret_in_events_metadata_tables_or_logs(
    node, replay, resources, warehouse, monkeypatch, caplog, capsys
):
    monkeypatch.setenv("COINGECKO_API_KEY", API_SECRET)
    monkeypatch.setenv("STABLEFLOW_ETHEREUM_RPC_URL", f"{node.url}/v3/{RPC_SECRET}")
    resources = {
        **resources,
        "coingecko": fast_source(
            "coingecko",
            f"{replay.url}/coingecko/api/v3",
            api_key=dg.EnvVar("COINGECKO_API_KEY"),
            api_key_header="x-cg-demo-api-key",
        ),
        "rpc_ethereum": EvmRpc(
            chain="ethereum", url=dg.EnvVar("STABLEFLOW_ETHEREUM_RPC_URL"), backoff_s=0.01
        ),
    }
    replay.inject("/coingecko/api/v3/coins/bitcoin", "429", times=1, retry_after=0.01)
    replay.inject("/coingecko/api/v3/coins/tether", "500", times=-1)  # fails, with its URL
    node.rate_limit_next = 1
    node.reset_counts()
    instance = dg.DagsterInstance.ephemeral()
    with caplog.at_level(logging.DEBUG):
        result = materialize(
            [*api_assets, *evm_assets],
            resources,
            START,
            END,
            raise_on_error=False,
            instance=instance,
        )
    assert not result.success  # the tether failure, by design

    # The secrets were really used: the key went out in its header, the URL path was asked.
    assert replay.api_keys[API_SECRET] > 0
    assert node.paths[f"/v3/{RPC_SECRET}"] > 0
    failures = [
        str(e.event_specific_data.error.to_string()) for e in result.all_events if e.is_step_failure
    ]
    assert any("/coins/tether/market_chart/range" in f for f in failures)

    events = "\n".join(serialize_value(entry) for entry in instance.all_logs(result.run_id))
    metadata = "\n".join(
        str(m.metadata)
        for e in result.get_asset_materialization_events()
        for m in [e.event_specific_data.materialization]
    )
    tables = []
    with warehouse.connect(read_only=True) as con:
        for (name,) in con.execute(
            "SELECT table_schema || '.' || table_name FROM information_schema.tables"
        ).fetchall():
            tables.append(str(con.execute(f"SELECT * FROM {name}").fetchall()))
    assert len(tables) >= 8 and metadata
    logged = caplog.text + "\n".join(capsys.readouterr())
    for place, text in [
        ("event log", events),
        ("metadata", metadata),
        ("tables", "\n".join(tables)),
        ("logs", logged),
    ]:
        for secret in (API_SECRET, RPC_SECRET):
            assert secret not in text, f"{secret} found in the {place}"
