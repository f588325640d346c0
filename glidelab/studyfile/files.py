"""One reader for every kind of study file, and the shipped studies by name.

:func:`load_study` reads a study file by path or by the name of a shipped study
(``glidelab/studies/*.toml``; :func:`shipped_studies` lists them) into a
:class:`StudyFile`: an ordinary :class:`~glidelab.studyfile.core.Study` with its optional
``[crypto]`` and ``[sweep]`` sections, or a fund-design file's
:class:`~glidelab.studyfile.design.DesignStudy`. :func:`parse_study_file` tells the kinds
apart and hands each table to its section's parser.
"""

from __future__ import annotations

import dataclasses
import html
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from backtest.errors import StudyError
from glidelab.studyfile.core import SCHEMA, Study, parse_study, quick_study
from glidelab.studyfile.crypto import CryptoConfig, parse_crypto, quick_crypto
from glidelab.studyfile.design import DESIGN_TABLES, DesignStudy, parse_design_study, quick_design
from glidelab.studyfile.sweep import Sweep, parse_sweep_table, quick_sweep
from glidelab.studyfile.tables import unknown_key

__all__ = [
    "SECTIONS",
    "StudyFile",
    "load_study",
    "parse_study_file",
    "parse_sweep",
    "read_study_toml",
    "shipped_studies",
    "shipped_study_path",
    "study_path",
]


@dataclass(frozen=True)
class StudyFile:
    """Everything a study file asks for, validated.

    An ordinary study (``study``) with its optional ``[crypto]`` and ``[sweep]`` sections
    (``sweep.study`` is ``study``), or a fund-design file: only ``design``.
    """

    study: Study | None
    crypto: CryptoConfig | None = None
    sweep: Sweep | None = None
    design: DesignStudy | None = None

    @property
    def name(self) -> str:
        """The study's name (``[study].name``, or a design file's ``name``)."""
        return self.design.name if self.design is not None else self._study().name

    @property
    def description(self) -> str:
        """The study's one-line description."""
        if self.design is not None:
            return self.design.description
        return self._study().description

    def _study(self) -> Study:
        assert self.study is not None  # one of study and design is set (parse_study_file)
        return self.study

    def require_study(self, command: str) -> Study:
        """The ordinary study, or a :class:`StudyError` saying ``command`` needs one."""
        if self.study is None:
            raise StudyError(
                f"{self.name} is a fund-design file ([population], [design], [evaluation]); "
                f"{command} needs a study with [[plans]]; run it with `glidelab design "
                f"{self.name}` or `glidelab run {self.name}`"
            )
        return self.study

    def quick(self) -> StudyFile:
        """``--quick`` for every section: the study, its crypto research and sweep, or the
        fund design (each never larger than given)."""
        if self.design is not None:
            return dataclasses.replace(self, design=quick_design(self.design))
        study = quick_study(self._study())
        crypto = quick_crypto(self.crypto) if self.crypto is not None else None
        sweep = None
        if self.sweep is not None:
            sweep = quick_sweep(dataclasses.replace(self.sweep, study=study))
        return StudyFile(study, crypto, sweep)

    def summary_lines(self) -> list[str]:
        """A few lines for a notebook: the study (or fund design) and its extra sections."""
        if self.design is not None:
            return [f"StudyFile {self.name!r} (fund design): {self.description}"]
        extra = [n for n in SECTIONS if getattr(self, n) is not None]
        lines = self._study().summary_lines()
        lines[0] = "StudyFile " + lines[0][len("Study ") :]
        return [*lines, f"sections: {', '.join(extra)}"] if extra else lines

    def __repr__(self) -> str:
        return "\n".join(self.summary_lines())

    def _repr_html_(self) -> str:
        head, *rest = (html.escape(line) for line in self.summary_lines())
        return f"<p><b>{head}</b></p><ul>" + "".join(f"<li>{x}</li>" for x in rest) + "</ul>"


#: Top-level tables of an ordinary study file: the study's own, then its sections.
SECTIONS = ("crypto", "sweep")


