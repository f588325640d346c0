"""``glidelab serve``: the view's study, the compute path, the page's handlers, the command.

The browser tests (a real server, headless Chromium through Playwright) are in
``test_serve_browser.py``.
"""

from __future__ import annotations

import re
import threading
import tomllib
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from backtest.errors import GlidelabError, StudyError
from backtest.generators import block_bootstrap
from backtest.report.units import raw_identifiers
from backtest.simulate import simulate
from glidelab.cli import main
from glidelab.run import scenario_sets, strategies_for, study_history
from glidelab.serve import compute, fields, state
from glidelab.study import parse_study
from strategies import GlidePath, preset

pn = pytest.importorskip("panel", reason="the serve extra (panel) is not installed")


@pytest.fixture(scope="module")
def template() -> dict:
    return state.read_template()


@pytest.fixture(scope="module")
def small(template: dict) -> state.View:
    """The default study's lifecycle member on 400 bootstrap scenarios."""
    return replace(state.initial_view(template), n_scenarios=400)


# --------------------------------------------------------------------------- the study


def test_saved_toml_is_the_view(small: state.View) -> None:
    """The TOML text parses back to the view's study: one plan, the drawn path (knots in
    years to retirement), the baseline, the seed and the scenario count."""
    view = replace(small, ages=(30.0, 50.0, 70.0), equity=(0.95, 0.6, 0.25), sleeve=0.02)
    study = parse_study(tomllib.loads(state.to_toml(view)))
    assert [p.name for p in study.plans] == ["lifecycle"]
    assert study.seed == view.seed and study.scenarios.bootstrap_n == 400
    assert study.strategies.presets == (view.baseline,)
    (c,) = study.strategies.custom
    assert c.years_to_retirement == (35, 15, -5)  # retirement at 65
    assert c.equity == (0.95, 0.6, 0.25) and c.crypto_sleeve == 0.02
    assert not study.optimize.enabled and not study.output.tearsheet
    drawn = strategies_for(study)[state.CUSTOM_NAME]
    assert "btc" in drawn.assets  # the sleeve is laid over the path


@pytest.mark.parametrize(
    ("custom", "expected"),
    [
        ({"equity": [1.2, 0.5]}, "[strategies].custom #1.equity"),
        ({"years_to_retirement": [0, 20]}, "strictly decreasing"),
        ({"equity": [0.5]}, "one value per knot"),
        ({"crypto_sleeve": 0.5}, "crypto_sleeve = 0.5 is not allowed"),
        ({"rebalance": "weekly"}, "one of ['calendar', 'band', 'none']"),
        ({"colour": "red"}, "unknown key 'colour'"),
        ({"cash": [0.2, 0.7]}, "equity + cash exceeds 1"),
        ({"cash": [0.1]}, "cash needs one share per knot"),
    ],
)
def test_bad_custom_path_is_named(template: dict, custom: dict, expected: str) -> None:
    good = {"name": "mine", "years_to_retirement": [20, 0], "equity": [0.9, 0.4]}
    raw = {**template, "strategies": {"custom": [{**good, **custom}]}}
    with pytest.raises(StudyError) as err:
        parse_study(raw)
    assert expected in str(err.value)


def test_custom_name_clash_is_an_error(template: dict) -> None:
    c = {"name": "fixed_60_40", "years_to_retirement": [0], "equity": [0.6]}
    study = parse_study({**template, "strategies": {"presets": ["fixed_60_40"], "custom": [c]}})
    with pytest.raises(StudyError, match="already a strategy's name"):
        strategies_for(study)


@pytest.mark.parametrize("name", state.drawable_presets())
def test_preset_knots_reproduce_the_preset(name: str, small: state.View) -> None:
    """Starting the chart from a preset draws exactly that preset: the same wealth on
    every scenario (to round-off: the same flows in the same order)."""
    view = state.from_preset(small, name)
    study = state.to_study(view)
    sc = block_bootstrap(
        study_history(study), ["us_stocks", "tbonds_10y", "tbills"], 60, 70, block_length=5, rng=7
    )
    plan = study.plans[0].plan
    drawn = simulate(sc, plan, strategies_for(study)[state.CUSTOM_NAME])
    ref = simulate(sc, plan, preset(name))
    np.testing.assert_allclose(drawn.wealth, ref.wealth, rtol=1e-12, atol=1e-6)


def test_every_target_date_preset_and_fixed_mix_is_drawable() -> None:
    names = state.drawable_presets()
    assert {"vanguard_target_retirement", "fidelity_freedom", "110_minus_age"} <= set(names)
    assert {"rising_equity_bond_tent", "fixed_60_40", "fixed_100_0"} <= set(names)
    assert "vol_target_6" not in names  # adaptive: no knots to drag


def test_member_field_errors_come_from_the_schema(small: state.View) -> None:
    with pytest.raises(StudyError, match=r"contribution_rate = 1\.5 .*\[0, 1\]"):
        state.to_study(small.with_member("contribution_rate", 1.5))
    with pytest.raises(GlidelabError, match="start_age <= retirement_age"):
        state.to_study(small.with_member("retirement_age", 20))


# --------------------------------------------------------------------------- compute


