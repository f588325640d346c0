"""Yahoo Finance reachable from a study and from the command line, never from the tests.

``[data] source = "yahoo"`` names tickers for a study's roles; ``glidelab data --yahoo
TICKER`` fetches, caches and summarises. Every download here is a generated random walk
(the module's ``_download`` is replaced, or ``yfinance.Ticker`` for the real downloader's
own code): no test touches the network.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import backtest.data.yahoo as yahoo
from backtest.data import load_history
from backtest.errors import OfflineError, StudyError
from glidelab.cli import main
from glidelab.context import StudyContext
from glidelab.study import parse_study_file

TICKERS = {"equity": "spy", "bonds": "AGG", "cash": "BIL"}
PLAN = {"name": "r", "start_age": 65, "retirement_age": 65, "end_age": 75}
#: The module's own downloader, before the fixture below replaces it in every test.
REAL_DOWNLOAD = yahoo._download


def _walk(tickers: list[str], start: dt.date, end: dt.date) -> pd.DataFrame:
    """Business-day closes: a random walk per ticker (seeded by its name), about 100."""
    days = pd.bdate_range(start, end)
    out = {}
    for t in tickers:
        rng = np.random.default_rng(sum(map(ord, t)))
        out[t] = 100 * np.exp(np.cumsum(rng.normal(0.0003, 0.01, len(days))))
    return pd.DataFrame(out, index=days)


def _offline(tickers: list[str], start: dt.date, end: dt.date) -> pd.DataFrame:
    raise OfflineError(f"cannot reach Yahoo Finance for {tickers[0]!r}: no network")


@pytest.fixture(autouse=True)
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh, empty cache for each test, and no way out to the network."""
    monkeypatch.setenv("GLIDELAB_DATA_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(yahoo, "_download", _offline)
    return tmp_path / "home" / "yahoo"


def _study(**data: object) -> dict[str, object]:
    base = {"source": "yahoo", "frequency": "monthly", "start": 2010, "end": 2019, **TICKERS}
    return {"data": {**base, **data}, "plans": [PLAN], "optimize": {"enabled": False}}


# ---------------------------------------------------------------------- the study file


def test_a_study_names_tickers_for_its_roles() -> None:
    data = parse_study_file(_study()).study.data
    assert (data.source, data.equity, data.bonds, data.cash) == ("yahoo", "SPY", "AGG", "BIL")
    assert data.crypto == "btc"  # stays the embedded series unless a ticker is named
    assert parse_study_file({"plans": [PLAN]}).study.data.source == "embedded"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"start": None}, "needs start"),
        ({"cash": None}, "needs cash"),
        ({"cash": "spy"}, "repeat"),
        ({"source": "bloomberg"}, "source"),
    ],
)
def test_a_yahoo_study_without_its_tickers_is_refused(
    change: dict[str, object], message: str
) -> None:
    raw = _study(**change)
    raw["data"] = {k: v for k, v in raw["data"].items() if v is not None}  # type: ignore[attr-defined]
    with pytest.raises(StudyError, match=message):
        parse_study_file(raw)


def test_the_study_history_is_the_tickers_returns_and_the_embedded_cpi(
    monkeypatch: pytest.MonkeyPatch, cache: Path
) -> None:
    monkeypatch.setattr(yahoo, "_download", _walk)
    history = StudyContext(parse_study_file(_study()).study).history
    assert list(history.columns) == ["SPY", "AGG", "BIL", "cpi", "btc"]
    assert history.index[0] == pd.Timestamp("2010-01-31")
    assert history.index[-1] == pd.Timestamp("2019-12-31") and len(history) == 120
    cpi = load_history(["cpi"], "monthly", start="2010-01", end="2019-12")["cpi"]
    np.testing.assert_array_equal(history["cpi"].to_numpy(), cpi.to_numpy())  # copied as is
    assert history.attrs["cache"] == {"SPY": "downloaded", "AGG": "downloaded", "BIL": "downloaded"}
    assert sorted(p.name for p in cache.iterdir()) == ["AGG.parquet", "BIL.parquet", "SPY.parquet"]
    # Offline afterwards: the cache serves the same numbers.
    monkeypatch.setattr(yahoo, "_download", _offline)
    again = StudyContext(parse_study_file(_study()).study).history
    pd.testing.assert_frame_equal(again, history, check_exact=True)
    assert set(again.attrs["cache"].values()) == {"cache"}


def test_a_yahoo_study_offline_with_no_cache_says_so() -> None:
    study = parse_study_file(_study()).study
    with pytest.raises(OfflineError, match=r"No usable cached prices.*is empty"):
        _ = StudyContext(study).history


# ------------------------------------------------------------------- glidelab data --yahoo


def test_data_yahoo_fetches_caches_and_summarises(
    monkeypatch: pytest.MonkeyPatch, cache: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(yahoo, "_download", _walk)
    args = ["data", "--yahoo", "spy", "--start", "2015-01-01", "--end", "2019-12-31"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "monthly, 2015-01-31..2019-12-31" in out
    row = next(line for line in out.splitlines() if line.startswith("SPY "))
    assert " 60 " in row and "downloaded" in row  # 60 month ends in five years
    assert f"cache {cache}: SPY 2014-12-18..2019-12-31" in out
    # Offline, a second run reads the cache; with --refresh it says it is offline.
    monkeypatch.setattr(yahoo, "_download", _offline)
    assert main(args) == 0
    assert "offline" not in capsys.readouterr().out
    assert main([*args, "--refresh"]) == 0
    out = capsys.readouterr().out
    assert "offline: Yahoo Finance unreachable" in out and "stale cache" in out


def test_data_yahoo_offline_without_a_cache_is_one_clear_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["data", "--yahoo", "SPY", "--start", "2015-01-01"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert err.startswith("glidelab data: error: cannot reach Yahoo Finance") and "empty" in err


# -------------------------------------------------------------- the real downloader's code


class _FakeTicker:
    """Stands in for ``yfinance.Ticker``: ``history`` answers like yfinance, offline."""

    fail: type[BaseException] | None = None

    def __init__(self, symbol: str) -> None:
        self.symbol = symbol

    def history(self, start: str, end: str, **_: object) -> pd.DataFrame:
        if self.fail is not None:
            raise self.fail("Failed to perform, curl: (6) Could not resolve host")
        days = pd.bdate_range(
            start, pd.Timestamp(end) - pd.Timedelta(days=1), tz="America/New_York"
        )
        close = np.linspace(100.0, 120.0, len(days))
        return pd.DataFrame({"Open": close, "Close": close}, index=days)


def test_the_real_downloader_reads_yfinance_and_maps_no_network_to_offline(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    yf = pytest.importorskip("yfinance")
    monkeypatch.setattr(yf, "Ticker", _FakeTicker)
    frame = REAL_DOWNLOAD(["SPY"], dt.date(2020, 1, 1), dt.date(2020, 1, 31))
    assert list(frame.columns) == ["SPY"] and frame.index.tz is None
    assert frame.index[0] == pd.Timestamp("2020-01-01") and frame["SPY"].iloc[0] == 100.0
    assert yf.config.debug.hide_exceptions is True  # yfinance's own setting is restored
    monkeypatch.setattr(_FakeTicker, "fail", OSError)
    with pytest.raises(OfflineError, match="cannot reach Yahoo Finance for 'SPY'"):
        REAL_DOWNLOAD(["SPY"], dt.date(2020, 1, 1), dt.date(2020, 1, 31))
