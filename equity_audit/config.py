"""Run settings: one documented default for every choice the audit makes.

A district overrides any of them in a YAML file passed as ``--config``::

    district_name: Riverside Unified
    min_n: 15
    invalid_rows: exclude

Unknown keys and values of the wrong type are errors, so a typo never silently
falls back to a default. The values used are printed in the report.

Examples
--------
>>> from equity_audit.config import Config
>>> Config().min_n
10
>>> Config.from_mapping({"min_n": 20}).min_n
20
"""
from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import yaml

from equity_audit.exceptions import ConfigError

__all__ = ["Config", "StateSettings", "load_config", "SETTING_DOCS", "STATE_SETTING_DOCS", "MIN_N_FLOOR",
           "MIN_N_FLOOR_OVERRIDDEN"]

#: Smallest min_n without an override (the NCES convention), and with one.
MIN_N_FLOOR, MIN_N_FLOOR_OVERRIDDEN = 10, 3

#: Plain-language meaning of each setting, shown by ``equity-audit run --help``
#: and in the report's settings table.
SETTING_DOCS = {
    "district_name": "Name printed on the report cover (when not set, the data folder's name is used).",
    "min_n": "Smallest group whose results are shown as numbers; smaller groups are suppressed. "
    "Below 10 only with min_n_override: true, and the report says so.",
    "min_n_override": "Set true to allow a min_n below 10 (never below 3); the report states it.",
    "max_file_mb": "Largest data file read, in MB (a workbook: once unzipped); a larger file is "
    "reported and not read.",
    "invalid_rows": "'error' stops on any bad row; 'exclude' leaves bad rows out and counts "
    "them in the data-quality ledger.",
    "score_min": "Lowest score on the evidence rubric.",
    "score_max": "Highest score on the evidence rubric.",
    "proficient_score": "Rubric score that means proficient.",
    "severity_threshold": "Lean against the other scorers of the same work (rubric points): a scorer beyond "
    "chance whose interval reaches it is called harsh or lenient; half a rubric level by default.",
    "year_days": "Days in a year when pace is computed on the calendar basis.",
    "year_basis": "'school' (the default) counts only days between school_year_start and "
    "school_year_end, one school year a year, so summers do not count; 'calendar' counts every "
    "day (year_days a year).",
    "school_year_start": "First day of the school year, as MM-DD.",
    "school_year_end": "Last day of the school year, as MM-DD.",
    "pace_method": "'endpoint' (last minus first level over the time between) or 'regression' "
    "(least-squares slope of level on time).",
    "min_span_days": "Fewest days between a student's first and last level for a pace to be "
    "computed; below it the status is 'insufficient evidence'.",
    "pace_min_points": "Fewest dated levels for a pace (at least 2, and 3 for the regression "
    "method); with fewer the student has no pace and is counted as 'too few levels'.",
    "pace_min_span_years": "Fewest years (on year_basis) between a student's first and last level "
    "for a pace; shorter spans give no pace and are counted as 'too short a span'.",
    "pace_shrinkage": "How a student is flagged below pace given the error of a pace: false (the "
    "default) flags only when the whole confidence interval of the pace is below pace_threshold; "
    "true flags when the empirical-Bayes pace, shrunk toward the domain's mean by its reliability, "
    "is below it.",
    "graduation_level": "Level reached on finishing grade 12 (level L holds grade L's standards).",
    "graduation_age": "Age by which the district aims for students to graduate.",
    "pace_threshold": "Pace (levels per year) below which a student is flagged as not on pace.",
    "levels_behind_threshold": "Levels behind grade at which a student is flagged.",
    "risk_ratio_threshold": "Risk ratio strictly above which disproportionality is flagged.",
    "idea_min_cell": "IDEA minimum cell size: fewest children with the outcome for a risk ratio.",
    "idea_min_n": "IDEA minimum n-size: fewest children in the population for a risk ratio.",
    "idea_years": "Consecutive years above the threshold before significant disproportionality "
    "is identified (1 to 3).",
    "program_membership": "How the programs table (English learner, disability, low income and "
    "other programs, with begin and end dates) gives each school year's flags: 'year' (the "
    "default) counts a student in a program in a school year when any spell in it overlaps that "
    "year (school_year_start to school_year_end); 'ever' when they were in it at any time up to the "
    "end of that year. The students table's flags become the membership in the latest school "
    "year. Without a programs table this has no effect.",
    "fdr": "False discovery rate allowed in each table of comparisons (groups, intersections, schools, PLCs, "
    "teachers): the share of its flags expected to be chance, at most.",
    "confidence": "Confidence level of every interval.",
    "state": "State mode (run --level state) settings for the LEA-level IDEA significant "
    "disproportionality determinations, as a block of the keys below (state.<key>).",
}