def test_evaluate_matches_the_api(small: state.View) -> None:
    """The page's numbers are the simulator's on the study's own scenarios."""
    view = replace(small, ages=(35.0, 60.0, 75.0), equity=(0.85, 0.45, 0.35))
    study = state.to_study(view)
    out = compute.evaluate(study, "block bootstrap")
    sets = scenario_sets(study, study_history(study), study.plans[0].plan)
    path = GlidePath(
        "check",
        ("us_stocks", "tbonds_10y"),
        (30.0, 5.0, -10.0),
        ((0.85, 0.15), (0.45, 0.55), (0.35, 0.65)),
    )
    res = simulate(sets["block bootstrap"], study.plans[0].plan, path)
    base = simulate(sets["block bootstrap"], study.plans[0].plan, preset(view.baseline))
    assert out.n_scenarios == 400
    assert out.success == res.success_rate
    assert out.success_se == pytest.approx(np.sqrt(res.success_rate * (1 - res.success_rate) / 400))
    assert out.baseline_success == base.success_rate
    d = res.success.astype(float) - base.success
    assert out.difference == pytest.approx(d.mean(), abs=1e-15)
    assert out.difference_se == pytest.approx(d.std(ddof=1) / 20, rel=1e-12)
    assert out.terminal_p50 == pytest.approx(np.median(res.terminal_wealth), rel=1e-12)
    assert out.terminal_p10 == pytest.approx(np.percentile(res.terminal_wealth, 10), rel=1e-12)
    assert out.fan.shape == (5, 71) and out.fan_ages[0] == 25 and out.fan_ages[-1] == 95
    assert np.all(np.diff(out.fan, axis=0) >= 0)  # percentiles are ordered at every age
    cohorts = simulate(sets["historical cohorts"], study.plans[0].plan, path)
    assert out.cohort_labels == sets["historical cohorts"].labels
    np.testing.assert_array_equal(out.cohort_success, cohorts.success)
    np.testing.assert_array_equal(out.cohort_ruin_age, cohorts.ruin_age)


def test_same_path_as_baseline_differs_by_zero(small: state.View) -> None:
    out = compute.evaluate(state.to_study(small), "block bootstrap")  # Vanguard vs Vanguard
    assert small.baseline == "vanguard_target_retirement"
    assert out.difference == 0 and out.success == out.baseline_success


def test_chunks_give_the_same_numbers(small: state.View, monkeypatch) -> None:
    study = state.to_study(replace(small, ages=(40.0, 70.0), equity=(0.8, 0.3)))
    whole = compute.evaluate(study, "block bootstrap")
    seen: list[float] = []
    monkeypatch.setattr(compute, "CHUNK", 150)  # 400 scenarios in 3 chunks
    parts = compute.evaluate(study, "block bootstrap", progress=seen.append)
    assert parts.success == whole.success and parts.terminal_p10 == whole.terminal_p10
    np.testing.assert_array_equal(parts.fan, whole.fan)
    assert seen == pytest.approx([1 / 6, 2 / 6, 3 / 6, 4 / 6, 5 / 6, 1.0])


def test_cancel_stops_between_chunks(small: state.View) -> None:
    stop = threading.Event()
    stop.set()
    with pytest.raises(compute.Cancelled):
        compute.evaluate(state.to_study(small), "block bootstrap", cancel=stop)


def test_saved_study_reruns_to_the_same_numbers(small: state.View, tmp_path: Path) -> None:
    """``glidelab run`` on the saved TOML writes the page's success rates."""
    view = replace(small, ages=(30.0, 55.0, 80.0), equity=(1.0, 0.55, 0.2), sleeve=0.01)
    out = compute.evaluate(state.to_study(view), "block bootstrap")
    path = tmp_path / "view.toml"
    path.write_text(state.to_toml(view), encoding="utf-8")
    assert main(["run", str(path), "--quiet", "--out", str(tmp_path)]) == 0
    table = pd.read_csv(tmp_path / "default" / "success.csv")
    row = table[(table.strategy == state.CUSTOM_NAME) & (table.scenarios == "block bootstrap")]
    # success.csv is written with 6 significant digits (float_format="%.6g").
    assert row.success_rate.item() == pytest.approx(out.success, abs=5e-7)
    base = table[(table.strategy == view.baseline) & (table.scenarios == "block bootstrap")]
    assert base.success_rate.item() == pytest.approx(out.baseline_success, abs=5e-7)


def test_parametric_scenarios_state_bitcoin_and_rerun(small: state.View, tmp_path: Path) -> None:
    """Parametric scenarios: the core assets estimated from history, Bitcoin at the
    stated log mean and volatility; the page's number is the simulator's, and the saved
    study reruns to it."""
    proxy = fields.arithmetic_from_log(0.05, 0.7)  # the page holds arithmetic terms
    view = replace(small, scenarios="parametric", n_scenarios=300, sleeve=0.02, proxy=proxy)
    study = state.to_study(view)
    out = compute.evaluate(study, "parametric")
    plan = study.plans[0].plan
    sc = scenario_sets(study, study_history(study), plan)["parametric"]
    assert sc.n_scenarios == 300 and sc.assets == ("us_stocks", "tbonds_10y", "tbills", "btc")
    x = np.log1p(sc.returns[:, :, 3])
    # 21,000 draws: the standard error of the mean is 0.7 / sqrt(21000) = 0.005.
    assert x.mean() == pytest.approx(0.05, abs=0.02)
    assert x.std() == pytest.approx(0.7, rel=0.03)
    assert abs(np.corrcoef(x.ravel(), np.log1p(sc.returns[:, :, 0]).ravel())[0, 1]) < 0.05
    res = simulate(sc, plan, strategies_for(study)[state.CUSTOM_NAME])
    assert out.success == res.success_rate and out.n_scenarios == 300
    path = tmp_path / "view.toml"
    path.write_text(state.to_toml(view), encoding="utf-8")
    assert main(["run", str(path), "--quiet", "--out", str(tmp_path)]) == 0
    table = pd.read_csv(tmp_path / "default" / "success.csv")
    row = table[(table.strategy == state.CUSTOM_NAME) & (table.scenarios == "parametric")]
    assert row.success_rate.item() == pytest.approx(out.success, abs=5e-7)  # %.6g in the CSV


