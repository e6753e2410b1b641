"""Charts and HTML report: valid, reproducible PNGs; a self-contained, escaped HTML page;
empty and NULL inputs give "no data" rather than errors. All inputs are synthetic."""

import base64
import datetime as dt
import html
import io
import re
from pathlib import Path

import matplotlib
import numpy as np
import polars as pl
import pytest
from PIL import Image

from assets.analytics.report import (
    CHART_SOURCES,
    DPI,
    FIG_SIZE_INCHES,
    markdown_image,
    render_charts,
    render_html,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
EXPECTED_SIZE = (round(FIG_SIZE_INCHES[0] * DPI), round(FIG_SIZE_INCHES[1] * DPI))
CHART_NAMES = {"supply_vs_market_cap", "rolling_correlation", "reserves_by_kind", "ssr"}
PANEL_FLOATS = [
    "usdt_supply",
    "usdc_supply",
    "total_supply",
    "btc_mcap",
    "eth_mcap",
    "crypto_mcap",
    "spot_reserve",
    "derivatives_reserve",
    "derivatives_share",
    "ssr",
    "fear_greed",
]
START = dt.date(2022, 1, 1)
DAYS = 400
MALICIOUS = "<script>alert('x')</script>"


def _i32(*values: int | None) -> pl.Series:
    return pl.Series(values, dtype=pl.Int32)


def _dates(n: int = DAYS) -> pl.Series:
    return pl.date_range(START, START + dt.timedelta(days=n - 1), eager=True)


def _panel(n: int = DAYS) -> pl.DataFrame:
    rng = np.random.default_rng(7)

    def walk(level: float, vol: float) -> np.ndarray:
        return level * np.exp(np.cumsum(rng.normal(0, vol, n)))

    usdt, usdc = walk(70e9, 0.005), walk(45e9, 0.005)
    btc, eth = walk(800e9, 0.03), walk(350e9, 0.04)
    spot, derivatives = walk(12e9, 0.02), walk(6e9, 0.02)
    fear_greed = rng.uniform(0, 100, n)
    fear_greed[:30] = np.nan  # the index starts late: leading NULLs
    panel = pl.DataFrame(
        {
            "date": _dates(n),
            "usdt_supply": usdt,
            "usdc_supply": usdc,
            "total_supply": usdt + usdc,
            "btc_mcap": btc,
            "eth_mcap": eth,
            "crypto_mcap": btc + eth,
            "spot_reserve": spot,
            "derivatives_reserve": derivatives,
            "derivatives_share": derivatives / (spot + derivatives),
            "ssr": btc / (usdt + usdc),
            "fear_greed": fear_greed,
        }
    )
    # A gap in the middle of every series, as the marts can have.
    gap = pl.col("date").is_between(dt.date(2022, 6, 1), dt.date(2022, 6, 5))
    return panel.with_columns(
        pl.when(gap).then(None).otherwise(pl.col(c)).alias(c) for c in PANEL_FLOATS
    )


def _rolling(n: int = DAYS) -> pl.DataFrame:
    rng = np.random.default_rng(11)
    frames = []
    for supply, price in [("total", "crypto"), ("USDT", "BTC")]:
        for days in (30, 90, 365):
            # NULL until the window is full, as in the real table.
            corr = pl.Series(rng.uniform(-1, 1, n)).rolling_mean(days)
            frames.append(
                pl.DataFrame(
                    {
                        "date": _dates(n),
                        "supply_series": supply,
                        "price_series": price,
                        "window_days": pl.Series([days] * n, dtype=pl.Int32),
                        "correlation": corr,
                        "n_obs": pl.Series([days] * n, dtype=pl.Int32),
                    }
                )
            )
    return pl.concat(frames)


def _regime_periods() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "supply_series": ["total", "total", "USDT"],
            "price_series": ["crypto", "crypto", "BTC"],
            "regime": ["supply_up_price_down", "supply_down_price_up", "supply_up_price_down"],
            "start_date": [dt.date(2022, 5, 1), dt.date(2022, 11, 1), dt.date(2022, 8, 1)],
            "end_date": [dt.date(2022, 6, 20), dt.date(2022, 11, 30), dt.date(2022, 8, 20)],
            "days": _i32(51, 30, 20),
            "supply_growth": [0.05, -0.04, 0.02],
            "price_return": [-0.4, 0.2, -0.1],
        }
    )


def _window_columns(windows: list[str]) -> dict[str, list]:
    return {
        "period": windows,
        "window_start": [START] * len(windows),
        "window_end": [START + dt.timedelta(days=DAYS - 1)] * len(windows),
    }


