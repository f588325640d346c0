"""The JST per-country table: the loader, and the embedded CSV against its derivation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from backtest.data.jst import jst_countries, load_jst
from backtest.errors import DataError

RAW = Path(__file__).resolve().parents[3] / "shared" / "data" / "raw" / "JSTdatasetR6.xlsx"


def test_load_one_country_with_glidelab_names() -> None:
    df = load_jst("GBR")
    assert list(df.columns) == ["us_stocks", "tbonds_10y", "tbills", "cpi"]
    assert df.index[0] == pd.Timestamp("1871-12-31") and df.index[-1] == pd.Timestamp("2020-12-31")
    assert not df.isna().any().any()
    assert df.attrs["frequency"] == "annual"


def test_gaps_stay_gaps() -> None:
    full = load_jst("DEU", complete=False)
    assert np.isnan(full.loc["1923-12-31"]).any()
    assert pd.Timestamp("1923-12-31") not in load_jst("DEU").index


def test_unknown_country_is_a_clear_error() -> None:
    with pytest.raises(DataError, match="GBR"):
        load_jst("XXX")
    assert jst_countries()["JPN"] == "Japan"


@pytest.mark.skipif(not RAW.exists(), reason="the raw JST workbook is not next to the repository")
def test_embedded_csv_equals_its_derivation_from_the_workbook() -> None:
    pytest.importorskip("openpyxl")
    from tools.build_jst import derive

    derived = derive(RAW)
    embedded = pd.read_csv(
        Path(__file__).resolve().parents[2] / "backtest/data/embedded/jst_countries.csv"
    )
    assert len(derived) == len(embedded)
    for col in ("equity_tr", "bond_tr", "bill_rate", "inflation", "xrusd"):
        # Written with 10 significant digits.
        np.testing.assert_allclose(embedded[col], derived[col], rtol=1e-9, atol=1e-12)