def test_parametric_needs_a_bitcoin_assumption(template: dict) -> None:
    raw = {**template, "scenarios": {"parametric_n": 100}}
    study = parse_study(raw)
    with pytest.raises(StudyError, match=r"parametric_n needs \[scenarios\]\.crypto_proxy"):
        scenario_sets(study, study_history(study), study.plans[0].plan)


# --------------------------------------------------------------------------- the page


@pytest.fixture
def bench(template: dict, tmp_path: Path):
    from glidelab.serve.app import Workbench

    small = {**template, "scenarios": {**template["scenarios"], "bootstrap_n": 300}}
    return Workbench(small, tmp_path)


def _finish_job(bench) -> None:
    """Poll the workbench as the page does until its running job ends (10 minutes at
    most)."""
    import time

    deadline = time.monotonic() + 600
    while bench._job is not None and time.monotonic() < deadline:
        time.sleep(0.5)
        bench._poll()


def _shown(bench) -> float:
    return float(re.search(r"id='gl-success' data-value='([^']+)'", bench.results.object)[1])


def test_dropped_knots_snap_and_stay_in_the_box(bench) -> None:
    """A knot dragged above 100 % or past the end age lands on the box's edge, on a whole
    year and a whole percent; two knots on one age become one."""
    bench._on_knots("data", None, {"x": [24.2, 40.4, 64.6, 99.0], "y": [1.3, 0.873, -0.2, 0.5]})
    assert bench.view.ages == (25.0, 40.0, 65.0, 95.0)
    assert bench.view.equity == (1.0, 0.87, 0.0, 0.5)
    assert list(bench.knots.data["y"]) == [1.0, 0.87, 0.0, 0.5]
    bench._on_knots("data", None, {"x": [40.0, 40.3], "y": [0.9, 0.6]})
    assert bench.view.ages == (40.0,) and bench.view.equity == (0.6,)


def test_a_path_with_cash_keeps_equity_plus_cash_within_one(bench) -> None:
    """Fidelity's path holds T-bills: dragged equity stops at 1 - cash, and a knot added
    by a click (no cash share yet) gets the cash share interpolated from its neighbours."""
    bench.preset.value = "fidelity_freedom"
    assert bench.view.cash == (0.0, 0.05, 0.3) and bench.view.ages == (45.0, 65.0, 80.0)
    nan = float("nan")
    data = {"x": [45, 65, 80, 72.6], "y": [0.9, 0.57, 0.95, 0.5], "cash": [0, 0.05, 0.3, nan]}
    bench._on_knots("data", None, data)
    assert bench.view.ages == (45.0, 65.0, 73.0, 80.0)
    assert bench.view.equity == (0.9, 0.57, 0.5, 0.7)  # 0.95 at 80 capped at 1 - 0.30
    assert bench.view.cash == (0.0, 0.05, 0.18, 0.3)  # 0.05 + 8/15 x 0.25 = 0.183
    c = state.to_study(bench.view).strategies.custom[0]
    assert c.cash == bench.view.cash and "cash 18" in bench.knot_table.object


def test_add_and_remove_knots(bench) -> None:
    n = len(bench.view.ages)
    bench._on_add(None)
    assert len(bench.view.ages) == n + 1
    bench.knots.selected.indices = [0]
    bench._on_remove(None)
    assert len(bench.view.ages) == n
    bench._on_remove(None)  # nothing selected: a message, no change
    assert "select it" in bench.errors["knots"].object and len(bench.view.ages) == n


def _chart(bench) -> tuple:
    """What the glide-path chart shows: knots, the drawn line, the x range."""
    x = bench.path_fig.x_range
    return (dict(bench.knots.data), dict(bench.path_src.data), x.start, x.end)


