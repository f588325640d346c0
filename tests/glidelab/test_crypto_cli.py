"""``glidelab crypto`` end to end (a quick run of the shipped study) and its study table."""

from __future__ import annotations

import json
import re
import tomllib
from importlib import resources

import numpy as np
import pandas as pd
import pytest

from backtest.errors import StudyError
from glidelab.cli import main
from glidelab.crypto import parse_crypto_study
from tests.browser import CHROMIUM, SKIP_REASON, render_probe

TABLES = ("surface", "breakeven", "stress", "rules", "risk", "history_options", "btc_yearly")


def _shipped() -> dict:
    text = resources.files("glidelab").joinpath("studies/crypto_sleeve.toml").read_text("utf-8")
    return tomllib.loads(text)


def test_shipped_study_parses_with_the_7x7x2_grid_and_five_sleeves():
    cs = parse_crypto_study(_shipped(), "crypto_sleeve.toml")
    c = cs.crypto
    assert (len(c.means), len(c.vols), len(c.corrs)) == (7, 7, 2)
    assert c.sleeves == (0.0, 0.01, 0.025, 0.05, 0.10)
    assert c.n_scenarios == 10_000 and c.plan == "lifecycle"


def test_quick_run_writes_every_table_and_the_tearsheet(crypto_quick_run):
    folder, out = crypto_quick_run
    for stem in (*TABLES, "window"):
        frame = pd.read_csv(folder / f"{stem}.csv")
        records = json.loads((folder / f"{stem}.json").read_text())
        assert len(frame) == len(records) > 0, stem
    surface = pd.read_csv(folder / "surface.csv")
    assert set(surface["sleeve"]) == {0.01, 0.025, 0.05, 0.10}
    assert np.all(surface["se_success"] >= 0)
    # The shipped study names the member's survival curve: survival-weighted success,
    # which forgives ruin the member would not live to see, is never below success.
    assert np.all(surface["success_sw"] >= surface["success"])
    stress = pd.read_csv(folder / "stress.csv")
    none = stress[stress["strategy"] == "no sleeve"]
    # Every shock hits Bitcoin only, so the base without a sleeve never changes.
    np.testing.assert_array_equal(none["d_success"], 0.0)
    assert stress["shock"].str.contains("2014-15").any()
    html = (folder / "tearsheet" / "crypto.html").read_text()
    assert "Break-even" in html and "Mt.Gox" in html and "<script" not in html
    # The answer first, the settings last; the seed scheme in words, never a repr.
    assert html.index("The answer") < html.index("Charts") < html.index("<h2>Settings")
    assert html.index("Central case") < html.index('id="summary-table"')
    assert "SeedSequence" not in html and "arch.bootstrap" not in html
    assert html.index("run time by step") > html.index("<h2>Settings")
    # A change in success is in pp: no signed percentage with a standard error.
    text = re.sub(r"<[^>]+>", " ", html)
    assert not re.search(r"[+-]\d+(?:\.\d+)? %\s*\u00b1", text)
    assert re.search(r"[+-]\d+\.\d pp \u00b1 \d+\.\d", text)
    summary_csv = pd.read_csv(folder / "tearsheet" / "summary.csv", index_col="sleeve")
    assert list(summary_csv.index) == [0.0, 0.01, 0.025, 0.05]  # the stress sleeves
    # The zero sleeve is the reference of every change, and no stress moves it.
    assert (summary_csv.loc[0.0, ["success change", "worst stress change"]] == 0).all()
    assert (folder / "tearsheet" / "crypto.pdf").read_bytes()[:5] == b"%PDF-"
    settings = json.loads((folder / "settings.json").read_text())
    assert any("PROVENANCE" in n for n in settings["notes"])
    assert "break-even" in out and "worst stress" in out


@pytest.mark.browser
@pytest.mark.skipif(CHROMIUM is None, reason=SKIP_REASON)
def test_crypto_html_renders_in_headless_chromium(crypto_quick_run, tmp_path):
    folder, _ = crypto_quick_run
    html = (folder / "tearsheet" / "crypto.html").read_text(encoding="utf-8")
    ok, total, remote, dom = render_probe(html, tmp_path)
    # Two surface heat maps (one per correlation), break-even by correlation and by
    # volatility, stresses, rules, risk, history, and the sleeve inside the vintage.
    assert total == 9 and ok == total, f"{ok} of {total} images loaded"
    assert remote == 0
    assert "Stress tests" in dom and "Mt.Gox" in dom


def test_bad_crypto_table_is_a_one_line_study_error(tmp_path, capsys):
    raw = _shipped()
    raw["crypto"]["band"] = [1.5, 0.5]
    with pytest.raises(StudyError, match=r"\[crypto\]\.band"):
        parse_crypto_study(raw)
    raw = _shipped()
    raw["crypto"]["colour"] = "orange"
    with pytest.raises(StudyError, match="unknown key"):
        parse_crypto_study(raw)
    raw = _shipped()
    del raw["crypto"]
    with pytest.raises(StudyError, match=r"no \[crypto\] table"):
        parse_crypto_study(raw)
    bad = tmp_path / "bad.toml"
    bad.write_text("[study]\nname = 1\n")
    assert main(["crypto", str(bad), "--out", str(tmp_path)]) == 2
    assert "crypto" in capsys.readouterr().err


def test_surface_on_dask_equals_in_process():
    pytest.importorskip("distributed")
    import dataclasses

    from backtest.crypto.assumptions import draw_crn
    from backtest.crypto.surface import assumption_grid
    from glidelab.backends import DaskBackend, InProcess, dask_client
    from glidelab.crypto import (
        _base_scenarios,
        _preset,
        _rng,
        _SurfaceShared,
        _with_all_roles,
        surface_on,
    )

    cs = parse_crypto_study(_shipped())
    study = cs.study
    cfg = dataclasses.replace(cs.crypto, n_scenarios=200)
    plan = study.plan(cfg.plan).plan
    base = _with_all_roles(_preset(cfg.base, study), study)
    sc = _base_scenarios(study, cfg, plan, "annual", cfg.n_scenarios, "base")
    draws = draw_crn(sc, "us_stocks", rng=_rng(study, "draws"))
    grid = tuple(assumption_grid([-0.1, 0.1], [0.5, 0.9], [0.0]))
    shared = _SurfaceShared(draws, plan, base, cfg, "btc", grid, None)
    sizes = (0.0, 0.01, 0.05)
    here = surface_on(InProcess(), shared, sizes)
    with dask_client(workers=2) as client:
        there = surface_on(DaskBackend(client), shared, sizes)
    assert list(here["sleeve"]) == [0.01] * 4 + [0.05] * 4
    pd.testing.assert_frame_equal(here, there, check_exact=True)
