"""USDC moved between chains by Circle, with CCTP or Gateway, is not issuance.

The sandbox chain plants CCTP mints and burns by the TokenMinters of sql/seeds/cctp_minters.csv,
and Gateway's by its GatewayMinter and GatewayWallet, at their real addresses beside the
issuer's own (sandbox/chain.py, ground truth per day). Read by the pipeline (extraction,
reference seed, staging, the issuance mart), minted and burned split into the issuer's, CCTP's
and Gateway's must match that truth exactly, the gross columns must not move, and the check that
the parts add up to the gross must catch a planted disagreement.
"""

import datetime as dt
import shutil

import polars as pl
import pytest

from assets.ingest.cctp import PROTOCOLS, SeedError, load_cctp_minters
from assets.ingest.evm import evm_assets
from assets.ingest.reference import reference_data
from assets.models import model_assets, model_checks, models
from assets.quality import Suite, _run_suite, suite_of
from core.resources import Warehouse
from core.resources.evm import EvmRpc
from sandbox.chain import CROSSINGS
from sandbox.world import planted_chain
from tests.conftest import materialize

START, END = dt.date(2021, 3, 1), dt.date(2021, 3, 14)
MART = "marts.stablecoin_issuance_daily"
EVENTS = "staging.stg_evm__issuance_events"
MODELS = (EVENTS, "staging.stg_evm__issuance_daily", MART)
UNIT = 10**6  # USDT and USDC: 6 decimals
PARTS = ["issuer", *CROSSINGS]  # minted and burned split by channel


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The planted Ethereum window read by the on-chain assets and the reference seed, then
    the issuance models built and checked, as a daily run does."""
    chosen = [a for a in model_assets if a.key.to_user_string().replace("/", ".") in MODELS]
    assert len(chosen) == len(MODELS)
    checks = [
        c for c in model_checks if {k.asset_key for k in c.check_keys} <= {a.key for a in chosen}
    ]
    with planted_chain(START, END) as (url, truth):
        warehouse = Warehouse(path=str(tmp_path_factory.mktemp("channels") / "w.duckdb"))
        result = materialize(
            [*evm_assets, reference_data, *chosen, *checks],
            {"warehouse": warehouse, "rpc_ethereum": EvmRpc(chain="ethereum", url=url)},
            START,
            END,
        )
        assert result.success
        yield result, warehouse, truth


def micro(frame: pl.DataFrame, *columns: str) -> pl.DataFrame:
    """Whole tokens (DOUBLE) back to base units, exactly (amounts here are far below 2**53)."""
    return frame.with_columns((pl.col(c) * UNIT).round().cast(pl.Int64) for c in columns)


SPLIT = [f"{side}_{part}_tokens" for side in ("minted", "burned") for part in PARTS]


def test_the_split_matches_the_planted_truth_per_day(built):
    _, warehouse, truth = built
    mart = micro(
        warehouse.read(f"SELECT date, token, {', '.join(SPLIT)} FROM {MART} ORDER BY date, token"),
        *SPLIT,
    )
    frozen = {"minted": pl.lit(0), "burned": pl.col("burned_frozen_raw")}
    planted = truth.issuance.sort("date", "token").select(
        "date",
        "token",
        *(
            pl.col(f"{side}_raw") - sum(pl.col(f"{side}_{p}_raw") for p in CROSSINGS) - frozen[side]
            if part == "issuer"
            else pl.col(f"{side}_{part}_raw")
            for side in ("minted", "burned")
            for part in PARTS
        ),
    )
    assert mart.rows() == planted.rows()
    # Tether's destroyed frozen funds: their own column, not the issuer's redemptions
    destroyed = micro(
        warehouse.read(f"SELECT burned_frozen_tokens FROM {MART} ORDER BY date, token"),
        "burned_frozen_tokens",
    )["burned_frozen_tokens"]
    assert (
        destroyed.to_list() == truth.issuance.sort("date", "token")["burned_frozen_raw"].to_list()
    )
    assert destroyed.sum() > 0
    # not vacuous: the window has CCTP's and Gateway's mints and burns of USDC, and the issuer's
    usdc = mart.filter(pl.col("token") == "USDC")
    assert (usdc["minted_cctp_tokens"] > 0).sum() >= 3 and (usdc["burned_cctp_tokens"] > 0).any()
    assert (usdc["minted_gateway_tokens"] > 0).any() and (usdc["burned_gateway_tokens"] > 0).any()
    assert (usdc["minted_issuer_tokens"] > 0).any() and (usdc["burned_issuer_tokens"] > 0).any()


def test_the_gross_columns_are_unchanged(built):
    """Gross minted and burned still count every mint and burn, CCTP's included."""
    _, warehouse, truth = built
    mart = micro(
        warehouse.read(
            f"SELECT date, token, minted_tokens, burned_tokens, net_tokens FROM {MART} "
            "ORDER BY date, token"
        ),
        "minted_tokens",
        "burned_tokens",
        "net_tokens",
    )
    planted = truth.issuance.sort("date", "token").select(
        "date",
        "token",
        "minted_raw",
        "burned_raw",
        (pl.col("minted_raw") - pl.col("burned_raw")).alias("net_raw"),
    )
    assert mart.rows() == planted.rows()


