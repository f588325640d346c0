"""Derive ``backtest/data/embedded/jst_countries.csv`` from the JST Macrohistory database.

The Jordà-Schularick-Taylor Macrohistory database; a development script, kept out of
the wheel.

Run from the repository root (needs ``openpyxl``, in the ``test`` extra; the runtime
reads only the CSV)::

    python -m tools.build_jst /path/to/JSTdatasetR6.xlsx

Input: ``JSTdatasetR6.xlsx`` (release 6), kept verbatim in the shared data folder
(``raw/JSTdatasetR6.xlsx``; provenance in ``backtest/data/embedded/PROVENANCE.md``).
Output, one row per country and year, every number copied from the workbook except
``inflation``:

``country``, ``iso``, ``year``,
``equity_tr`` = ``eq_tr`` (equity total return, nominal, local currency, decimal),
``bond_tr`` = ``bond_tr`` (government bond total return, nominal, local currency),
``bill_rate`` = ``bill_rate`` (bill rate, used as the year's cash return),
``inflation`` = ``cpi[t] / cpi[t-1] - 1`` (*derived*: CPI change over the year, the
year before must be present; blank otherwise),
``xrusd`` = ``xrusd`` (exchange rate, local currency per US dollar, JST's definition;
pre-euro years are in euro units as JST gives them, so the ratio of two years is the
currency's change; used by :func:`backtest.data.jst.international_equity`).

Rows where all four return columns are blank are dropped (``xrusd`` does not keep a row:
JPN and PRT 1870 carry only an exchange rate and stay out); a blank cell stays blank (no
fill). Numbers are written with 10 significant digits (the workbook's doubles round-trip
to better than 1e-10 relative).
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

import pandas as pd

from backtest.io import write_text_atomic

OUT = Path(__file__).resolve().parents[1] / "backtest" / "data" / "embedded" / "jst_countries.csv"
COLUMNS = ("country", "iso", "year", "equity_tr", "bond_tr", "bill_rate", "inflation", "xrusd")


def derive(xlsx: Path) -> pd.DataFrame:
    """The per-country annual table from the JST workbook (see the module docstring)."""
    raw = pd.read_excel(xlsx)
    raw = raw.sort_values(["iso", "year"]).reset_index(drop=True)
    prev_cpi = raw.groupby("iso")["cpi"].shift(1)
    prev_year = raw.groupby("iso")["year"].shift(1)
    inflation = (raw["cpi"] / prev_cpi - 1.0).where(prev_year == raw["year"] - 1)
    out = pd.DataFrame(
        {
            "country": raw["country"],
            "iso": raw["iso"],
            "year": raw["year"].astype(int),
            "equity_tr": raw["eq_tr"],
            "bond_tr": raw["bond_tr"],
            "bill_rate": raw["bill_rate"],
            "inflation": inflation,
            "xrusd": raw["xrusd"],
        }
    )
    keep = out[["equity_tr", "bond_tr", "bill_rate", "inflation"]].notna().any(axis=1)
    return out[keep].reset_index(drop=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("xlsx", type=Path, help="path to JSTdatasetR6.xlsx")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    table = derive(args.xlsx)
    text = table.to_csv(index=False, float_format="%.10g", lineterminator="\n")
    write_text_atomic(args.out, text)
    args.out.chmod(0o644)  # mkstemp creates 0600; package data must be readable
    digest = hashlib.sha256(args.xlsx.read_bytes()).hexdigest()
    print(f"wrote {args.out} ({len(table)} rows) from {args.xlsx.name} sha256 {digest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
