"""Asset roles: one registry on the embedded series' metadata, and how to declare others."""

from __future__ import annotations

import pytest

from backtest.data import (
    asset_label,
    asset_role,
    asset_roles,
    assets_with_role,
    list_series,
)
from backtest.errors import DataError
from backtest.types import ASSET_ROLES


def test_every_series_has_one_role_at_every_frequency() -> None:
    seen: dict[str, str] = {}
    for s in list_series():
        assert s.role in ASSET_ROLES, s
        assert seen.setdefault(s.name, s.role) == s.role, s.name  # same role both frequencies
        assert (s.kind == "inflation") == (s.role == "inflation")
        assert s.label and asset_label(s.name) == s.label


@pytest.mark.parametrize(
    ("name", "role"),
    [
        ("us_stocks", "equity"),
        ("world", "equity"),
        ("tbonds_10y", "bond"),
        ("corp_aaa", "bond"),
        ("tbills", "cash"),
        ("btc", "crypto"),
        ("gold", "real_asset"),
        ("cpi", "inflation"),
    ],
)
def test_asset_role(name: str, role: str) -> None:
    assert asset_role(name) == role


def test_assets_with_role_by_frequency() -> None:
    assert assets_with_role("cash", "annual") == ("tbills",)
    assert assets_with_role("bond", "annual") == ("tbonds_10y", "corp_aaa", "corp_baa")
    assert assets_with_role("bond", "monthly") == ("tbonds_10y",)
    assert "world" in assets_with_role("equity") and "world" not in assets_with_role(
        "equity", "annual"
    )
    with pytest.raises(DataError, match="not an asset role"):
        assets_with_role("stocks")  # type: ignore[arg-type]


def test_declared_roles_for_tickers_and_csv_columns() -> None:
    roles = asset_roles(["VTI", "BND", "us_stocks"], declared={"VTI": "equity", "BND": "bond"})
    assert roles == {"VTI": "equity", "BND": "bond", "us_stocks": "equity"}
    with pytest.raises(DataError, match=r"no role known for 'VTI', 'BND'.*roles=\{'VTI'"):
        asset_roles(["VTI", "BND", "us_stocks"])
    with pytest.raises(DataError, match="role of 'VTI'='shares' is not an asset role"):
        asset_roles(["VTI"], declared={"VTI": "shares"})
    with pytest.raises(DataError, match="not an embedded series"):
        asset_role("VTI")
    assert asset_label("VTI") == "VTI"
