"""``glidelab design --seed``: the seed reaches the draws and is recorded, as with run."""

from __future__ import annotations

import json
from pathlib import Path

from glidelab.cli import main


def test_design_seed_overrides_the_studys_and_is_recorded(tmp_path: Path) -> None:
    assert (
        main(
            [
                "design",
                "target_date_2060",
                "--quick",
                "--quiet",
                "--seed",
                "7",
                "--out",
                str(tmp_path),
            ]
        )
        == 0
    )
    settings = json.loads((tmp_path / "target_date_2060" / "settings.json").read_text())
    assert settings["study"]["seed"] == 7  # the shipped study says 2060
