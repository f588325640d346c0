"""``glidelab strategies``: lists every preset with weights at the requested ages."""

from __future__ import annotations

from glidelab.cli import main
from strategies import PRESETS


def test_lists_every_preset_with_weights_at_ages(capsys):
    assert main(["strategies"]) == 0
    out = capsys.readouterr().out
    for name in PRESETS:
        assert name in out
    vanguard = next(line for line in out.splitlines() if line.startswith("vanguard_"))
    assert vanguard.split()[-4:] == ["90/10", "82/18", "50/50", "30/70"]
    vol = next(line for line in out.splitlines() if line.startswith("vol_target_10"))
    assert "adaptive" in vol and "10%" in vol


def test_one_preset_in_full_and_custom_ages(capsys):
    assert main(["strategies", "--name", "100_minus_age", "--ages", "30", "70"]) == 0
    out = capsys.readouterr().out
    line = next(line for line in out.splitlines() if line.startswith("100_minus_age"))
    assert line.split()[-2:] == ["70/30", "30/70"]
    assert "rule of thumb" in out


def test_unknown_preset_is_a_clean_error(capsys):
    assert main(["strategies", "--name", "nope"]) == 2
    err = capsys.readouterr().err
    assert "unknown preset 'nope'" in err and "fixed_60_40" in err