def test_a_bad_field_applies_nothing_and_names_its_label(bench) -> None:
    """End age 60 (before retirement): the message names the field by its label, the
    chart keeps its knots and range (nothing shrinks), the last numbers stay, greyed and
    struck, marked "stale: fix End age"; fixing the field brings everything back."""
    before, chart = _shown(bench), _chart(bench)
    bench.inputs["end_age"].value = 60
    msg = bench.errors["end_age"].object
    assert "Ages must run start &lt;= retirement &lt;= end" in msg and "end 60" in msg
    assert "end_age" not in msg and "[[plans]]" not in msg
    assert _chart(bench) == chart and len(bench.knots.data["x"]) == 3
    assert bench.results.css_classes == ["gl-stale"] and _shown(bench) == before
    assert "stale: fix End age" in bench.results.object
    assert "line-through" in bench.results.object
    assert bench.good.member["end_age"] == 95  # the last good view is what the page shows
    bench.inputs["end_age"].value = 95
    assert bench.results.css_classes == [] and "stale" not in bench.results.object
    bench.inputs["expense_ratio"].value = -0.5
    assert "Expense ratio must be between 0 % and 5 %" in bench.errors["expense_ratio"].object
    assert "stale: fix Expense ratio" in bench.results.object
    bench.inputs["expense_ratio"].value = 0.2
    assert bench.good.member["expense_ratio"] == 0.002 and bench.results.css_classes == []
    bench.inputs["contribution_rate"].value = 12
    assert bench.good.member["contribution_rate"] == 0.12
    assert _shown(bench) != before  # saving more changes the odds


def test_percent_fields_round_trip_and_warn(bench) -> None:
    """Rates are typed in percent and held (and saved) as decimals; a decimal typed into
    a percent field where it is implausible is applied with a warning that says so."""
    assert bench.inputs["expense_ratio"].value == 0.2  # the study's 0.002
    assert bench.inputs["contribution_rate"].value == 10  # 0.1
    bench.inputs["contribution_rate"].value = 0.1  # meant 10 %: 0.1 % is implausible
    note = bench.errors["contribution_rate"].object
    assert "0.1 % is unusual" in note and "did you mean 10 %?" in note
    assert bench.good.member["contribution_rate"] == 0.001  # applied as typed
    bench.inputs["contribution_rate"].value = 8
    bench.inputs["expense_ratio"].value = 0.35
    assert bench.errors["expense_ratio"].object == ""
    raw = tomllib.loads(state.to_toml(bench.good))
    assert raw["plans"][0]["contribution_rate"] == 0.08
    assert raw["plans"][0]["expense_ratio"] == 0.0035
    bench.band.value = 10
    bench.rebalance.value = "band"
    assert bench.good.rebalance_band == 0.1


def test_undo_and_redo_knot_edits(bench) -> None:
    start = bench.good.drawn
    bench._on_knots("data", None, {"x": [40, 65, 72], "y": [0.9, 0.2, 0.3]})
    moved = bench.good.drawn
    bench._on_add(None)
    assert len(bench.good.ages) == 4 and not bench.undo.disabled and bench.redo.disabled
    bench._on_history(-1, None)
    assert bench.good.drawn == moved
    bench._on_history(-1, None)
    assert bench.good.drawn == start and bench.undo.disabled and not bench.redo.disabled
    assert list(bench.knots.data["y"]) == [0.9, 0.5, 0.3]
    bench._on_history(1, None)
    assert bench.good.drawn == moved
    bench._on_knots("data", None, {"x": [40, 65, 72], "y": [0.9, 0.4, 0.3]})
    assert bench.redo.disabled  # a new edit drops the redo history


def test_pin_a_drawn_path_as_the_baseline(bench) -> None:
    """The pinned path is the baseline on the same scenarios: after a knot moves, the
    baseline shows the pinned path's old success and the paired difference the change."""
    first = _shown(bench)
    bench._on_pin(None)
    assert bench.good.baseline == state.PINNED_NAME and bench.baseline.value == state.PINNED_NAME
    assert bench.outcome.baseline_success == first and bench.outcome.difference == 0
    bench._on_knots("data", None, {"x": [40, 65, 72], "y": [0.9, 0.1, 0.3]})
    o = bench.outcome
    assert o.baseline_success == first and o.success == _shown(bench)
    # a difference of two means over the same n scenarios: equal to rounding
    assert o.difference == pytest.approx(o.success - first, abs=1e-12)
    assert list(bench.base_src.data["y"])[1:-1] == [0.9, 0.5, 0.3]  # the pinned knots
    raw = state.to_raw(bench.good)
    assert raw["strategies"]["presets"] == []
    names = [c["name"] for c in raw["strategies"]["custom"]]
    assert names == [state.CUSTOM_NAME, state.PINNED_NAME]
    assert "baseline: pinned drawn path" in bench.results.object


def test_several_presets_drawn_and_scored_on_the_same_scenarios(bench) -> None:
    bench.shown.value = ["fixed_60_40", "fixed_100_0"]
    assert len(bench.shown_src.data["xs"]) == 2
    assert bench.shown_src.data["name"] == ["Fixed 60/40", "Fixed 100/0"]
    scored = {r.name: r.success for r in bench.outcome.others}
    study = state.to_study(replace(bench.good, baseline="fixed_60_40", shown=()))
    direct = compute.evaluate(study, bench.good.scenarios)
    assert scored["fixed_60_40"] == direct.baseline_success  # same scenarios, same number
    visible = re.sub(r"<[^>]+>", " ", bench.results.object)  # the text a reader sees
    assert "Fixed 60/40" in visible and raw_identifiers(visible) == []


def _fake_job(bench, name: str, value) -> None:
    """Finish a job as the page's poller sees it, without its child process."""

    class Done:
        def __init__(self) -> None:
            self.name, self.elapsed = name, 1.0

        def poll(self):
            return ("ok", value)

    bench._job = Done()
    bench._poll()


