"""The policy map chart: both axes render, to PNG and PDF, with and without a band."""

from __future__ import annotations

import numpy as np
import pytest

from backtest.report.policy_map import (
    WealthBand,
    policy_map_figure,
    policy_map_pdf,
    policy_map_png,
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