#: Settings of the ``state:`` block, read only by ``equity-audit run --level state``.
STATE_SETTING_DOCS = {
    "risk_ratio_threshold": "The state's risk ratio threshold: an LEA's (alternate) risk ratio strictly above it "
    "exceeds the threshold (34 CFR 300.647(b)(1)).",
    "min_n": "The state's minimum n-size: fewest children in the group's and in the comparison group's "
    "population (the denominators) for a risk ratio.",
    "min_cell": "The state's minimum cell size: fewest children with the outcome in the group and in the "
    "comparison group (the numerators) for a risk ratio.",
    "years": "Consecutive years an LEA must exceed the threshold before it is identified (1 to 3, 300.647(d)(1)).",
    "reasonable_progress": "Fall of the risk ratio, in risk-ratio units, in each of the two prior years that "
    "exempts an LEA above the threshold (300.647(d)(2)); null (the default) applies no exemption.",
}


@dataclass(frozen=True)
class StateSettings:
    """The state's settings for LEA-level significant disproportionality (:data:`STATE_SETTING_DOCS`).

    Examples
    --------
    >>> StateSettings.from_mapping({"years": 2}).years
    2
    """

    risk_ratio_threshold: float = 3.0
    min_n: int = 30
    min_cell: int = 10
    years: int = 3
    reasonable_progress: float | None = None

    def __post_init__(self) -> None:
        if not self.risk_ratio_threshold > 0:
            raise ConfigError(f"Setting 'state.risk_ratio_threshold' is {self.risk_ratio_threshold}; "
                              "expected a positive number.")
        if self.min_n < 0 or self.min_cell < 0:
            raise ConfigError(f"Settings 'state.min_n' and 'state.min_cell' are {self.min_n} and "
                              f"{self.min_cell}; expected whole numbers of 0 or more.")
        if not 1 <= self.years <= 3:
            raise ConfigError(f"Setting 'state.years' is {self.years}; expected 1, 2 or 3.")
        if self.reasonable_progress is not None and not self.reasonable_progress >= 0:
            raise ConfigError(f"Setting 'state.reasonable_progress' is {self.reasonable_progress}; "
                              "expected null (no exemption) or a number of 0 or more.")

    @classmethod
    def from_mapping(cls, values, source: str = "the configuration") -> "StateSettings":
        """Build the ``state:`` block from a mapping, checking names and types."""
        if not isinstance(values, dict):
            raise ConfigError(f"In {source}, setting 'state' must hold 'key: value' lines "
                              f"({', '.join(STATE_SETTING_DOCS)}), not {values!r}.")
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise ConfigError(f"{source} has unknown state setting(s) {', '.join(map(repr, unknown))}; "
                              f"known state settings are: {', '.join(known)}.")
        typed = {name: value if value is None and name == "reasonable_progress"
                 else _coerce(f"state.{name}", value, str(known[name].type).split(" |")[0], source)
                 for name, value in values.items()}
        return cls(**typed)


@dataclass(frozen=True)
class Config:
    """Settings of one audit run (see :data:`SETTING_DOCS` for their meaning)."""

    district_name: str = ""
    min_n: int = 10
    min_n_override: bool = False
    invalid_rows: str = "error"
    score_min: float = 1.0
    score_max: float = 4.0
    proficient_score: float = 3.0
    severity_threshold: float = 0.5
    year_days: float = 365.25
    year_basis: str = "school"
    school_year_start: str = "08-15"
    school_year_end: str = "06-15"
    pace_method: str = "endpoint"
    min_span_days: int = 90
    pace_min_points: int = 3
    pace_min_span_years: float = 0.5
    pace_shrinkage: bool = False
    graduation_level: float = 13.0
    graduation_age: float = 18.0
    pace_threshold: float = 1.0
    levels_behind_threshold: float = 2.0
    risk_ratio_threshold: float = 3.0
    idea_min_cell: int = 10
    idea_min_n: int = 30
    idea_years: int = 3
    program_membership: str = "year"
    fdr: float = 0.05
    confidence: float = 0.95
    max_file_mb: float = 1024.0
    state: StateSettings = field(default_factory=StateSettings)

    def __post_init__(self) -> None:
        _choice("invalid_rows", self.invalid_rows, ("error", "exclude"))
        _choice("year_basis", self.year_basis, ("calendar", "school"))
        _choice("pace_method", self.pace_method, ("endpoint", "regression"))
        _choice("program_membership", self.program_membership, ("year", "ever"))
        for name in ("school_year_start", "school_year_end"):
            if not re.fullmatch(r"(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])", getattr(self, name)):
                raise ConfigError(f"Setting '{name}' is {getattr(self, name)!r}; expected MM-DD like 08-15.")
        if self.pace_min_points < 2:
            raise ConfigError(f"Setting 'pace_min_points' is {self.pace_min_points}; expected 2 or more.")
        if self.pace_method == "regression" and self.pace_min_points < 3:
            raise ConfigError(f"Setting 'pace_min_points' is {self.pace_min_points}; the regression "
                              "method needs 3 or more.")
        if not 0 <= self.pace_min_span_years <= 10:
            raise ConfigError(f"Setting 'pace_min_span_years' is {self.pace_min_span_years}; "
                              "expected a number of years from 0 to 10.")
        if self.min_span_days < 0:
            raise ConfigError(f"Setting 'min_span_days' is {self.min_span_days}; expected 0 or more.")
        if not 1 <= self.idea_years <= 3:
            raise ConfigError(f"Setting 'idea_years' is {self.idea_years}; expected 1, 2 or 3.")
        floor = MIN_N_FLOOR_OVERRIDDEN if self.min_n_override else MIN_N_FLOOR
        if self.min_n < floor:
            raise ConfigError(
                f"Setting 'min_n' is {self.min_n}; expected a whole number of {floor} or more. "
                + ("Groups this small identify students." if self.min_n_override else
                   f"A min_n below {MIN_N_FLOOR} needs 'min_n_override: true', which the report states."))
        if self.max_file_mb <= 0:
            raise ConfigError(f"Setting 'max_file_mb' is {self.max_file_mb}; expected a positive number.")
        if not self.score_min < self.proficient_score <= self.score_max:
            raise ConfigError(
                "Settings 'score_min', 'proficient_score' and 'score_max' must satisfy "
                f"score_min < proficient_score <= score_max; got {self.score_min}, "
                f"{self.proficient_score}, {self.score_max}."
            )
        if not 0 < self.severity_threshold <= self.score_max - self.score_min:
            raise ConfigError(f"Setting 'severity_threshold' is {self.severity_threshold}; expected rubric points "
                              f"above 0 and at most the rubric's range ({self.score_max - self.score_min:g}).")
        for name in ("fdr", "confidence"):
            if not 0 < getattr(self, name) < 1:
                raise ConfigError(f"Setting '{name}' is {getattr(self, name)}; expected a number between 0 and 1.")

    @classmethod
    def from_mapping(cls, values: dict | None, source: str = "the configuration") -> "Config":
        """Build settings from a mapping, checking names and types."""
        values = dict(values or {})
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise ConfigError(
                f"{source} has unknown setting(s) {', '.join(map(repr, unknown))}; "
                f"known settings are: {', '.join(known)}."
            )
        typed = {name: StateSettings.from_mapping(value, source) if name == "state"
                 else _coerce(name, value, known[name].type, source) for name, value in values.items()}
        return cls(**typed)

    def as_dict(self) -> dict:
        return asdict(self)

    @property
    def score_scale(self) -> tuple[float, float]:
        return (self.score_min, self.score_max)

    @property
    def load_options(self) -> dict:
        """The settings :func:`equity_audit.data.load.load_district` takes, as keywords."""
        return {"invalid_rows": self.invalid_rows, "score_scale": self.score_scale,
                "max_file_mb": self.max_file_mb}


