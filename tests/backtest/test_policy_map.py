"""The policy map chart: both axes render, to PNG and PDF, with and without a band."""

from __future__ import annotations

import numpy as np
import pytest

from backtest.report.policy_map import (
    GO_FOR_BROKE_CAPTION,
    WealthBand,
    go_for_broke_region,
    policy_map_figure,
    policy_map_pdf,
    policy_map_png,
    share_of_paths_in_region,
)
from strategies.adaptive import AdaptivePolicy
from tests.browser import CHROMIUM, SKIP_REASON, render_probe


@pytest.fixture
def policy() -> AdaptivePolicy:
    n_y, n_s = 5, 7
    grid = np.linspace(0.0, 600.0, n_s)[None, :] + 10.0 * np.arange(n_y)[:, None]
    eq = np.linspace(0.9, 0.2, n_s)[None, :].repeat(n_y, axis=0)
    return AdaptivePolicy(
        name="toy",
        assets=("stocks", "bonds"),
        ages=60.0 + np.arange(n_y),
        wealth_grid=grid,
        weights=np.stack([eq, 1 - eq], axis=2),
        value=np.linspace(0.0, 1.0, n_s)[None, :].repeat(n_y, axis=0),
        spending_pv=np.array([500.0, 400.0, 300.0, 200.0, 100.0]),
        contribution_pv=np.zeros(n_y),
        state="funded_ratio",
    )


def table(eq: np.ndarray, spending_pv: float = 1e6) -> AdaptivePolicy:
    """A hand-made two-asset policy with equity share ``eq`` (n_years, n_states) on the
    wealth grid 0, 100, ... real USD, every node underfunded unless ``spending_pv`` is small."""
    n_y, n_s = eq.shape
    return AdaptivePolicy(
        name="hand-made",
        assets=("stocks", "bonds"),
        ages=60.0 + np.arange(n_y),
        wealth_grid=np.repeat(100.0 * np.arange(n_s)[None, :], n_y, axis=0),
        weights=np.stack([eq, 1 - eq], axis=2),
        value=np.zeros((n_y, n_s)),
        spending_pv=np.full(n_y, spending_pv),
        contribution_pv=np.zeros(n_y),
        state="funded_ratio",
    )


def test_no_region_where_equity_falls_with_wealth() -> None:
    eq = np.linspace(0.1, 0.9, 8)[None, :].repeat(4, axis=0)  # more wealth, more equity
    assert not go_for_broke_region(table(eq), ("stocks",)).any()
    assert not go_for_broke_region(table(eq), ("stocks",), peak_only=False).any()
    flat = np.full((4, 8), 0.6)
    assert not go_for_broke_region(table(flat), ("stocks",)).any()


def test_region_is_exactly_the_block_that_rises_as_wealth_falls() -> None:
    eq = np.full((6, 10), 0.4)
    eq[:, :2] = 0.1  # hopeless: an arbitrary low share below the block
    eq[2:5, 3:7] = 1.0  # years 2-4, wealth nodes 3-6: all equity, more than richer nodes
    region = go_for_broke_region(table(eq), ("stocks",))
    expected = np.zeros_like(region)
    expected[2:5, 3:7] = True
    np.testing.assert_array_equal(region, expected)
    # the funded part of the block (funded ratio >= 1 from 500 USD with PV spending 500)
    # is not a gamble to reach the goal: it leaves the region
    funded = go_for_broke_region(table(eq, spending_pv=500.0), ("stocks",))
    expected[:, 5:] = False
    np.testing.assert_array_equal(funded, expected)


def test_peak_only_keeps_the_top_of_a_rising_slope() -> None:
    eq = np.array([[0.1, 1.0, 1.0, 0.8, 0.6, 0.4, 0.4]])
    slope = go_for_broke_region(table(eq), ("stocks",), peak_only=False)
    np.testing.assert_array_equal(slope[0], [False, True, True, True, True, False, False])
    peak = go_for_broke_region(table(eq), ("stocks",))
    np.testing.assert_array_equal(peak[0], [False, True, True, False, False, False, False])