def test_every_event_keeps_its_operator_and_channel(built):
    """Mint's minter and Burn's burner reach staging; the seed's TokenMinters are cctp, its
    GatewayMinter and GatewayWallet gateway, DestroyedBlackFunds frozen, the rest issuer;
    Issue/Redeem/DestroyedBlackFunds name nobody (NULL). The issuer's largest mint of a day
    leaves the cross-chain ones out."""
    _, warehouse, truth = built
    seed = load_cctp_minters().filter(pl.col("chain") == "ethereum")
    channel_of = {a.lower(): p for a, p in seed.select("address", "protocol").iter_rows()}
    events = warehouse.read(
        f"SELECT tx_hash, event, amount_tokens, operator, channel, date, token, direction "
        f"FROM {EVENTS}"
    )
    assert warehouse.read("SELECT count(*) AS n FROM raw.cctp_minters")["n"][0] == len(
        load_cctp_minters()
    )
    got = sorted((h, e, round(a * UNIT), o, c) for h, e, a, o, c, *_ in events.iter_rows())
    planted = sorted(
        (
            h,
            e,
            a,
            o.lower() if o else None,
            channel_of.get(o.lower(), "issuer")
            if o
            else "frozen"
            if e == "DestroyedBlackFunds"
            else "issuer",
        )
        for h, e, a, o in truth.large_events.select(
            "tx_hash", "event", "amount_raw", "operator"
        ).iter_rows()
    )
    assert got == planted
    assert {"issuer", "cctp", "gateway", "frozen"} == set(events["channel"])
    named = events.filter(pl.col("event").is_in(["Issue", "Redeem", "DestroyedBlackFunds"]))
    assert named.height and named["operator"].null_count() == named.height

    largest = warehouse.read(
        f"SELECT date, token, largest_mint_tokens, largest_issuer_mint_tokens FROM {MART} "
        "WHERE largest_mint_tokens IS NOT NULL ORDER BY ALL"
    )
    issuer_max = (
        events.filter((pl.col("direction") == "mint") & (pl.col("channel") == "issuer"))
        .group_by("date", "token")
        .agg(pl.col("amount_tokens").max().alias("want"))
    )
    joined = largest.join(issuer_max, on=["date", "token"], how="left")
    assert joined["largest_issuer_mint_tokens"].to_list() == joined["want"].to_list()
    # some day's largest mint is a cross-chain one, and the issuer's figure is not it
    assert (joined["largest_issuer_mint_tokens"].fill_null(0) < joined["largest_mint_tokens"]).any()