def _summary() -> pl.DataFrame:
    return pl.DataFrame(
        {
            **_window_columns(["2022", "full", "trailing_90d", "2023"]),
            "supply_series": ["total", "total", MALICIOUS, "USDT"],
            "price_series": ["crypto"] * 4,
            "n_obs": _i32(365, 400, 45, 364),
            "verdict": ["coupled", "decoupled", "inconclusive", "not detected"],
            "q_bh": [0.0009, 1.0, None, 0.7],
            "p_adj_family": [0.00036, 1.0, None, 0.61],
            "supply_to_price_lag": _i32(3, 1, None, 2),
            "supply_to_price_p_adj_lags": [0.00012, 0.61, None, 0.9],
            "price_to_supply_lag": _i32(7, 2, None, 5),
            "price_to_supply_p_adj_lags": [0.2345, 0.98, None, 0.2],
            "engle_granger_p": [0.04, 0.5, None, 0.3],
            "equivalence_p": [0.9, 0.01, None, 0.3],
            "correlation_equivalence_p": [0.9, 0.01, None, 0.3],
            "granger_equivalence_p": [0.5, 0.004, None, 0.1],
            "correlation": [0.31, -0.02, None, 0.05],
            "johansen_trace": [21.5, 8.2, None, 3.0],
            "johansen_critical_5pct": [15.49, 15.49, None, 15.49],
            "explanation": [
                "Supply growth leads crypto returns by 3 days "
                "(Granger p = 0.0004 after Bonferroni).",
                "No test is significant: smallest adjusted p-value is 1.0.",
                f"Only 45 days, fewer than MIN_OBS = 60 {MALICIOUS}",
                "No relation was detected, but none was ruled out.",
            ],
        }
    )


def _tables() -> dict[str, pl.DataFrame]:
    windows = ["2022", "full"]
    return {
        "rolling_correlation": _rolling(),
        "regime_periods": _regime_periods(),
        "decoupling_summary": _summary(),
        "cointegration": pl.DataFrame(
            {
                **_window_columns(windows),
                "supply_series": ["total"] * 2,
                "price_series": ["crypto"] * 2,
                "method": ["engle_granger", "johansen"],
                "statistic": [-3.91, 12.2],
                "critical_value_5pct": [-3.37, 15.49],
                "p_value": [0.0123, None],
                "lags": _i32(2, 1),
                "cointegrated": [True, False],
                "n_obs": _i32(365, 400),
            }
        ),
        "structural_breaks": pl.DataFrame(
            {
                "supply_series": ["total"],
                "price_series": ["crypto"],
                **_window_columns(["full"]),
                "break_date": [dt.date(2022, 11, 8)],
                "sup_f": [18.73],
                "p_value": [0.0021],
                "slope_before": [1.234],
                "slope_after": [-0.456],
                "n_obs": _i32(399),
            }
        ),
        "event_study_summary": pl.DataFrame(
            {
                "token": ["USDT", "all"],
                "car_window": ["0..+1", "-5..+10"],
                "model": ["constant_mean", "market_model"],
                "n_events": _i32(2, 9),
                "overlapping_events": _i32(0, 7),
                "excluded_inventory": _i32(1, 3),
                "mean_car": [0.0123, -0.0456],
                "t_stat_independent": [None, -1.87],
                "t_p_value_independent": [None, 0.0981],
                "bmp_t_stat": [None, -1.52],
                "avg_cross_correlation": [None, 0.0123],
                "adj_bmp_t_stat": [None, -1.12],
                "adj_bmp_p_value": [None, 0.2871],
            }
        ),
        "exchange_migration": pl.DataFrame(
            {
                **_window_columns(["full"]),
                "share_start": [0.312],
                "share_end": [0.4567],
                "trend_per_year": [0.0421],
                "trend_p_value": [0.0004],
                "corr_share_change_btc_return": [-0.12],
                "corr_p_value": [0.03],
                "n_obs": _i32(400),
            }
        ),
        "risk_panel": pl.DataFrame(
            {
                **_window_columns(windows),
                "asset": ["BTC", "SP500"],
                "annualised_return": [-0.6412, 0.0834],
                "annualised_volatility": [0.5521, 0.1876],
                "sharpe": [-1.02, 0.41],
                "max_drawdown": [-0.7734, -0.2551],
                "risk_free_rate": [0.0213, 0.0213],
                "periods_per_year": _i32(365, 252),
                "n_obs": _i32(365, 250),
                "days_in_window": _i32(365, 365),
                "coverage": [1.0, 1.0],
                "partial_period": [False, False],
            }
        ),
    }