def _choice(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ConfigError(f"Setting '{name}' is {value!r}; expected {' or '.join(map(repr, allowed))}.")


def _coerce(name, value, annotation, source):
    kind = {"str": str, "int": int, "float": float, "bool": bool}[str(annotation)]
    if kind in (str, bool) and isinstance(value, kind):
        return value
    if kind is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    if (kind is float and isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(value)):
        return float(value)
    expected = {str: "text", int: "a whole number", float: "a finite number",
                bool: "true or false"}[kind]
    raise ConfigError(f"In {source}, setting '{name}' is {value!r}; expected {expected}.")


class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML's safe loader, refusing a setting written twice (YAML would keep the last silently)."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"setting {key!r} is given more than once", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def load_config(path: str | Path | None) -> Config:
    """Read a YAML settings file; ``None`` or ``""`` gives the defaults.

    Examples
    --------
    >>> load_config(None).min_n
    10
    """
    if not path:
        return Config()
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"Configuration file {path} does not exist.")
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as err:
        raise ConfigError(f"Configuration file {path} is not UTF-8 text (byte {err.start} is "
                          f"{err.object[err.start:err.start + 1]!r}); save it as UTF-8.") from None
    try:
        values = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506  (a SafeLoader subclass)
    except yaml.YAMLError as err:
        raise ConfigError(f"Configuration file {path} is not valid YAML: {err}") from None
    if values is not None and not isinstance(values, dict):
        raise ConfigError(f"Configuration file {path} must hold 'setting: value' lines.")
    return Config.from_mapping(values, source=f"configuration file {path.name}")


#: Folder names that say nothing about the district: the name is taken from the folder above.
_GENERIC_FOLDERS = {"data", "input", "inputs", "export", "exports", "csv", "parquet", "tables", "district", "raw"}


def district_label(name: str, data_dir: str | Path | None = None) -> str:
    """The district's name for a cover or a title: the setting, else one made from the data folder's name.

    Examples
    --------
    >>> district_label("Riverside Unified", "/x/data")
    'Riverside Unified'
    >>> district_label("", "/audits/grand-bend/data")
    'Grand Bend district'
    >>> district_label("", None)
    'The district'
    """
    if name and name.strip():
        return name.strip()
    folder = Path(data_dir).resolve() if data_dir else None
    while folder is not None and folder.name.lower() in _GENERIC_FOLDERS and folder.parent != folder:
        folder = folder.parent
    words = re.sub(r"[_\-.]+", " ", folder.name).strip() if folder is not None else ""
    if not words:
        return "The district"
    words = " ".join(w if w.isupper() else w.capitalize() for w in words.split())
    return words if words.lower().endswith(("district", "schools", "isd", "usd")) else f"{words} district"