def test_the_parts_add_up_to_the_gross_and_a_lost_event_is_caught(built, tmp_path):
    """channels_sum_to_gross passes on what the pipeline built. With one CCTP mint missing from
    the events (the daily sums still count it), rebuilt staging and mart disagree with the gross
    on exactly that day, and the blocking check fails."""
    result, warehouse, _ = built
    evaluations = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert evaluations["channels_sum_to_gross"].passed
    assert evaluations["channel_known"].passed

    copy = Warehouse(path=str(tmp_path / "w.duckdb"))
    shutil.copy(warehouse.path, copy.path)
    lost = copy.read(
        f"SELECT block_number, log_index, date FROM {EVENTS} "
        "WHERE channel = 'cctp' AND direction = 'mint' ORDER BY block_number LIMIT 1"
    ).row(0, named=True)
    by_table = {m.table: m for m in models}
    with copy.transaction() as con:
        con.execute(
            "DELETE FROM raw.evm_issuance_events WHERE block_number = ? AND log_index = ?",
            [lost["block_number"], lost["log_index"]],
        )
        for table in MODELS:
            by_table[table].build(con)
    check = [e for e in suite_of(MART).expectations if e.name == "channels_sum_to_gross"]
    (outcome,) = _run_suite(copy, Suite(MART, check))
    assert not outcome.passed
    assert outcome.metadata["unexpected_count"].value == 1
    bad = copy.read(check[0].sql).filter(pl.col("relative_difference") > 1e-9)
    assert bad.select("date", "token").rows() == [(lost["date"], "USDC")]


def test_each_day_names_the_chains_its_sums_hold(built, tmp_path):
    """`chains` lists the chains whose issuance a day's sums hold: a day one chain was not
    ingested (a run per chain, a failed run) says so instead of passing for a smaller day."""
    _, warehouse, _ = built
    assert set(warehouse.read(f"SELECT DISTINCT chains FROM {MART}")["chains"]) == {"ethereum"}

    copy = Warehouse(path=str(tmp_path / "w.duckdb"))
    shutil.copy(warehouse.path, copy.path)
    day = copy.read(f"SELECT min(date) AS d FROM {MART}")["d"][0] + dt.timedelta(days=1)
    by_table = {m.table: m for m in models}
    with copy.transaction() as con:
        con.execute("DELETE FROM raw.evm_issuance_daily WHERE date = ?", [day])
        for table in MODELS:
            by_table[table].build(con)
    chains = dict(copy.read(f"SELECT date, any_value(chains) FROM {MART} GROUP BY date").rows())
    assert chains[day] is None and chains[day + dt.timedelta(days=1)] == "ethereum"


def test_a_warehouse_from_before_the_operator_column_is_upgraded_in_place(tmp_path):
    """A warehouse whose raw events were read before `operator` was kept: the next run adds
    the column (NULL in the old rows), its own rows are split, the old days' split is NULL
    (not counted as the issuer's), the reconciliation passes, and the non-blocking
    operator_read check names what to re-ingest. Nothing is lost."""
    middle = START + dt.timedelta(days=6)
    chosen = [a for a in model_assets if a.key.to_user_string().replace("/", ".") in MODELS]
    checks = [
        c for c in model_checks if {k.asset_key for k in c.check_keys} <= {a.key for a in chosen}
    ]
    with planted_chain(START, END) as (url, truth):
        warehouse = Warehouse(path=str(tmp_path / "old.duckdb"))
        resources = {"warehouse": warehouse, "rpc_ethereum": EvmRpc(chain="ethereum", url=url)}
        assert materialize([*evm_assets, reference_data], resources, START, middle).success
        with warehouse.transaction("raw.evm_issuance_events") as con:  # as an older version left it
            con.execute("ALTER TABLE raw.evm_issuance_events DROP COLUMN operator")
            con.execute("ALTER TABLE raw.cctp_minters DROP COLUMN protocol")
        old_rows = warehouse.read("SELECT count(*) FROM raw.evm_issuance_events").item()
        # The models rebuilt before any raw table is written again (the models group alone,
        # from the UI): the raw tables gain the columns, NULL, and every model builds.
        assert materialize([*chosen, *checks], resources, START, middle).success

        later = middle + dt.timedelta(days=1)
        result = materialize([*evm_assets, reference_data, *chosen, *checks], resources, later, END)
        assert result.success
    stored = warehouse.read(
        "SELECT date <= ? AS old, count(*) AS n, count(operator) AS named "
        "FROM raw.evm_issuance_events WHERE event IN ('Mint', 'Burn') GROUP BY ALL ORDER BY old",
        [middle],
    )
    assert (
        stored.rows()[1][1]
        + warehouse.read(
            "SELECT count(*) FROM raw.evm_issuance_events WHERE date <= ? AND event NOT IN "
            "('Mint', 'Burn')",
            [middle],
        ).item()
        == old_rows
    )  # the old rows are all there
    (new, new_n, new_named), (old, _, old_named) = stored.rows()
    assert (new, old, old_named) == (False, True, 0) and new_named == new_n > 0

    split = ["minted_issuer_tokens", "minted_cctp_tokens", "burned_issuer_tokens"]
    mart = warehouse.read(
        f"SELECT date, token, {', '.join(split)}, minted_tokens FROM {MART} ORDER BY date, token"
    )
    # Not split: exactly the old days that hold a USDC mint or burn (a day without is zero).
    read_before = warehouse.read(
        "SELECT DISTINCT date FROM raw.evm_issuance_events "
        "WHERE token = 'USDC' AND operator IS NULL AND event IN ('Mint', 'Burn') ORDER BY date"
    )["date"].to_list()
    usdc = mart.filter(pl.col("token") == "USDC")
    assert read_before and max(read_before) <= middle
    assert usdc.filter(pl.col("minted_issuer_tokens").is_null())["date"].to_list() == read_before
    assert (
        usdc.filter(pl.col("date").is_in(read_before)).select(split).null_count().row(0)
        == (len(read_before),) * 3
    )
    # the gross is still there
    assert usdc.filter(pl.col("date").is_in(read_before))["minted_tokens"].sum() > 0
    new_days = micro(mart.filter(pl.col("date") > middle), *split[:2])
    planted = truth.issuance.filter(pl.col("date") > middle).sort("date", "token")
    assert (
        new_days.select("date", "token", "minted_cctp_tokens").rows()
        == planted.select("date", "token", "minted_cctp_raw").rows()
    )
    assert planted["minted_cctp_raw"].sum() > 0

    # The large-mint study still counts the old days' mints as the issuer's, as it did.
    from assets.analytics.assets import read_issuance_events

    studied = read_issuance_events(warehouse).filter(pl.col("token") == "USDC")
    assert set(read_before) <= set(studied["date"])

    evaluations = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert evaluations["channels_sum_to_gross"].passed and evaluations["channel_known"].passed
    assert not evaluations["operator_read"].passed  # a warning, naming the way out
    assert evaluations["operator_read"].severity.value == "WARN"