def test_share_of_paths_through_the_region() -> None:
    eq = np.full((3, 6), 0.4)
    eq[1, 1:3] = 1.0  # year 1, wealth 100-200 USD
    p = table(eq)
    region = go_for_broke_region(p, ("stocks",))
    wealth = np.array(
        [
            [300.0, 150.0, 90.0, 0.0],  # in it at year 1 (terminal column ignored)
            [150.0, 400.0, 150.0, 150.0],  # at 150 only in years 0 and 2: outside
            [300.0, 260.0, 0.0, 0.0],  # nearest node 300 at year 1: outside
            [300.0, 240.0, 0.0, 0.0],  # nearest node 200: inside
        ]
    )
    assert share_of_paths_in_region(p, region, wealth) == pytest.approx(0.5)


def test_the_map_hatches_and_captions_the_region() -> None:
    eq = np.full((6, 10), 0.4)
    eq[2:5, 3:7] = 1.0
    fig = policy_map_figure(table(eq), ("stocks",), None, axis="wealth")
    texts = [t.get_text() for t in fig.texts]
    assert GO_FOR_BROKE_CAPTION in texts
    entries = [t.get_text() for leg in fig.legends for t in leg.get_texts()]
    assert any("go-for-broke" in e for e in entries)
    hatched = [c for ax in fig.axes[:2] for c in ax.collections if c.get_hatch()]
    assert len(hatched) == 2  # one hatched area on each map
    # no region, no hatching, no caption
    plain = policy_map_figure(table(np.full((6, 10), 0.4)), ("stocks",), None, axis="wealth")
    assert GO_FOR_BROKE_CAPTION not in [t.get_text() for t in plain.texts]
    assert not plain.legends


def test_png_and_pdf(policy: AdaptivePolicy) -> None:
    band = WealthBand(np.full(5, 100.0), np.full(5, 250.0), np.full(5, 400.0))
    png = policy_map_png(policy, ("stocks",), band=band, axis="wealth")
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    pdf = policy_map_pdf(policy, ("stocks",), band=band)
    assert pdf[:5] == b"%PDF-"


def test_axes_and_limits(policy: AdaptivePolicy) -> None:
    fig = policy_map_figure(policy, ("stocks",), None, axis="funded_ratio", y_max=2.0)
    left, right = fig.axes[0], fig.axes[1]  # the two maps (their colour bars follow)
    assert left.get_ylim() == (0.0, 2.0)
    assert "funded ratio" in left.get_ylabel()
    assert "success" in right.get_title()
    fig = policy_map_figure(policy, ("stocks",), None, axis="wealth")
    # thousands of USD, up to the grid's top (640 at the last age)
    assert fig.axes[0].get_ylim()[1] == pytest.approx(0.64)


def test_tearsheet_section_in_html_and_pdf(policy: AdaptivePolicy, tmp_path) -> None:
    from backtest.report import write_tearsheet
    from backtest.report.model import TearsheetData
    from backtest.report.policy_map import PolicyMapData

    band = WealthBand(np.full(5, 100.0), np.full(5, 250.0), np.full(5, 400.0))
    data = TearsheetData(
        title="adaptive", policy_map=PolicyMapData(policy, ("stocks",), band, axis="wealth")
    )
    out = write_tearsheet(data, tmp_path / "ts")
    html = next(out.glob("*.html")).read_text()
    assert "Adaptive policy map" in html
    assert next(out.glob("*.pdf")).read_bytes()[:5] == b"%PDF-"


@pytest.mark.browser
@pytest.mark.skipif(CHROMIUM is None, reason=SKIP_REASON)
def test_policy_map_renders_in_headless_chromium(policy: AdaptivePolicy, tmp_path) -> None:
    from backtest.report import write_tearsheet
    from backtest.report.model import TearsheetData
    from backtest.report.policy_map import PolicyMapData

    band = WealthBand(np.full(5, 100.0), np.full(5, 250.0), np.full(5, 400.0))
    data = TearsheetData(title="adaptive", policy_map=PolicyMapData(policy, ("stocks",), band))
    out = write_tearsheet(data, tmp_path / "ts")
    html = next(out.glob("*.html")).read_text(encoding="utf-8")
    ok, total, remote, dom = render_probe(html, tmp_path)
    assert total >= 1 and ok == total, f"{ok} of {total} images loaded"
    assert remote == 0
    assert "Adaptive policy map" in dom