def _assert_png(path: Path) -> None:
    data = path.read_bytes()
    assert data.startswith(PNG_SIGNATURE), path
    with Image.open(io.BytesIO(data)) as image:
        image.verify()
    with Image.open(io.BytesIO(data)) as image:
        assert image.format == "PNG"
        assert image.size == EXPECTED_SIZE, path
        # A real drawing, not a blank canvas: many distinct colours.
        assert len(image.convert("RGB").getcolors(maxcolors=1 << 20)) > 50, path


@pytest.fixture(scope="module")
def charts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return render_charts(_panel(), _tables(), tmp_path_factory.mktemp("charts"))


def test_charts_are_valid_pngs_of_the_fixed_size(charts: dict[str, Path]):
    assert set(charts) == CHART_NAMES
    for name, path in charts.items():
        assert path.name == f"{name}.png" and path.is_file()
        _assert_png(path)
        # No "Software" text chunk: it would name the matplotlib version in the bytes.
        assert b"matplotlib" not in path.read_bytes()


def test_charts_are_byte_identical_across_renders(charts: dict[str, Path], tmp_path: Path):
    again = render_charts(_panel(), _tables(), tmp_path)
    for name, path in charts.items():
        assert again[name].read_bytes() == path.read_bytes(), name


def test_charts_ignore_and_keep_global_matplotlib_settings(charts: dict[str, Path], tmp_path: Path):
    # As if the user's matplotlibrc changed the look: the charts must not change, nor the settings.
    with matplotlib.rc_context({"font.size": 20, "lines.linewidth": 5, "axes.facecolor": "black"}):
        again = render_charts(_panel(), _tables(), tmp_path)
        assert matplotlib.rcParams["font.size"] == 20
        assert matplotlib.rcParams["axes.facecolor"] == "black"
    for name, path in charts.items():
        assert again[name].read_bytes() == path.read_bytes(), name


def test_charts_depend_on_the_data(charts: dict[str, Path], tmp_path: Path):
    # Determinism must not come from ignoring the input: a different rolling pair changes the chart.
    tables = _tables()
    rolling = tables["rolling_correlation"]
    tables["rolling_correlation"] = rolling.filter(pl.col("supply_series") == "USDT")
    other = render_charts(_panel(), tables, tmp_path)
    assert other["rolling_correlation"].read_bytes() != charts["rolling_correlation"].read_bytes()
    assert other["ssr"].read_bytes() == charts["ssr"].read_bytes()


def test_empty_and_null_inputs_draw_no_data_charts(tmp_path: Path):
    all_null = _panel().with_columns(pl.lit(None, dtype=pl.Float64).alias(c) for c in PANEL_FLOATS)
    empty_tables = {name: frame.clear() for name, frame in _tables().items()}
    null_rolling = {
        "rolling_correlation": _rolling().with_columns(
            pl.lit(None, dtype=pl.Float64).alias("correlation")
        )
    }
    cases = {
        "null_panel": (all_null, empty_tables),
        "empty_panel": (_panel().clear(), {}),  # tables missing entirely
        "null_correlations": (_panel(), null_rolling),
        "one_day": (_panel(1), empty_tables),
    }
    rendered = {}
    for case, (panel, tables) in cases.items():
        rendered[case] = render_charts(panel, tables, tmp_path / case)
        assert set(rendered[case]) == CHART_NAMES
        for path in rendered[case].values():
            _assert_png(path)
    # Nothing to draw looks the same whatever the reason (NULL values, no rows, no table).
    for name in CHART_NAMES:
        null_panel, empty_panel = rendered["null_panel"][name], rendered["empty_panel"][name]
        assert null_panel.read_bytes() == empty_panel.read_bytes(), name
    assert (
        rendered["null_correlations"]["rolling_correlation"].read_bytes()
        == rendered["null_panel"]["rolling_correlation"].read_bytes()
    )