def parse_study_file(raw: dict[str, Any], source: str = "<dict>") -> StudyFile:
    """Validate a parsed study file of any kind: an ordinary study, one with ``[crypto]``
    and/or ``[sweep]`` tables, or a fund-design file (``[population]``, ``[design]``,
    ``[evaluation]``); errors name the file, the table and the key."""
    design = [k for k in DESIGN_TABLES if k in raw]
    if design:
        other = [k for k in ("plans", *SECTIONS) if k in raw]
        if other:
            raise StudyError(
                f"{source}: [{design[0]}] (fund design) cannot sit beside "
                f"{', '.join('[[plans]]' if k == 'plans' else f'[{k}]' for k in other)}; put "
                "the design in a file of its own and run `glidelab design FILE`"
            )
        return StudyFile(None, design=parse_design_study(raw))
    allowed = [*SCHEMA, *SECTIONS]
    for key in raw:
        if key not in allowed:
            raise unknown_key(f"{source}", str(key), allowed)
    study = parse_study({k: v for k, v in raw.items() if k not in SECTIONS}, source)
    plans = [p.name for p in study.plans]
    crypto = parse_crypto(raw["crypto"], plans) if "crypto" in raw else None
    sweep = parse_sweep_table(raw["sweep"], study) if "sweep" in raw else None
    return StudyFile(study, crypto, sweep)


def parse_sweep(raw: dict[str, Any], source: str = "<dict>") -> Sweep:
    """The :class:`Sweep` of a parsed study file, which must have a ``[sweep]`` table."""
    if "sweep" not in raw:
        raise StudyError(f"{source}: a sweep file needs a [sweep] table with a [sweep.grid]")
    sweep = parse_study_file(raw, source).sweep
    assert sweep is not None
    return sweep


# ----------------------------------------------------------------------- shipped studies


def _studies_folder() -> Path:
    return Path(str(resources.files("glidelab").joinpath("studies")))


def shipped_studies() -> tuple[str, ...]:
    """Names of the studies shipped in ``glidelab/studies/`` (``glidelab studies``)."""
    return tuple(sorted(p.stem for p in _studies_folder().glob("*.toml")))


def shipped_study_path(name: str) -> Path:
    """The file of the shipped study ``name`` (a :class:`StudyError` listing the names
    when there is none)."""
    if name not in shipped_studies():
        raise StudyError(
            f"no shipped study is named {name!r}; shipped studies: "
            f"{', '.join(shipped_studies())} (`glidelab studies` describes them)"
        )
    return _studies_folder() / f"{name}.toml"


def study_path(name_or_path: str | Path) -> Path:
    """The file a command-line study argument means: an existing file, else the shipped
    study of that name (``retiree``); a :class:`StudyError` listing the shipped names
    when neither matches."""
    p = Path(name_or_path)
    if p.is_file():
        return p
    if str(name_or_path) in shipped_studies():
        return shipped_study_path(str(name_or_path))
    raise StudyError(
        f"study file {str(p)!r} does not exist, and no shipped study has that name; give a "
        f"study file (TOML) or one of {', '.join(shipped_studies())} "
        "(`glidelab studies` describes them)"
    )


def read_study_toml(name_or_path: str | Path | None = None) -> tuple[dict[str, Any], str]:
    """The parsed TOML of a study file or shipped study (``None``: the built-in default)
    and its source label, before validation; an unreadable file is a :class:`StudyError`."""
    name = "default" if name_or_path is None else str(name_or_path)
    p = Path(name)
    if not p.is_file() and name in shipped_studies():
        p = shipped_study_path(name)
        source = f"built-in {name} study (glidelab/studies/{name}.toml)"
    else:
        p = study_path(name)
        source = str(p)
    try:
        raw = tomllib.loads(p.read_text("utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise StudyError(f"{source} is not valid TOML: {exc}") from None
    return raw, source


def load_study(name_or_path: str | Path | None = None) -> StudyFile:
    """Read and validate a study file of any kind, by path or by shipped name.

    ``None`` loads the built-in default study; ``"retiree"`` (any name from
    :func:`shipped_studies`) a shipped study; anything else is read as a path. The
    ordinary study is ``.study``; its ``[crypto]`` and ``[sweep]`` sections ``.crypto``
    and ``.sweep``; a fund-design file's settings ``.design``.
    """
    raw, source = read_study_toml(name_or_path)
    return parse_study_file(raw, source)
