"""Yahoo loader: real loader code, download replaced by generated frames; never the network."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import ClassVar

import numpy as np
import pandas as pd
import pytest

from backtest.data import yahoo
from backtest.data.calendar import detect_calendar, find_gaps, period_end_closes
from backtest.data.yahoo import GapWarning, StaleCacheWarning, cache_contents, load_yahoo
from backtest.errors import CoverageError, DataError, OfflineError

FIXTURES = Path(__file__).parents[1] / "fixtures" / "yahoo"


def _fixture(name: str) -> pd.Series:
    frame = pd.read_csv(FIXTURES / name, index_col="date", parse_dates=["date"])
    return frame["close"].astype("float64")


BTC = _fixture("btc_like_daily.csv")  # 7-day calendar, 2019-11-01..2021-01-15
SPY = _fixture("spy_like_daily.csv")  # 5-day calendar, same span


class FakeYahoo:
    """Stands in for ``yahoo._download``: serves generated closes and counts calls."""

    def __init__(self, data: dict[str, pd.Series] | None = None, offline: bool = False) -> None:
        self.data = {"BTC-USD": BTC, "SPY": SPY} if data is None else data
        self.offline = offline
        self.calls: list[tuple[list[str], dt.date, dt.date]] = []

    def __call__(self, tickers: list[str], start: dt.date, end: dt.date) -> pd.DataFrame:
        self.calls.append((list(tickers), start, end))
        if self.offline:
            raise OfflineError("cannot reach Yahoo Finance (test: no network)")
        cols = {
            t: self.data[t].loc[pd.Timestamp(start) : pd.Timestamp(end)]
            for t in tickers
            if t in self.data
        }
        return pd.DataFrame(cols)


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeYahoo:
    f = FakeYahoo()
    monkeypatch.setattr(yahoo, "_download", f)
    return f


def test_monthly_common_month_end_calendar(fake: FakeYahoo, tmp_path: Path) -> None:
    rets = load_yahoo(["SPY", "btc-usd"], "2020-01-01", "2020-12-31", cache_dir=tmp_path)
    assert list(rets.columns) == ["SPY", "BTC-USD"]
    expected_index = pd.date_range("2020-01-31", "2020-12-31", freq="ME")
    # The loader's index is in microseconds on every pandas; pandas 2 builds date_range in
    # nanoseconds and compares units too, so the expectation is put in the loader's unit.
    assert rets.index.equals(pd.DatetimeIndex(expected_index, name="date").as_unit("us"))
    # Feb 2020 ends on Saturday 29th: the coin's close that day, the stock's Friday 28th,
    # both labelled 2020-02-29. Same formula on the raw closes -> tight tolerance.
    feb = rets.loc["2020-02-29"]
    np.testing.assert_allclose(
        feb["BTC-USD"], BTC["2020-02-29"] / BTC["2020-01-31"] - 1, rtol=1e-12
    )
    np.testing.assert_allclose(feb["SPY"], SPY["2020-02-28"] / SPY["2020-01-31"] - 1, rtol=1e-12)
    # May 2020 ends on Sunday 31st; Jan 2020 needs the Dec-31-2019 close (look-back fetch)
    np.testing.assert_allclose(
        rets.loc["2020-05-31", "SPY"], SPY["2020-05-29"] / SPY["2020-04-30"] - 1, rtol=1e-12
    )
    np.testing.assert_allclose(
        rets.loc["2020-01-31", "BTC-USD"], BTC["2020-01-31"] / BTC["2019-12-31"] - 1, rtol=1e-12
    )
    assert rets.attrs["calendars"] == {"SPY": "5-day", "BTC-USD": "7-day"}
    assert rets.attrs["frequency"] == "monthly" and rets.attrs["real"] is False
    assert "calendar month" in rets.attrs["period_note"]
    assert rets.notna().all().all()


def test_period_end_closes_unit() -> None:
    frame = pd.DataFrame({"BTC": BTC, "SPY": SPY})  # union index: SPY NaN on weekends
    ends = period_end_closes(frame, "monthly")
    assert ends.loc["2020-02-29", "SPY"] == SPY["2020-02-28"]
    assert ends.loc["2020-02-29", "BTC"] == BTC["2020-02-29"]
    assert ends.index.is_month_end.all()
    assert detect_calendar(pd.DatetimeIndex(BTC.index)) == "7-day"
    assert detect_calendar(pd.DatetimeIndex(SPY.index)) == "5-day"


def test_annual_is_december_to_december(fake: FakeYahoo, tmp_path: Path) -> None:
    rets = load_yahoo("SPY", "2020-01-01", "2020-12-31", "annual", cache_dir=tmp_path)
    assert list(rets.index) == [pd.Timestamp("2020-12-31")]
    np.testing.assert_allclose(rets.iloc[0, 0], SPY["2020-12-31"] / SPY["2019-12-31"] - 1)


def test_daily_mixed_calendars_use_common_days(fake: FakeYahoo, tmp_path: Path) -> None:
    rets = load_yahoo(["SPY", "BTC-USD"], "2020-03-01", "2020-03-31", "daily", cache_dir=tmp_path)
    assert (rets.index.day_of_week < 5).all()  # only days both traded
    # Monday 2020-03-09: the coin's weekend move folds into Monday's return
    np.testing.assert_allclose(
        rets.loc["2020-03-09", "BTC-USD"], BTC["2020-03-09"] / BTC["2020-03-06"] - 1, rtol=1e-12
    )
    assert "every ticker traded" in rets.attrs["period_note"]
    only_btc = load_yahoo("BTC-USD", "2020-03-01", "2020-03-31", "daily", cache_dir=tmp_path)
    assert len(only_btc) == 31  # alone, the coin keeps its 7-day calendar


def test_cache_hit_does_not_download(fake: FakeYahoo, tmp_path: Path) -> None:
    first = load_yahoo("SPY", "2020-01-01", "2020-06-30", cache_dir=tmp_path)
    assert len(fake.calls) == 1 and first.attrs["cache"] == {"SPY": "downloaded"}
    assert (tmp_path / "SPY.parquet").exists()
    second = load_yahoo("SPY", "2020-02-01", "2020-05-31", cache_dir=tmp_path)
    assert len(fake.calls) == 1, "a request inside the cached window must not download"
    assert second.attrs["cache"] == {"SPY": "cache"}
    pd.testing.assert_frame_equal(second, first.loc["2020-02-29":"2020-05-31"], check_freq=False)
    assert cache_contents(tmp_path)[0].startswith("SPY 2019-12-")


def test_cache_grows_when_request_extends(fake: FakeYahoo, tmp_path: Path) -> None:
    load_yahoo("SPY", "2020-03-01", "2020-06-30", cache_dir=tmp_path)
    load_yahoo("SPY", "2020-01-01", "2020-09-30", cache_dir=tmp_path)
    assert len(fake.calls) == 2
    _, start, end = fake.calls[1]
    assert start <= dt.date(2019, 12, 18) and end == dt.date(2020, 9, 30)
    load_yahoo("SPY", "2020-04-01", "2020-08-31", cache_dir=tmp_path)
    assert len(fake.calls) == 2


def test_refresh_downloads_again(fake: FakeYahoo, tmp_path: Path) -> None:
    load_yahoo("SPY", "2020-01-01", "2020-06-30", cache_dir=tmp_path)
    fake.data = {"SPY": SPY * 2.0}  # a revised history (e.g. new dividend adjustment)
    fake.data["SPY"].loc["2020-03-31"] *= 1.01
    again = load_yahoo("SPY", "2020-01-01", "2020-06-30", cache_dir=tmp_path, refresh=True)
    assert len(fake.calls) == 2 and again.attrs["cache"] == {"SPY": "downloaded"}
    np.testing.assert_allclose(
        again.loc["2020-03-31", "SPY"], 1.01 * SPY["2020-03-31"] / SPY["2020-02-28"] - 1
    )
    cached = load_yahoo("SPY", "2020-01-01", "2020-06-30", cache_dir=tmp_path)
    pd.testing.assert_frame_equal(cached, again)


def test_offline_without_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(yahoo, "_download", FakeYahoo(offline=True))
    with pytest.raises(OfflineError, match=r"'SPY'.*cache .* is empty"):
        load_yahoo("SPY", "2020-01-01", "2020-06-30", cache_dir=tmp_path)


def test_offline_uses_usable_cache_with_warning(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    online = FakeYahoo()
    monkeypatch.setattr(yahoo, "_download", online)
    fresh = load_yahoo("SPY", "2020-01-01", "2020-06-30", cache_dir=tmp_path)
    monkeypatch.setattr(yahoo, "_download", FakeYahoo(offline=True))
    with pytest.warns(StaleCacheWarning, match="unreachable.*cached prices for SPY") as rec:
        stale = load_yahoo("SPY", "2020-01-01", "2020-06-30", cache_dir=tmp_path, refresh=True)
    assert rec[0].filename == __file__  # the warning points at the caller's line
    pd.testing.assert_frame_equal(stale.loc[:, ["SPY"]], fresh)
    assert stale.attrs["cache"] == {"SPY": "stale cache"}


def test_offline_with_cache_not_covering(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(yahoo, "_download", FakeYahoo())
    load_yahoo("SPY", "2020-01-01", "2020-03-31", cache_dir=tmp_path)
    monkeypatch.setattr(yahoo, "_download", FakeYahoo(offline=True))
    with pytest.raises(
        OfflineError, match=r"No usable cached prices for 'SPY'.*holds: SPY 2019-12"
    ):
        load_yahoo("SPY", "2020-01-01", "2020-12-31", cache_dir=tmp_path)


def test_unknown_ticker_names_it_and_the_cache(fake: FakeYahoo, tmp_path: Path) -> None:
    load_yahoo("SPY", "2020-01-01", "2020-03-31", cache_dir=tmp_path)
    with pytest.raises(DataError, match=r"no prices for 'NOSUCHTICKER'.*holds: SPY"):
        load_yahoo(["SPY", "NoSuchTicker"], "2020-01-01", "2020-03-31", cache_dir=tmp_path)


def test_empty_answer(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(yahoo, "_download", lambda t, s, e: pd.DataFrame())
    with pytest.raises(DataError, match=r"no prices for 'SPY'.*cache .* is empty"):
        load_yahoo("SPY", "2020-01-01", "2020-03-31", cache_dir=tmp_path)
    all_nan = pd.DataFrame({"SPY": SPY * np.nan})
    monkeypatch.setattr(yahoo, "_download", lambda t, s, e: all_nan)
    with pytest.raises(DataError, match="no prices for 'SPY'"):
        load_yahoo("SPY", "2020-01-01", "2020-03-31", cache_dir=tmp_path)
    assert not list(tmp_path.glob("*.parquet")), "an empty answer must not be cached"


def test_gap_in_seven_day_series_is_reported(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    holed = BTC.drop(pd.date_range("2020-03-10", "2020-03-12"))
    monkeypatch.setattr(yahoo, "_download", FakeYahoo({"BTC-USD": holed}))
    with pytest.raises(DataError, match=r"BTC-USD \(7-day calendar\): 2020-03-10\.\.2020-03-12"):
        load_yahoo("BTC-USD", "2020-01-01", "2020-06-30", cache_dir=tmp_path)
    with pytest.warns(GapWarning, match="2020-03-10..2020-03-12"):
        daily = load_yahoo(
            "BTC-USD", "2020-03-01", "2020-03-31", "daily", cache_dir=tmp_path, on_gap="warn"
        )
    # NaN rows around the hole, never a return bridged over it
    assert daily.loc["2020-03-10":"2020-03-13", "BTC-USD"].isna().all()
    assert daily.loc["2020-03-09", "BTC-USD"] == pytest.approx(
        BTC["2020-03-09"] / BTC["2020-03-08"] - 1
    )


def test_missing_month_of_stock_gives_nan_not_fill(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    holed = SPY.drop(SPY.loc["2020-04-01":"2020-04-30"].index)
    monkeypatch.setattr(yahoo, "_download", FakeYahoo({"SPY": holed}))
    with pytest.raises(DataError, match=r"SPY \(5-day calendar\): 2020-04-01\.\.2020-04-30"):
        load_yahoo("SPY", "2020-01-01", "2020-06-30", cache_dir=tmp_path)
    with pytest.warns(GapWarning) as rec:
        rets = load_yahoo("SPY", "2020-01-01", "2020-06-30", cache_dir=tmp_path, on_gap="warn")
    assert rec[0].filename == __file__  # the warning points at the caller's line
    assert rets.loc["2020-04-30":"2020-05-31", "SPY"].isna().all()
    assert rets.loc["2020-03-31", "SPY"] == pytest.approx(SPY["2020-03-31"] / SPY["2020-02-28"] - 1)


def test_nan_closes_are_gaps(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    with_nan = BTC.copy()
    with_nan.loc["2020-02-02"] = np.nan
    monkeypatch.setattr(yahoo, "_download", FakeYahoo({"BTC-USD": with_nan}))
    with pytest.raises(DataError, match="2020-02-02"):
        load_yahoo("BTC-USD", "2020-01-01", "2020-03-31", cache_dir=tmp_path)


def test_stock_holidays_are_not_gaps() -> None:
    # Thanksgiving, Christmas, New Year: short weekday runs are holidays, not gaps
    assert find_gaps(SPY, SPY.index[0], SPY.index[-1], calendar="5-day") == []


def test_start_before_prices_exist(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    late = BTC.loc["2020-01-15":]
    monkeypatch.setattr(yahoo, "_download", FakeYahoo({"BTC-USD": late}))
    with pytest.raises(CoverageError, match=r"'BTC-USD' from 2020-01-15 only.*start >= 2020-02-01"):
        load_yahoo("BTC-USD", "2020-01-01", "2020-06-30", cache_dir=tmp_path)


def test_incomplete_final_month_dropped(fake: FakeYahoo, tmp_path: Path) -> None:
    rets = load_yahoo("SPY", "2020-01-01", "2020-06-15", cache_dir=tmp_path)
    assert rets.index[-1] == pd.Timestamp("2020-05-31")
    assert "dropped incomplete final period(s) ending 2020-06-30" in rets.attrs["period_note"]


def test_non_positive_close(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    bad = SPY.copy()
    bad.loc["2020-02-03"] = 0.0
    monkeypatch.setattr(yahoo, "_download", FakeYahoo({"SPY": bad}))
    with pytest.raises(DataError, match="non-positive close for 'SPY' on 2020-02-03"):
        load_yahoo("SPY", "2020-01-01", "2020-03-31", cache_dir=tmp_path)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"tickers": []}, "tickers is empty"),
        ({"tickers": ["SPY", "spy"]}, "more than once"),
        ({"tickers": ["S P Y"]}, "not a Yahoo symbol"),
        ({"frequency": "weekly"}, "frequency='weekly'"),
        ({"start": "2020-06-01", "end": "2020-01-01"}, "start <= end"),
        ({"start": "yesterday-ish"}, "start='yesterday-ish' is not a date"),
        ({"on_gap": "ignore"}, "on_gap"),
        ({"start": "2999-01-01", "end": "2999-12-31"}, "not in the past"),
    ],
)
def test_bad_arguments(fake: FakeYahoo, tmp_path: Path, kwargs: dict, match: str) -> None:
    args = {"tickers": ["SPY"], "start": "2020-01-01", "end": "2020-06-30"} | kwargs
    with pytest.raises(DataError, match=match):
        load_yahoo(cache_dir=tmp_path, **args)
    assert fake.calls == []


def test_downloader_parameter(tmp_path: Path) -> None:
    f = FakeYahoo()
    rets = load_yahoo("SPY", "2020-01-01", "2020-03-31", cache_dir=tmp_path, downloader=f)
    assert len(f.calls) == 1 and len(rets) == 3


def test_cache_dir_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("GLIDELAB_DATA_HOME", str(tmp_path / "home"))
    assert yahoo.default_cache_dir() == tmp_path / "home" / "yahoo"
    f = FakeYahoo()
    load_yahoo("^GSPC", "2020-01-01", "2020-03-31", downloader=FakeYahoo({"^GSPC": SPY}))
    assert (tmp_path / "home" / "yahoo" / "%5EGSPC.parquet").exists()
    assert cache_contents()[0].startswith("^GSPC 2019-12-")
    monkeypatch.delenv("GLIDELAB_DATA_HOME")
    assert "glidelab" in str(yahoo.default_cache_dir())
    assert f.calls == []


# ---------------------------------------------------------------- the real _download


class _FakeTicker:
    """Replaces ``yfinance.Ticker``: ``history`` returns a recorded-shape frame or raises."""

    behaviour: ClassVar[dict[str, object]] = {}

    def __init__(self, ticker: str) -> None:
        self.ticker = ticker

    def history(self, **kwargs: object) -> pd.DataFrame:
        assert kwargs["auto_adjust"] is True
        what = self.behaviour[self.ticker]
        if isinstance(what, BaseException):
            raise what
        return what  # type: ignore[return-value]


@pytest.fixture
def fake_yf(monkeypatch: pytest.MonkeyPatch) -> type[_FakeTicker]:
    import yfinance

    monkeypatch.setattr(yfinance, "Ticker", _FakeTicker)
    _FakeTicker.behaviour = {}
    return _FakeTicker


def _recorded_history() -> pd.DataFrame:
    frame = pd.read_csv(FIXTURES / "spy_history_yf.csv", index_col="Date")
    frame.index = pd.to_datetime(frame.index, utc=True).tz_convert("America/New_York")
    return frame


def test_real_download_reads_close(fake_yf: type[_FakeTicker]) -> None:
    import yfinance

    hist = _recorded_history()
    fake_yf.behaviour = {"SPY": hist}
    before = yfinance.config.debug.hide_exceptions
    out = yahoo._download(["SPY"], dt.date(2020, 1, 1), dt.date(2020, 1, 31))
    assert yfinance.config.debug.hide_exceptions == before  # global setting restored
    assert out.index.tz is None
    assert out.index[0] == pd.Timestamp("2020-01-02")
    np.testing.assert_allclose(out["SPY"].to_numpy(), hist["Close"].to_numpy())


def test_real_download_unknown_ticker_is_absent(fake_yf: type[_FakeTicker]) -> None:
    from yfinance.exceptions import YFPricesMissingError, YFTzMissingError

    fake_yf.behaviour = {
        "SPY": _recorded_history(),
        "NOPE": YFTzMissingError("NOPE"),
        "GONE": YFPricesMissingError("GONE", ""),
    }
    out = yahoo._download(["SPY", "NOPE", "GONE"], dt.date(2020, 1, 1), dt.date(2020, 1, 31))
    assert list(out.columns) == ["SPY"]


def test_real_download_offline(fake_yf: type[_FakeTicker], tmp_path: Path) -> None:
    fake_yf.behaviour = {"SPY": ConnectionError("Could not resolve host: query2.finance.yahoo.com")}
    with pytest.raises(OfflineError, match="cannot reach Yahoo Finance for 'SPY'"):
        yahoo._download(["SPY"], dt.date(2020, 1, 1), dt.date(2020, 1, 31))
    # and through the public loader, with what the (empty) cache holds
    with pytest.raises(OfflineError, match=r"'SPY'.*is empty"):
        load_yahoo("SPY", "2020-01-01", "2020-01-31", cache_dir=tmp_path)


def test_real_download_through_loader(fake_yf: type[_FakeTicker], tmp_path: Path) -> None:
    fake_yf.behaviour = {"SPY": _recorded_history()}
    rets = load_yahoo("SPY", "2020-01-03", "2020-01-31", "daily", cache_dir=tmp_path)
    hist = _recorded_history()["Close"].to_numpy()
    np.testing.assert_allclose(rets["SPY"].to_numpy(), hist[1:] / hist[:-1] - 1, rtol=1e-12)


class _ChattyTicker(_FakeTicker):
    """Fails as yfinance 1.x does offline: logs its cookie line, prints, then raises."""

    def history(self, **kwargs: object) -> pd.DataFrame:
        import logging

        logging.getLogger("yfinance").error(
            "Cookie/crumb fetch failed (ConnectError), continuing without crumb"
        )
        print("1 Failed download: ['SPY']")
        raise OSError(
            "Failed to perform, curl: (6) Could not resolve host: query2.finance.yahoo.com. "
            "See https://curl.se/libcurl/c/libcurl-errors.html first for more details."
        )


def test_offline_message_is_ours_alone(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    import logging

    import yfinance

    monkeypatch.setattr(yfinance, "Ticker", _ChattyTicker)
    with caplog.at_level(logging.DEBUG), pytest.raises(OfflineError) as info:
        load_yahoo("SPY", "2020-01-01", "2020-01-31", cache_dir=tmp_path)
    message = str(info.value)
    assert "cannot reach Yahoo Finance for 'SPY'" in message and "No usable cached" in message
    assert ".." not in message.replace("2020-01-31..", "").replace("..2020", "")  # dates only
    assert ". ." not in message and "details.." not in message
    out = capsys.readouterr()
    assert out.out == "" and out.err == ""  # yfinance's own print is swallowed
    assert "Cookie" not in caplog.text  # and its logger line never reaches the user
    assert not logging.getLogger("yfinance").disabled  # restored afterwards
