"""The tables of one crypto-research run, as plain numbers for the report and the files."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd


@dataclass(frozen=True)
class CryptoResearch:
    """Every table of a crypto study; numbers only (the report formats them).

    Attributes
    ----------
    title, subtitle
        Headline and one line on the member and the base.
    surface
        :func:`backtest.crypto.surface.run_surface` rows.
    breakeven
        :func:`optimize.crypto_breakeven.break_even_table` rows.
    stress
        :func:`backtest.stress.stress_table` rows.
    rules
        :func:`backtest.crypto.rules.compare_rules` rows.
    risk
        Risk contributions by sleeve size and volatility (``sleeve``, ``vol_log``,
        ``vol_share``, ``cvar_share``, ``portfolio_vol``, ``portfolio_cvar``).
    history_options
        Success with each way of using Bitcoin's history.
    btc_yearly
        :func:`backtest.crypto.history.yearly_table`.
    window
        :func:`backtest.crypto.window.window_backtest` rows.
    notes
        Sentences the report prints under its tables (assumptions, caveats).
    settings
        ``(label, value)`` pairs describing the run.
    central
        The central case in one line, arithmetic terms first, with its rationale (the
        report's first screen and every page that uses it).
    vintage
        :func:`backtest.crypto.vintage.score_vintage` rows: the sleeve inside a
        target-date vintage, paired against the glide path without it (empty: not run).
    disclosure
        :func:`backtest.crypto.disclosure.disclosure_table` rows, one per sleeve size
        (empty: not run).
    """

    title: str
    subtitle: str
    surface: pd.DataFrame
    breakeven: pd.DataFrame
    stress: pd.DataFrame
    rules: pd.DataFrame
    risk: pd.DataFrame
    history_options: pd.DataFrame
    btc_yearly: pd.DataFrame
    window: pd.DataFrame
    notes: tuple[str, ...] = ()
    settings: tuple[tuple[str, str], ...] = field(default_factory=tuple)
    central: str = ""
    vintage: pd.DataFrame = field(default_factory=pd.DataFrame)
    disclosure: pd.DataFrame = field(default_factory=pd.DataFrame)

    def tables(self) -> dict[str, pd.DataFrame]:
        """Every table by file stem (the vintage and disclosure tables when run)."""
        tables = {
            "surface": self.surface,
            "breakeven": self.breakeven,
            "stress": self.stress,
            "rules": self.rules,
            "risk": self.risk,
            "history_options": self.history_options,
            "btc_yearly": self.btc_yearly,
            "window": self.window,
        }
        for stem, table in (("vintage", self.vintage), ("disclosure", self.disclosure)):
            if len(table):
                tables[stem] = table
        return tables
