"""The design study: schema errors, and a tiny end-to-end run writing the report."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from backtest.errors import DataError, StudyError
from backtest.outcomes import certainty_equivalent
from backtest.population_eval import paired_ce
from glidelab.cli import main
from glidelab.design import (
    DesignOutcome,
    DesignSection,
    load_design_study,
    parse_design_study,
    quick,
    run_design,
)
from tests.browser import CHROMIUM, SKIP_REASON, render_probe


def test_shipped_study_loads_with_its_committee_constraints() -> None:
    st = load_design_study("target_date_2060")
    assert st.population.birth_year == 1995 and st.population.target_age == 65
    assert st.design.member_paths >= 20_000
    assert st.design.constraints.equity_at_target == (0.40, 0.60)
    assert "t_rowe_price_retirement" in st.evaluation.presets


@pytest.mark.parametrize(
    ("data", "match"),
    [
        ({"population": {"birth_yr": 1995}}, r"\[population\] has unknown keys \['birth_yr'\]"),
        ({"design": {"objective": "fame"}}, "objective='fame'"),
        ({"design": {"assets": ["btc"]}}, "not available"),
        ({"design": {"constraints": {"landing": "through"}}}, "landing_age"),
        ({"evaluation": {"countries": ["XYZ"]}}, "unknown"),
        ({"evaluation": {"presets": ["nope"]}}, "unknown strategy preset"),
        ({"population": {"replacement_rate": -1}}, "replacement_rate"),
    ],
)
def test_bad_study_values_are_named(data: dict, match: str) -> None:
    with pytest.raises(StudyError, match=match):
        parse_design_study(data)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[DesignOutcome, Path]:
    st = quick(load_design_study("target_date_2060"))
    st = dataclasses.replace(
        st,
        design=dataclasses.replace(st.design, member_paths=300, market_paths=60, max_iterations=3),
        evaluation=dataclasses.replace(
            st.evaluation, members=80, bootstrap_paths=10, countries=("GBR",), country_members=20
        ),
    )
    root = tmp_path_factory.mktemp("design")
    return run_design(st, root), root / st.name


def test_tiny_study_end_to_end(tiny: tuple[DesignOutcome, Path]) -> None:
    out, folder = tiny
    for f in ("design.html", "design.pdf", "frontier.csv", "placed.csv", "scores.csv"):
        assert (folder / f).stat().st_size > 0
    html = (folder / "design.html").read_text()
    assert "Efficient frontier" in html and "t_rowe_price_retirement" in html
    assert (folder / "design.pdf").read_bytes().startswith(b"%PDF")
    assert set(out.countries.index) == {"GBR", "pooled"}
    # Committee constraints hold on the designed path: equity at 65 within [0.40, 0.60].
    k = list(out.designed.knots_years_to_retirement).index(0.0)
    assert 0.40 - 1e-6 <= out.designed.weights[k][0] <= 0.60 + 1e-6
    assert out.placed.index[0].startswith("designed")
    assert 0.0 <= out.placed["success"].min() <= out.placed["success"].max() <= 1.0


def test_design_names_its_binding_constraints_and_their_cost(
    tiny: tuple[DesignOutcome, Path],
) -> None:
    out, folder = tiny
    table = pd.read_csv(folder / "constraints.csv", index_col=0)
    assert set(table.index) >= {"equity_at_target", "max_change_per_year", "monotone_after_age"}
    assert "weights in [0, 1] summing to 1" not in table.index
    bind = table[table["binds"]]
    assert not bind.empty  # the shipped design sits on its committee's limits
    assert (table["cost"] >= 0).all()
    # income: the re-solve without a binding constraint is at least as good
    assert (bind["without"] >= bind["with"] - 1e-12).all()
    assert (table.loc[~table["binds"], "cost"] == 0).all()
    html = (folder / "design.html").read_text()
    assert "Committee constraints: which bind at the designed path" in html
    text = DesignSection(out.study).summary(out)
    assert "constraint(s) bind" in text and bind.index[0] in text
    assert "annuity rate of 2.0 %" in " ".join(n for n in html.split("<li>") if "Shortfall" in n)


def test_shipped_design_maximises_the_certainty_equivalent_at_gamma_5() -> None:
    st = load_design_study("target_date_2060")
    assert st.design.objective == "ce" and st.design.gamma == 5.0
    income = parse_design_study({"design": {"objective": "income"}})
    assert income.design.objective == "income"  # still available


def test_scores_carry_ce_with_paired_standard_errors(tiny: tuple[DesignOutcome, Path]) -> None:
    out, folder = tiny
    scores = out.scores  # the CSV's numbers, unrounded
    assert set(pd.read_csv(folder / "scores.csv", index_col=0).columns) == set(scores.columns)
    assert {"fixed_100_0", "fixed_60_40", *out.study.evaluation.presets} <= set(scores.index)
    for label in ("in sample", "bootstrap", "US cohorts"):
        ce = {g: scores[f"{label}: CE gamma={g} (USD/yr)"] for g in (2, 5, 10)}
        assert ((ce[2] >= ce[5]) & (ce[5] >= ce[10]) & (ce[10] > 0)).all()  # falls with gamma
        for g in (2, 5, 10):
            diff = scores[f"{label}: CE gamma={g} - designed (USD/yr)"]
            se = scores[f"{label}: paired SE gamma={g} (USD/yr)"]
            np.testing.assert_allclose(diff, ce[g] - ce[g].iloc[0], rtol=1e-6, atol=1e-6)
            assert diff.iloc[0] == 0.0 and se.iloc[0] == 0.0  # the designed path itself
            assert (se.iloc[1:] > 0).all() and np.isfinite(se).all()
            salary = "base salary"
            share = scores[f"{label}: CE gamma={g} / mean {salary}"]
            assert (share > 0).all() and (share < 3).all()
    table = pd.read_csv(folder / "constraints.csv", index_col=0)
    assert (table["objective"] == "ce").all() and table["units"].iloc[0].startswith("CE")
    html = (folder / "design.html").read_text()
    assert "Certainty-equivalent retirement income (US cohorts)" in html
    assert "USD a year" in DesignSection(out.study).summary(out)


def test_paired_ce_standard_error_matches_the_spread_of_the_difference() -> None:
    """The paired SE of CE(a) - CE(b) (delta method) against replications of the pair."""
    rng = np.random.default_rng(4)
    gamma, n = 5.0, 1_000
    diffs, ses = [], []
    for _ in range(300):
        base = np.exp(rng.normal(10.5, 0.25, n))
        a, b = base * np.exp(rng.normal(0.0, 0.2, n)), base * 1.01
        ce, diff, se = paired_ce(a, b, gamma)
        diffs.append(diff)
        ses.append(se)
    assert np.std(diffs) == pytest.approx(np.mean(ses), rel=0.1)
    assert abs(np.mean(diffs) - np.median(diffs)) < np.std(diffs)  # not a degenerate draw
    # the same incomes: CE equals certainty_equivalent's, difference 0, SE 0
    x = np.exp(rng.normal(10.5, 0.4, n))
    ce, diff, se = paired_ce(x, x, 1.0, clusters=np.arange(n) % 20)
    assert ce == pytest.approx(float(certainty_equivalent(x, 1.0))) and diff == se == 0.0
    with pytest.raises(DataError, match="same member-paths"):
        paired_ce(x, x[:-1], gamma)


def test_design_section_computes_first_and_writes_the_same_files(
    tiny: tuple[DesignOutcome, Path], tmp_path: Path
) -> None:
    out, folder = tiny
    section = DesignSection(out.study)
    result = section.run()  # numbers only: nothing written yet
    assert result.out_dir is None and not any(tmp_path.iterdir())
    pd.testing.assert_frame_equal(result.scores, out.scores, check_exact=True)
    section.write(result, tmp_path / section.folder)
    for f in (
        "frontier.csv",
        "placed.csv",
        "scores.csv",
        "countries.csv",
        "designed_path.csv",
        "constraints.csv",
    ):
        assert (tmp_path / "population" / f).read_bytes() == (folder / f).read_bytes(), f
    text = section.summary(result)
    designed = 100 * result.scores["bootstrap: success"].iloc[0]
    assert f"{designed:.1f} %" in text and "t_rowe_price_retirement" in text


def test_study_file_names_the_design_section() -> None:
    from glidelab.sections import file_sections

    study = load_design_study("target_date_2060")
    (section,) = file_sections(design=study)
    assert isinstance(section, DesignSection) and section.study is study
    assert file_sections() == []


@pytest.mark.browser
@pytest.mark.skipif(CHROMIUM is None, reason=SKIP_REASON)
def test_design_html_renders_offline_in_headless_chromium(
    tiny: tuple[DesignOutcome, Path], tmp_path: Path
) -> None:
    _, folder = tiny
    html = (folder / "design.html").read_text(encoding="utf-8")
    ok, total, remote, _ = render_probe(html, tmp_path)
    assert total == 3 and ok == total, f"{ok} of {total} images loaded"
    assert remote == 0


def test_cli_reports_a_bad_study_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[design]\nobjective = "fame"\n')
    assert main(["design", str(bad)]) != 0
    err = capsys.readouterr().err
    assert "objective='fame'" in err and "Traceback" not in err


def test_design_reports_income_figures_held_out(tiny: tuple[DesignOutcome, Path]) -> None:
    out, folder = tiny
    income = pd.read_csv(folder / "income.csv", index_col=0)
    assert list(income.index) == list(out.scores.index)  # designed, presets, 100 %, 60/40
    assert income.loc["designed (this study)", "glide"] in ("to", "through")
    assert income.loc["fixed_100_0", "glide"] == "fixed mix"
    assert income.loc["designed (this study)", "equity at 65"] == pytest.approx(
        out.designed.weights[list(out.designed.knots_years_to_retirement).index(0.0)][0],
        abs=1e-6,  # the CSV's 6 significant digits
    )
    for label in ("bootstrap", "US cohorts"):
        q = income[[f"{label}: replacement p{p}" for p in (10, 25, 50, 75, 90)]]
        assert (q.diff(axis=1).iloc[:, 1:] >= 0).all().all()  # percentiles increase
        reach = income[f"{label}: P(reach target replacement)"]
        # P(replacement >= 70 %) sits between the percentiles that bracket 70 %
        assert ((q[f"{label}: replacement p25"] < 0.7) | (reach >= 0.75 - 1e-9)).all()
        assert ((q[f"{label}: replacement p75"] >= 0.7) | (reach <= 0.25 + 1e-9)).all()
        assert (income[f"{label}: P(reach target replacement) SE"] > 0).all()
        beq = income[[f"{label}: bequest p{p} (USD)" for p in (10, 50, 90)]]
        assert (beq.diff(axis=1).iloc[:, 1:] >= 0).all().all() and (beq >= 0).all().all()
        s5 = income[f"{label}: safe withdrawal rate at 5 % failure"]
        s10 = income[f"{label}: safe withdrawal rate at 10 % failure"]
        assert ((s5 <= s10) & (s5 > 0) & (s10 < 0.2)).all()
        unpaid = income[f"{label}: unpaid years given failure"]
        assert (unpaid.dropna() > 0).all()
    # the income table's success is the scores' survival-weighted success
    np.testing.assert_allclose(
        income["bootstrap: success"], out.scores["bootstrap: success"], rtol=1e-5
    )
    html = (folder / "design.html").read_text()
    assert "Retirement income (bootstrap)" in html and "To or through the target date" in html
    text = DesignSection(out.study).summary(out)
    assert "probability of a replacement ratio of at least 70 %" in text


def test_design_states_frontier_separability_and_ranking_at_each_gamma(
    tiny: tuple[DesignOutcome, Path],
) -> None:
    from glidelab.design import separable

    out, folder = tiny
    sep = pd.read_csv(folder / "separability.csv", index_col=0)
    n = len(out.frontier)
    assert set(sep["metric"]) == {"success", "shortfall CVaR (years)", "CE (USD/yr)"}
    assert len(sep) == 3 * (n - 1 + (n > 2))  # neighbours and the end points
    for _, row in sep.iterrows():
        assert (row["verdict"] == "apart") == separable(row["difference"], row["paired SE"])
    text = DesignSection(out.study).summary(out)
    assert "On the frontier" in text and ("apart" in text)
    for g in (2, 5, 10):
        assert f"at gamma {g} " in text  # the ranking at each risk aversion
    ce = out.scores["bootstrap: CE gamma=5 (USD/yr)"]
    assert f"at gamma 5 {ce.idxmax()} ranks first" in text
    if ce["fixed_100_0"] > ce.iloc[0]:
        assert "100 % equity, outside the committee's constraints, beats it" in text
    html = (folder / "design.html").read_text()
    assert "Frontier: can its points be told apart?" in html
