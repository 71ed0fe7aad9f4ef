import pytest

from equity_audit.config import Config, load_config
from equity_audit.exceptions import ConfigError


def test_defaults_match_documented_values():
    config = Config()
    assert (config.min_n, config.invalid_rows, config.year_days) == (10, "error", 365.25)
    assert config.score_scale == (1.0, 4.0)


def test_yaml_file_overrides_defaults(tmp_path):
    path = tmp_path / "district.yaml"
    path.write_text("district_name: Riverside\nmin_n: 15\nyear_days: 180\n")
    config = load_config(path)
    assert (config.district_name, config.min_n, config.year_days) == ("Riverside", 15, 180.0)


def test_unknown_setting_is_named(tmp_path):
    path = tmp_path / "district.yaml"
    path.write_text("min_size: 15\n")
    with pytest.raises(ConfigError, match="unknown setting.*'min_size'"):
        load_config(path)


@pytest.mark.parametrize("values, message", [
    ({"min_n": "ten"}, "'min_n' is 'ten'; expected a whole number"),
    ({"min_n": 0}, "'min_n' is 0"),
    ({"invalid_rows": "skip"}, "expected 'error' or 'exclude'"),
    ({"proficient_score": 5.0}, "score_min < proficient_score <= score_max"),
    ({"fdr": 1.5}, "'fdr' is 1.5"),
    ({"school_year_start": "8-15"}, "expected MM-DD like 08-15"),
    ({"year_basis": "fiscal"}, "expected 'calendar' or 'school'"),
    ({"pace_method": "slope"}, "expected 'endpoint' or 'regression'"),
    ({"severity_threshold": 0}, "'severity_threshold' is 0.0; expected rubric points above 0"),
    ({"severity_threshold": 3.5}, r"at most the rubric's range \(3\)"),
])
def test_invalid_values_are_explained(values, message):
    with pytest.raises(ConfigError, match=message):
        Config.from_mapping(values)


def test_missing_and_malformed_files(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("min_n: [1, 2\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)
    listing = tmp_path / "list.yaml"
    listing.write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="setting: value"):
        load_config(listing)


def test_pace_defaults_are_school_year_with_minimum_evidence():
    config = Config()
    assert config.year_basis == "school"
    assert (config.pace_min_points, config.pace_min_span_years, config.pace_shrinkage) == (3, 0.5, False)


@pytest.mark.parametrize("values, message", [
    ({"pace_min_points": 1}, "'pace_min_points' is 1; expected 2 or more"),
    ({"pace_method": "regression", "pace_min_points": 2}, "regression method needs 3"),
    ({"pace_min_span_years": -0.5}, "'pace_min_span_years' is -0.5"),
    ({"pace_shrinkage": "yes"}, "expected true or false"),
])
def test_invalid_pace_evidence_settings_are_explained(values, message):
    with pytest.raises(ConfigError, match=message):
        Config.from_mapping(values)


def test_the_severity_threshold_setting_decides_who_is_called_harsh(tmp_path):
    import numpy as np
    import pandas as pd

    from equity_audit.reliability import scorer_severity

    # five scorers of 40 works; "h" scores one level lower on 18 of them: a lean of -0.45, far beyond chance
    levels = np.resize([1, 2, 3, 4], 40)
    rows = [(f"w{i}", s, int(level)) for i, level in enumerate(levels) for s in "abcd"]
    rows += [(f"w{i}", "h", int(level) - (i < 18 and level > 1)) for i, level in enumerate(levels)]
    calibration = pd.DataFrame(rows, columns=["work_id", "scorer_id", "score"])
    lean = (calibration[calibration["scorer_id"] == "h"]["score"].to_numpy() - levels).mean()
    path = tmp_path / "settings.yml"
    path.write_text("severity_threshold: 0.3\n")
    called = {}
    for config in (Config(), load_config(path)):
        table = scorer_severity(calibration, scale=config.score_scale, threshold=config.severity_threshold)
        called[config.severity_threshold] = table.loc[table["harsh"], "scorer_id"].tolist()
    assert -0.5 < lean < -0.3
    assert called == {0.5: [], 0.3: ["h"]}