@pytest.fixture(scope="module")
def html_report(charts: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> str:
    out = tmp_path_factory.mktemp("html") / "report" / "index.html"
    path = render_html(_panel(), _tables(), charts, out, "2022-01-01..2023-02-04")
    assert path == out
    return out.read_text(encoding="utf-8")


def test_html_is_self_contained(html_report: str, charts: dict[str, Path]):
    assert html_report.startswith("<!DOCTYPE html>")
    refs = re.findall(r"""(?:src|href)\s*=\s*["']([^"']*)""", html_report, flags=re.IGNORECASE)
    assert refs and all(ref.startswith("data:image/png;base64,") for ref in refs)
    assert "http://" not in html_report and "https://" not in html_report
    assert "<script" not in html_report.lower() and "<link" not in html_report.lower()
    for path in charts.values():
        encoded = base64.b64encode(path.read_bytes()).decode()
        assert f'src="data:image/png;base64,{encoded}"' in html_report


def test_html_shows_verdicts_explanations_and_formatted_numbers(html_report: str):
    summary = _summary()
    for verdict in ("coupled", "decoupled", "inconclusive", "not detected"):
        css = verdict.replace(" ", "-")
        assert re.search(rf'<td class="verdict v-{css}">{verdict}</td>', html_report), verdict
    for explanation in summary["explanation"]:
        assert html.escape(explanation) in html_report
    # p-values: tiny ones as "<0.001" (escaped), others with three decimals; NULL as a dash.
    assert "&lt;0.001" in html_report and "0.234" in html_report and "0.040" in html_report
    assert "21.50" in html_report and "15.49" in html_report
    # Percentages in the risk panel, exchange migration and event study.
    for text in (
        "-64.1%",
        "55.2%",
        "-77.3%",
        "2.13%",
        "31.2%",
        "45.7%",
        "+4.21 pp/yr",
        "1.23%",
        "-4.56%",
    ):
        assert text in html_report, text
    assert "2022-11-08" in html_report and "18.73" in html_report  # structural break
    for heading in (
        "Cointegration",
        "Structural breaks",
        "event study",
        "derivatives exchanges",
        "Risk panel",
    ):
        assert heading in html_report, heading
    # The footer explains the rule, MIN_OBS and the data window.
    footer = html_report[html_report.index("<footer>") :]
    for text in (
        "Bonferroni",
        "Benjamini-Hochberg",
        "HC3",
        "daily log changes",
        "Engle-Granger",
        "MIN_OBS",
        "60",
        "inconclusive",
        "not detected",
        "absence of evidence",
        "2022-01-01..2023-02-04",
    ):
        assert text in footer, text


def test_html_escapes_text(html_report: str):
    assert "<script>" not in html_report
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in html_report


def test_html_is_reproducible_and_handles_empty_tables(charts: dict[str, Path], tmp_path: Path):
    first = render_html(_panel(), _tables(), charts, tmp_path / "a.html", "2022-01-01..2023-02-04")
    second = render_html(_panel(), _tables(), charts, tmp_path / "b.html", "2022-01-01..2023-02-04")
    assert first.read_bytes() == second.read_bytes()

    empty = render_html(_panel().clear(), {}, {}, tmp_path / "empty.html", "")
    text = empty.read_text(encoding="utf-8")
    # the headline pair's verdicts, every verdict (collapsed) and the five sections
    assert text.count("No rows.") == 7 and "No verdicts yet." in text
    assert "<img" not in text


def test_html_answers_first_then_charts_then_tables(html_report: str):
    answer = html_report.index("<h2>The answer</h2>")
    assert (
        answer
        < html_report.index("<h2>Charts</h2>")
        < html_report.index("<h2>Decoupling verdicts</h2>")
    )
    headline = html_report[answer : html_report.index("<h2>Charts</h2>")]
    # The fixture's full-window verdict for all stablecoins vs crypto, with its deciding number.
    assert "Over the full window" in headline and "decoupled" in headline
    assert "equivalence p = 0.010" in headline
    assert "not proof that it caused" in headline and "absence of evidence" in headline
    # Full period first in the verdict tables; the whole table is collapsed.
    verdicts = html_report[html_report.index("<h2>Decoupling verdicts</h2>") :]
    assert verdicts.index("<td>full</td>") < verdicts.index("<td>2022</td>")
    assert "<details><summary>All 4 verdicts" in verdicts


def test_each_chart_names_its_own_sources(html_report: str):
    for name, source in CHART_SOURCES.items():
        assert html.escape(source) in html_report, name
    assert "JSON-RPC" in CHART_SOURCES["reserves_by_kind"]
    assert "JSON-RPC" not in CHART_SOURCES["supply_vs_market_cap"]


def test_markdown_image_embeds_the_png(charts: dict[str, Path]):
    path = charts["ssr"]
    markdown = markdown_image(path)
    match = re.fullmatch(r"!\[([^\]]*)\]\(data:image/png;base64,([A-Za-z0-9+/=]+)\)", markdown)
    assert match and match.group(1) == "ssr"
    assert base64.b64decode(match.group(2)) == path.read_bytes()