def test_the_optimised_path_is_scored_on_the_pages_scenarios(bench) -> None:
    ytr, eq = (40.0, 0.0, -20.0), (0.95, 0.6, 0.35)
    # the optimiser returns its knots old to young, with round-off above 1 possible
    _fake_job(bench, "optimise", (ytr[::-1], eq[::-1], 0.81))
    assert bench.status.object == "optimised in 1 s"
    (row,) = [r for r in bench.outcome.others if r.name == state.OPTIMISED_NAME]
    study = state.to_study(bench.good)
    plan = study.plans[0].plan
    sc = scenario_sets(study, study_history(study), plan)["block bootstrap"]
    path = GlidePath("check", ("us_stocks", "tbonds_10y"), ytr, tuple((e, 1 - e) for e in eq))
    assert row.success == simulate(sc, plan, path).success_rate
    assert "held-out success 81.0" in bench.results.object
    assert len(bench.opt_src.data["x"]) == 5  # three knots, held flat to both ends


def test_the_adaptive_figures_are_the_results_tables(bench) -> None:
    """The adaptive note reads the baseline's success from the page's own scenarios (the
    results table's figure), names the solver's own set apart, and scores the policy on
    the page's scenarios (a stand-in strategy here: the solve itself is a slow test)."""
    from glidelab.serve import jobs

    stand_in = preset("fixed_80_20")
    view = jobs.AdaptiveView(b"\x89PNG", stand_in, "block bootstrap", 300, [("x", 0.7, 0.01)])
    _fake_job(bench, "adaptive", view)
    assert bench.status.object == "adaptive policy solved in 1 s"
    note = bench.adaptive_note.object
    base = bench.outcome.baseline_success
    assert f"{100 * base:.2f}&nbsp;%" in note and "own seed stream" in note
    (row,) = [r for r in bench.outcome.others if r.name == "adaptive policy"]
    study = state.to_study(replace(bench.good, baseline="fixed_80_20"))
    assert row.success == compute.evaluate(study, bench.good.scenarios).baseline_success
    bench.inputs["salary"].value = 60000  # another member: the policy is not theirs
    assert all(r.name != "adaptive policy" for r in bench.outcome.others)
    assert "member changed" in bench.adaptive_note.object


def test_the_tear_sheet_is_linked_not_printed(bench, tmp_path: Path) -> None:
    folder = tmp_path / "lifecycle-20260101-000000"
    _fake_job(bench, "tearsheet", str(folder))
    status = bench.status.object
    assert "href='tearsheets/lifecycle-20260101-000000/tearsheet.html'" in status
    assert str(tmp_path) not in status


def test_a_bitcoin_sleeve_says_what_its_scenarios_replay(bench) -> None:
    bench.sleeve.value = 0.1
    note = bench.crypto_note.object
    assert "A 10.0 % sleeve on resampled 2011-2025 Bitcoin history" in note
    assert "early-adoption years" in note and "2010-2013" in note
    bench.kind.value = "parametric"
    note = bench.crypto_note.object
    assert "stated lognormal assumption" in note and "(arithmetic)" in note
    bench.sleeve.value = 0.0
    assert bench.crypto_note.object == ""


def test_bitcoin_inputs_are_arithmetic_and_saved_as_log(bench) -> None:
    """The page takes Bitcoin's expected simple return and volatility (percent a year);
    the study holds the lognormal's log parameters: s^2 = log(1 + v^2 / (1 + m)^2),
    mu = log(1 + m) - s^2 / 2."""
    bench.before.value = "proxy"
    bench.proxy_mean.value = 25
    bench.proxy_vol.value = 80
    raw = state.to_raw(bench.good)["scenarios"]["crypto_proxy"]
    s2 = np.log(1 + 0.8**2 / 1.25**2)
    assert raw["vol_log_annual"] == pytest.approx(np.sqrt(s2), rel=1e-12)
    assert raw["mean_log_annual"] == pytest.approx(np.log(1.25) - s2 / 2, rel=1e-12)
    bench.proxy_vol.value = -5
    assert "Bitcoin volatility of the annual return must be between 0 % and 500 %" in (
        bench.errors["btc_vol"].object
    )


def test_emptied_fields_are_named_not_crashed(bench) -> None:
    """Clearing any number field (the browser sends None) gives a message, never an
    exception out of the handler; restoring it brings the numbers back."""
    widgets = [*bench.inputs.values(), bench.w_amount, bench.s_repl, bench.count, bench.seed]
    widgets += [bench.proxy_mean, bench.proxy_vol, bench.every, bench.band]
    for w in widgets:
        old = w.value
        w.value = None
        shown = [p.object for p in (*bench.errors.values(), bench.general) if p.object]
        assert shown or bench.results.css_classes == [], w.label
        w.value = old
    assert bench.results.css_classes == [] and all(not p.object for p in bench.errors.values())


def test_bad_scenario_and_strategy_fields(bench) -> None:
    bench.count.value = -5
    assert "Scenarios must be between 1 and 1,000,000" in bench.errors["bootstrap_n"].object
    bench.count.value = 300
    bench.band.value = 200
    assert "Rebalancing band must be between 0 % and 100 %" in bench.errors["rebalance_band"].object
    bench.band.value = 5
    bench.preset.value = "fixed_60_40"
    assert bench.view.equity == (0.6, 0.6) and bench.errors["knots"].object == ""


