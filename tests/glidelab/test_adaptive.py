"""Tests of the adaptive run (``glidelab optimize --adaptive``, ``[optimize] adaptive``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import strategies.base as base

needs_hook = pytest.mark.skipif(
    not hasattr(base, "StateTable"), reason="the simulator's StateTable hook has not landed"
)


@needs_hook
def test_small_run_writes_every_output(tmp_path: Path) -> None:
    from glidelab.adaptive import AdaptiveSettings, run_adaptive, write_adaptive_atomic
    from glidelab.study import load_study

    study = load_study(None).study
    settings = AdaptiveSettings(
        n_scenarios=300,
        train_n=100,
        n_states=61,
        scp_iterations=1,
        convergence=False,
        frontier=False,
        survival=False,
    )
    run = run_adaptive(study, settings, plan_name="maya", log=lambda _m: None)
    assert set(run.evaluations) == {"iid", "block bootstrap", "parametric", "historical cohorts"}
    iid = run.evaluations["iid"]
    # the study's adaptive_objective (default "ce") first, the success policy beside it
    assert run.kind == "ce" and iid.rows[0].name == "adaptive (DP): CE income"
    assert iid.rows[1].name == "adaptive (DP): max success"
    assert iid.rows[0].diff == 0.0
    # a paired difference equals the difference of the success rates
    for r in iid.rows[1:]:
        assert r.diff == pytest.approx(iid.rows[0].success - r.success, abs=1e-12)
    out = write_adaptive_atomic(run, tmp_path / "adaptive")
    comparison = pd.read_csv(out / "comparison.csv")
    policy = pd.read_csv(out / "policy.csv")
    np.testing.assert_allclose(policy[["us_stocks", "tbonds_10y"]].sum(axis=1), 1.0, atol=1e-6)
    assert (out / "policy_map_wealth.png").read_bytes()[:4] == b"\x89PNG"
    assert (out / "policy_map_wealth.pdf").read_bytes()[:5] == b"%PDF-"
    assert "data:image/png;base64," in (out / "adaptive.html").read_text()
    text = (out / "adaptive.md").read_text()
    assert "The promise against the engine" in text and "| adaptive (DP): CE income |" in text
    # the promise is a CE income, checked against the engine's CE of the same valuation
    ce, se = iid.rows[0].ce_at(5.0)
    assert run.promise.unit == "USD a year" and run.promise.simulated == ce
    assert run.promise.se == se and 0 < se < ce
    # side by side: CE policy, success policy, best age-only path, CE at gamma 2/5/10
    assert "## CE policy, success policy and the best age-only path" in text
    policies = pd.read_csv(out / "policies.csv")
    assert list(policies["name"]) == [
        "adaptive (DP): CE income",
        "adaptive (DP): max success",
        run.age_only_name,
    ]
    for g in (2, 5, 10):
        assert {f"ce_gamma{g}", f"ce_gamma{g}_se"} <= set(policies) & set(comparison)
    # CE falls with risk aversion (Jensen over a wider spread of lifetime utilities)
    assert (policies["ce_gamma2"] > policies["ce_gamma5"]).all()
    assert (policies["ce_gamma5"] > policies["ce_gamma10"]).all()
    assert policies["go_for_broke_nodes"].iloc[2] == 0  # an age-only path has no region
    assert (out / "policy_success.csv").exists()
    assert (out / "policy_map_success_wealth.png").read_bytes()[:4] == b"\x89PNG"
    assert "not for a pooled target-date fund" in text
    # conditional shortfall beside success, with its standard error, on every row
    assert "| unpaid years given failure | s.e. |" in text
    comparison = pd.read_csv(out / "comparison.csv")
    assert {"unpaid_years_when_failed", "unpaid_years_when_failed_se"} <= set(comparison)
    for r in iid.rows:
        lost = f"{r.unpaid_years_when_failed:.2f} | {r.unpaid_years_when_failed_se:.2f}"
        assert f"| {r.name} | " in text and lost in text
    # the go-for-broke region and who can hold the policy
    assert 0.0 <= run.go_for_broke_share <= 1.0
    assert f"through the region: {100 * run.go_for_broke_share:.1f} %" in text
    assert "individual (managed) account" in text and "best age-only path" in text


def test_rows_carry_the_conditional_shortfall() -> None:
    from backtest.outcomes import mean_unpaid_years_given_failure, unpaid_years
    from backtest.plan import ConstantReal, Plan
    from backtest.simulate import simulate
    from optimize.adaptive_eval import evaluate_set
    from optimize.baselines import constant_mix
    from optimize.dynamic import lognormal_model

    cov = np.array([[0.18**2, 0.0], [0.0, 0.07**2]])
    model = lognormal_model(("us_stocks", "tbonds_10y"), [0.03, 0.005], cov, nodes=5)
    plan = Plan(
        start_age=65,
        retirement_age=65,
        end_age=95,
        initial_balance=1_000_000,
        withdrawal=ConstantReal(rate=None, amount=55_000, timing="start"),
    )
    scenarios = model.sample(400, 30, rng=3)
    strategies = {
        f"{e:.0%}": constant_mix(e, "us_stocks", "tbonds_10y", plan, 1) for e in (0.2, 0.8)
    }
    ev = evaluate_set("iid", scenarios, plan, strategies, equity_assets=("us_stocks",))
    for row, strat in zip(ev.rows, strategies.values(), strict=True):
        res = simulate(scenarios, plan, strat)
        unpaid = unpaid_years(res.withdrawals_wanted, res.withdrawals, 1)
        want = mean_unpaid_years_given_failure(unpaid, res.ruin_period >= 0)
        assert want.n_failed >= 20  # the plan fails often enough to measure the depth
        assert row.unpaid_years_when_failed == pytest.approx(want.years, rel=1e-12)
        assert row.unpaid_years_when_failed_se == pytest.approx(want.se, rel=1e-12)
        assert 0 < row.unpaid_years_when_failed_se < row.unpaid_years_when_failed


def test_cli_offers_adaptive(capsys: pytest.CaptureFixture[str]) -> None:
    from glidelab.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["optimize", "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "--adaptive" in out and "--adaptive-objective" in out and "--gamma" in out


def test_unsupported_plan_is_one_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from glidelab.cli import main

    study = tmp_path / "s.toml"
    study.write_text(
        '[study]\nname = "t"\n[[plans]]\nname = "r"\nstart_age = 65\nretirement_age = 65\n'
        "end_age = 70\ninitial_balance = 100000\n"
        'withdrawal = { rule = "fixed_percent", rate = 0.04 }\n'
        '[optimize]\nplan = "r"\n'
    )
    code = main(["optimize", "--adaptive", "--study", str(study), "--out", str(tmp_path / "o")])
    assert code != 0
    err = capsys.readouterr().err
    assert "constant real withdrawal" in err and "Traceback" not in err
    assert not (tmp_path / "o").exists()


def test_study_keys(tmp_path: Path) -> None:
    from backtest.errors import StudyError
    from glidelab.study import load_study

    base = (
        '[study]\nname = "t"\n[[plans]]\nname = "r"\nstart_age = 65\nretirement_age = 65\n'
        "end_age = 70\ninitial_balance = 100000\n"
        'withdrawal = { rule = "constant_real", amount = 5000 }\n'
    )
    good = tmp_path / "good.toml"
    good.write_text(base + '[optimize]\nadaptive = true\nadaptive_plans = ["r"]\n')
    op = load_study(good).study.optimize
    assert op.adaptive and op.adaptive_plans == ("r",)
    bad = tmp_path / "bad.toml"
    bad.write_text(base + '[optimize]\nadaptive = true\nadaptive_plans = ["maya"]\n')
    with pytest.raises(StudyError, match="adaptive_plans names 'maya'"):
        load_study(bad)