FIRST = "ethereum,0xc4922d64a24675E16e1586e3e3Aa56C06fABe907,TokenMinter,https://a,b,cctp"
V2 = "0xfd78EE919681417d192449715b2594ab58f5D002"


@pytest.mark.parametrize(
    "row, message",
    [
        ("ethereum,0xc4922d64a24675e16e1586e3e3aa56c06fabe907,x,https://a,b,cctp", "EIP-55"),
        (f"ethereum,{V2},x,http://a,b,cctp", "https:// URL"),
        (f"ethereum,{V2},x,https://a,,cctp", "evidence is empty"),
        (f"Ethereum,{V2},x,https://a,b,cctp", "not an EVM chain"),
        (f"ethereum,{V2},x,https://a,b,CCTP", "protocol = 'CCTP': not one of"),
        (FIRST, "duplicates line 2"),
    ],
)
def test_a_bad_seed_row_fails_naming_its_line(tmp_path, row, message):
    """A typo in the seed would silently count cross-chain mints as issuance: it fails instead."""
    path = tmp_path / "cctp_minters.csv"
    path.write_text(f"chain,address,contract,source,evidence,protocol\n{FIRST}\n{row}\n")
    with pytest.raises(SeedError, match=message) as failure:
        load_cctp_minters(path)
    assert "line 3" in str(failure.value)


def test_the_seed_lists_the_tokenminters_of_every_configured_usdc_chain():
    seed = load_cctp_minters()
    gateway = {
        "0x2222222d7164433c4C09B0b0D809a9b52C04C205",
        "0x77777777Dcc4d5A8B6E418Fd04D8997ef11000eE",
    }
    assert {tuple(r) for r in seed.select("chain", "address", "protocol").iter_rows()} >= {
        ("ethereum", "0xc4922d64a24675E16e1586e3e3Aa56C06fABe907", "cctp"),
        ("arbitrum", "0xE7Ed1fa7f45D05C508232aa32649D89b73b8bA48", "cctp"),
        *(("ethereum", a, "gateway") for a in gateway),
        *(("arbitrum", a, "gateway") for a in gateway),
    }
    assert set(seed["protocol"]) == set(PROTOCOLS) == set(CROSSINGS)  # the sandbox plants each
    assert seed["source"].str.starts_with("https://").all()