def test_preset_picker_and_sleeve_recompute(bench) -> None:
    bench.preset.value = "fixed_100_0"
    all_equity = _shown(bench)
    bench.sleeve.value = 0.05
    assert bench.good.sleeve == 0.05 and _shown(bench) != all_equity


def test_large_runs_go_to_a_thread_with_progress_and_cancel(bench, monkeypatch) -> None:
    """Above CHUNK scenarios the page computes in a thread, reports progress per chunk and
    can be cancelled; the event loop (here: the caller) returns at once."""
    from glidelab.serve import app

    monkeypatch.setattr(app, "CHUNK", 300)
    monkeypatch.setattr(compute, "CHUNK", 200)
    seen: list[int] = []
    done = threading.Event()

    def after(fn, *args):  # no server document in a test: run the update at once
        fn(*args)
        if fn == bench._set_progress:
            seen.append(bench.progress.value)
        if fn == bench._show:
            done.set()

    monkeypatch.setattr(bench, "_after", after)
    bench.count.value = 400  # > CHUNK: the thread path, 2 chunks x 2 strategies
    assert bench.progress.visible and not bench.cancel.disabled
    assert done.wait(60) and "400" in bench.results.object
    assert seen == [25, 50, 75, 100] and not bench.progress.visible

    done.clear()
    gate = threading.Event()
    real = compute.evaluate

    def slow(*args, **kw):  # hold the worker until the cancel button is pressed
        gate.wait(30)
        return real(*args, **kw)

    monkeypatch.setattr(app, "evaluate", slow)
    bench.count.value = 500
    bench._on_cancel(None)
    gate.set()
    assert not done.wait(3) and bench.status.object == "cancelled"
    assert "400" in bench.results.object  # the last finished numbers stay


def test_sessions_do_not_share_state(template: dict, tmp_path: Path) -> None:
    from glidelab.serve.app import Workbench

    a, b = Workbench(template, tmp_path), Workbench(template, tmp_path)
    a.inputs["salary"].value = 80000
    assert b.view.member["salary"] == 50000 and a.view.member["salary"] == 80000


# --------------------------------------------------------------------------- the command


def test_serve_binds_loopback_and_warns_elsewhere(monkeypatch, capsys, tmp_path: Path) -> None:
    """Loopback by default (a warning elsewhere); the tear-sheet folder is served, so the
    page can link the tear sheets it writes."""
    import socket

    with socket.socket() as s:  # a port free now (the command checks it before serving)
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    calls: list[dict] = []
    monkeypatch.setattr(pn, "serve", lambda apps, **kw: calls.append(kw))
    out = ["--out", str(tmp_path / "sheets")]
    assert main(["serve", "--port", str(port), *out]) == 0
    assert calls[-1]["address"] == "127.0.0.1" and calls[-1]["port"] == port
    assert calls[-1]["static_dirs"] == {"tearsheets": str((tmp_path / "sheets").resolve())}
    assert "no authentication" not in capsys.readouterr().err
    assert main(["serve", "--host", "0.0.0.0", "--port", str(port), *out]) == 0
    assert "warning" in capsys.readouterr().err and calls[-1]["address"] == "0.0.0.0"


def test_serve_names_a_bad_or_taken_port(capsys) -> None:
    import socket

    assert main(["serve", "--port", "70000"]) == 2
    assert "--port 70000 is not a port" in capsys.readouterr().err
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["serve", "--port", str(port)]) == 2
    assert f"cannot listen on 127.0.0.1:{port}" in capsys.readouterr().err


