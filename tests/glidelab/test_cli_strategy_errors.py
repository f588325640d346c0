"""A strategy's own error reaches the user as it is: one line, exit 2, nothing written.

Strategies raise ``StrategyError`` (a ``GlidelabError``); the command catches that one
class, so no command re-wraps strategy errors by hand.
"""

from __future__ import annotations

import pytest

from glidelab.cli import main


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--strategy", "fixed_61_39"], "unknown strategy preset 'fixed_61_39'; valid presets:"),
        (["--mix", "us_stocks=0.7,tbonds_10y=0.4"], "the weights of each row must sum to 1"),
        (["--rebalance", "band:1.5"], "RebalanceRule.band=1.5 must be in (0, 1)"),
        (["--rebalance", "band:wide"], "--rebalance 'band:wide': write band:WIDTH"),
    ],
)
def test_strategy_errors_are_one_clean_line(tmp_path, capsys, args, message) -> None:
    out = tmp_path / "out"
    assert main(["simulate", *args, "--n", "10", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert err.startswith("glidelab simulate: error: ") and err.count("\n") == 1
    assert "Traceback" not in err
    assert not out.exists() or not list(out.iterdir())