def test_serve_rejects_a_bad_study(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[[plans]]\nname = "x"\nstart_age = 30\n', encoding="utf-8")
    assert main(["serve", str(bad)]) == 2
    assert "retirement_age is required" in capsys.readouterr().err


# --------------------------------------------------------------------------- long jobs


def test_a_cancelled_job_stops_at_once(small: state.View) -> None:
    from glidelab.serve import jobs

    job = jobs.start("optimise", state.to_raw(replace(small, optimised=True)))
    job.cancel()
    assert not job.process.is_alive() and job.process.exitcode != 0


@pytest.mark.slow
def test_optimised_overlay_and_tear_sheet_from_the_page(template: dict, tmp_path: Path) -> None:
    """The page's optimise checkbox and tear-sheet button: each runs as a job the page
    polls; the overlay is drawn and the tear sheet written (tiny optimiser settings)."""

    from glidelab.serve.app import Workbench

    raw = {
        **template,
        "scenarios": {**template["scenarios"], "bootstrap_n": 300},
        "optimize": {**template["optimize"], "n_scenarios": 60, "holdout_n": 60},
    }
    raw["optimize"]["max_iterations"] = 1
    bench = Workbench(raw, tmp_path)

    def wait() -> None:
        _finish_job(bench)

    bench.opt.value = True
    assert bench._job is not None and bench._job.name == "optimise"
    wait()
    assert bench.status.object.startswith("optimised in"), bench.status.object
    assert len(bench.opt_src.data["x"]) >= 3 and "held-out success" in bench.results.object
    assert bench.good.optimised  # the saved study optimises too
    bench._on_tearsheet(None)
    wait()
    assert bench.status.object.startswith("wrote the tear sheet"), bench.status.object
    (folder,) = tmp_path.iterdir()
    assert (folder / "tearsheet.html").stat().st_size > 0
    assert (folder / "tearsheet.pdf").stat().st_size > 0


def test_cancelling_a_job_takes_its_request_out_of_the_view(bench) -> None:
    for box, flag in ((bench.opt, "optimised"), (bench.adapt, "adaptive")):
        box.value = True
        assert bench._job is not None and getattr(bench.good, flag)
        bench._on_cancel(None)
        assert bench._job is None and not box.value and not getattr(bench.good, flag)
        assert bench.status.object == "cancelled"
    assert not state.to_raw(bench.good)["optimize"]["enabled"]


@pytest.mark.slow
def test_adaptive_policy_map_from_the_page(template: dict, tmp_path: Path) -> None:
    """The adaptive checkbox solves the member's adaptive glide path as glidelab run does
    and shows its policy map; the saved study asks for the same solve."""

    from glidelab.serve.app import Workbench

    raw = {
        **template,
        "scenarios": {**template["scenarios"], "bootstrap_n": 300},
        "optimize": {**template["optimize"], "n_scenarios": 200, "holdout_n": 300},
    }
    raw["optimize"]["max_iterations"] = 2
    bench = Workbench(raw, tmp_path)
    bench.adapt.value = True
    _finish_job(bench)
    assert bench.status.object.startswith("adaptive policy solved"), bench.status.object
    assert bench.policy_map.visible and bench.policy_map.object[:4] == b"\x89PNG"
    assert "adaptive (DP)" in bench.adaptive_note.object
    op = state.to_raw(bench.good)["optimize"]
    assert op["adaptive"] and op["adaptive_plans"] == ["lifecycle"] and op["enabled"]


@pytest.mark.slow
def test_the_optimise_job_returns_a_path(small: state.View) -> None:
    """The optimiser runs in a child process (the page keeps answering) and returns its
    knots; tiny settings, so this checks the plumbing, not the path."""
    import time

    from glidelab.serve import jobs

    raw = state.to_raw(replace(small, optimised=True))
    raw["optimize"].update(n_scenarios=60, holdout_n=60, max_iterations=1)
    job = jobs.start("optimise", raw)
    deadline = time.monotonic() + 600
    while (done := job.poll()) is None and time.monotonic() < deadline:
        time.sleep(0.5)
    assert done is not None and done[0] == "ok", done
    ytr, equity, held_out = done[1]
    assert len(ytr) == len(equity) >= 2 and all(0 <= e <= 1 for e in equity)
    assert 0 <= held_out <= 1


# ------------------------------------------------------------- fund-design frontier


def _drawn_point_directly(view: state.View) -> tuple[float, float, float]:
    """The drawn path scored by the fund designer's own scorer
    (``FundDesigner.evaluate_weights``) on the in-sample member-paths the design draws for
    the frontier study (same seeds, same order as ``glidelab.design.run_design``)."""
    from backtest.data import load_history
    from backtest.population import draw_members
    from backtest.population_eval import pair_members_paths
    from glidelab.design import ALL_ASSETS, _weights3
    from glidelab.serve import jobs
    from optimize.fund_design import FundDesigner, design_data

    study = state.to_study(view)
    drawn = strategies_for(study)[state.CUSTOM_NAME]
    ds = jobs.frontier_study(study.seed)
    spec, d = ds.population, ds.design
    from glidelab.context import bootstrap_rows, engine_bootstrap, engine_seed, named_rng

    def rng(stream: str) -> np.random.Generator:  # the design's streams (glidelab.design)
        return named_rng(ds.seed, f"design: {stream}")

    hist = load_history([*ALL_ASSETS, "cpi"], "annual")
    members = draw_members(spec, d.member_paths, rng("members in sample"))
    # the design's market paths: drawn in the engine from the complete years
    rows, _ = bootstrap_rows(hist, ALL_ASSETS)
    seed = engine_seed(ds.seed, "design: market paths in sample")
    sc = engine_bootstrap(rows, d.market_paths, spec.n_periods, seed=seed)
    mi, pi = pair_members_paths(d.member_paths, d.market_paths, "paired")
    data = design_data(
        members, sc, ALL_ASSETS, mi, pi, expense_ratio=d.expense_ratio,
        rng=rng("deaths in sample"),
    )  # fmt: skip
    designer = FundDesigner(
        data, spec.target_age, d.constraints, knot_spacing_years=d.knot_spacing_years,
        beta=d.beta, assets=d.assets,
    )  # fmt: skip
    pt = designer.evaluate_weights(_weights3(drawn, spec, sc))
    return pt.success, pt.shortfall_cvar, pt.median_replacement


def _own_path(view: state.View) -> state.View:
    """The view with a drawn path of its own (no preset's): equity falling 95 % -> 25 %."""
    eq = tuple(np.round(np.linspace(0.95, 0.25, len(view.ages)), 2))
    return replace(view, equity=eq, cash=())


def test_the_frontier_job_places_the_drawn_path(small: state.View) -> None:
    """The frontier job runs the fund design (small population) and places the drawn
    path on the same member-paths: its point is what the designer's scorer gives."""
    import time

    from glidelab.serve import jobs

    view = _own_path(small)
    job = jobs.start("frontier", state.to_raw(view))
    deadline = time.monotonic() + 600
    while (done := job.poll()) is None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert done is not None and done[0] == "ok", done
    fv = done[1]
    assert fv.png[:4] == b"\x89PNG" and fv.note == ""
    assert len(fv.frontier) >= 2 and {"success", "shortfall"} <= set(fv.frontier.columns)
    assert state.CUSTOM_NAME in fv.placed.index and "fixed_60_40" in fv.placed.index
    success, shortfall, median = _drawn_point_directly(view)
    # Same members, paths and arithmetic in the same order: equal to rounding only.
    assert fv.drawn["success"] == pytest.approx(success, abs=1e-12)
    assert fv.drawn["shortfall"] == pytest.approx(shortfall, rel=1e-9)
    assert fv.drawn["median_replacement"] == pytest.approx(median, rel=1e-9)
    # and it is the drawn path that was scored, not a preset's row
    assert fv.placed.loc[state.CUSTOM_NAME, "shortfall"] != pytest.approx(
        fv.placed.loc["vanguard_target_retirement", "shortfall"]
    )


def test_a_bitcoin_sleeve_is_named_as_unscorable(small: state.View) -> None:
    from glidelab.serve import jobs

    study = state.to_study(replace(small, sleeve=0.02))
    note = jobs.unscorable(strategies_for(study)[state.CUSTOM_NAME])
    assert f"holds {study.data.crypto}" in note and "sleeve to 0" in note
    assert jobs.unscorable(strategies_for(state.to_study(small))[state.CUSTOM_NAME]) == ""


def test_the_frontier_job_cancels(bench) -> None:
    bench.front.value = True
    assert bench._job is not None and bench._job.name == "frontier"
    process = bench._job.process
    bench._on_cancel(None)
    assert not process.is_alive() and process.exitcode != 0
    assert bench._job is None and not bench.front.value and not bench.frontier_map.visible
    assert bench.status.object == "cancelled"


@pytest.mark.slow
def test_the_frontier_from_the_page(bench) -> None:

    bench.front.value = True
    _finish_job(bench)
    assert bench.status.object.startswith("fund-design frontier in"), bench.status.object
    assert bench.frontier_map.visible and bench.frontier_map.object[:4] == b"\x89PNG"
    assert "id='gl-frontier-drawn' data-value=" in bench.frontier_note.object


def test_no_raw_identifiers_in_the_pages_words(bench) -> None:
    """Labels, options and the text of every pane read as words, not registry names
    (``us_stocks``, ``constant_real``), ``None`` or tuple reprs; with a sleeve on, a
    preset drawn beside the path and the path pinned."""
    bench.sleeve.value = 0.05
    bench.shown.value = ["fixed_60_40"]
    bench._on_pin(None)
    texts = []
    for obj in bench.layout.select(lambda o: True):
        if isinstance(obj, pn.pane.HTML | pn.pane.Markdown) and isinstance(obj.object, str):
            texts.append(re.sub(r"<[^>]+>", " ", obj.object))  # the text a reader sees
        if isinstance(obj, pn.widgets.Widget):
            texts.append(str(getattr(obj, "label", "") or ""))
            options = getattr(obj, "options", None)
            if isinstance(options, dict):
                texts.extend(options)
            elif isinstance(options, list):
                texts.extend(map(str, options))
    text = "\n".join(texts)
    assert "Bitcoin history" in text and "Fixed 60/40" in text  # the panes were collected
    assert raw_identifiers(text) == []


def test_a_saved_view_opens_as_it_was_saved(small: state.View) -> None:
    """A study saved from the page (a pinned baseline, presets drawn beside the path)
    opens on the same view: the same study file again."""
    view = replace(
        small,
        ages=(30.0, 50.0, 70.0),
        equity=(0.95, 0.6, 0.25),
        pinned=state.DrawnPath((40.0, 65.0), (0.8, 0.4)),
        baseline=state.PINNED_NAME,
        shown=("fixed_60_40",),
    )
    raw = tomllib.loads(state.to_toml(view))
    again = state.initial_view(raw)
    assert again.pinned == view.pinned and again.baseline == state.PINNED_NAME
    assert state.to_raw(again)["strategies"] == raw["strategies"]


def test_fields_hold_decimals_and_speak_in_labels() -> None:
    fee = fields.FIELDS["expense_ratio"]
    assert fee.caption == "Expense ratio (%)"
    assert fee.held(0.2) == 0.002 and fee.shown(0.002) == 0.2  # no 0.0020000000000000005
    assert fee.error(0.06) == "Expense ratio must be between 0 % and 5 %"
    assert fee.error(None) == "Expense ratio is empty: type a number"
    assert fields.FIELDS["annual_limit"].error(None) == ""  # optional: the schema's default
    assert fields.friendly(
        "[[plans]] #1.expense_ratio = -0.5 is not allowed; expected a number in [0, 0.2]"
    ).startswith("Expense ratio = -0.5")
    for mu, s in ((0.0, 0.6), (0.05, 0.7), (-0.1, 0.3)):
        back = fields.log_from_arithmetic(*fields.arithmetic_from_log(mu, s))
        assert back == pytest.approx((mu, s), abs=1e-12)  # exact up to float round-off
    # the workbench's old default, log mean 0 and volatility 60 %: +19.7 % a year (issue 26)
    assert fields.arithmetic_from_log(0.0, 0.6)[0] == pytest.approx(np.expm1(0.18), rel=1e-12)
