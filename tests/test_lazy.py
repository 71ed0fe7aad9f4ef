"""The lazy reductions (equity_audit.lazy) give the pandas path's numbers, on DuckDB and on Spark.

DuckDB and Spark add in another order than numpy, so sums match the pandas path to 1e-9. The
data's values are multiples of 1/4 (0/1 outcomes, scores in quarter steps): every partial sum is
exact in floating point, so DuckDB and Spark must agree to the last bit, and the Spark tests
compare exactly.
"""
from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest

from equity_audit import lazy, pace, scans
from equity_audit.config import StateSettings
from equity_audit.disaggregate import _aggregate, _grouping_frame, _metric_values, disaggregate
from equity_audit.disproportionality import ALTERNATE_RISK_RATIO, NOT_CALCULATED, outcome_table, risk_ratios
from equity_audit.questions import state as state_mode

# pyspark 4 warns about pandas 3 on every conversion; the results are checked here
pytestmark = pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas",
                                        "ignore:The copy keyword is deprecated")
N = 4000
GROUPS = ["race", "el", "swd", "low_income"]


@pytest.fixture(scope="module")
def students() -> pd.DataFrame:
    """Students with text, flag (nullable boolean) and Yes/No columns, blanks, and a planted gap."""
    rng = np.random.default_rng(16)
    race = np.array(["R1", "R2", "R3", "R4"], dtype=object)[rng.integers(0, 4, N)]
    race[rng.random(N) < 0.02] = None
    el = pd.array(rng.random(N) < 0.2, dtype="boolean")
    el[rng.random(N) < 0.01] = pd.NA
    low = np.where(rng.random(N) < 0.4, "Yes", "No")
    both = np.asarray(el.fillna(False)) & (low == "Yes")
    risk = 0.3 + 0.2 * (race == "R2") + 0.15 * both
    outcome = (rng.random(N) < risk).astype(float)
    outcome[rng.random(N) < 0.03] = np.nan
    return pd.DataFrame({
        "race": race, "el": el, "swd": pd.array(rng.random(N) < 0.15, dtype="boolean"), "low_income": low,
        "below_pace": outcome, "score": np.round((rng.normal(2.5, 0.7, N) - 0.4 * (race == "R2") - 0.3 * both) * 4) / 4,
        "school": rng.choice(np.array(["U1", "U2", "U3", "U4", "U5", "U6", None], dtype=object), N,
                             p=[0.3, 0.25, 0.2, 0.12, 0.115, 0.005, 0.01]),
    })


@pytest.fixture(scope="module")
def students_parquet(students, tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("lazy") / "students.parquet"
    students.to_parquet(path)
    return str(path)


@pytest.fixture(scope="module")
def levels() -> pd.DataFrame:
    """Dated levels of 300 students in two domains, a few rows without a date or level."""
    rng = np.random.default_rng(7)
    rows = 300 * 2 * 6
    frame = pd.DataFrame({
        "student_id": np.repeat([f"P{i:04d}" for i in range(300)], 12),
        "domain": np.tile(np.repeat(["d1", "d2"], 6), 300),
        "as_of": pd.Timestamp("2023-09-01") + pd.to_timedelta(rng.integers(0, 700, rows), unit="D"),
        "performance_level": np.round(rng.uniform(1, 6, rows) * 4) / 4,
    })
    frame = frame.sample(frac=0.7, random_state=1).reset_index(drop=True)  # 0 to 6 points a student
    frame.loc[::97, "performance_level"] = np.nan
    frame.loc[::89, "as_of"] = pd.NaT
    return frame


@pytest.fixture(scope="module")
def evidence() -> pd.DataFrame:
    """Scored evidence, several scores on one day for some standards."""
    rng = np.random.default_rng(9)
    rows = 5000
    return pd.DataFrame({
        "student_id": rng.choice([f"P{i:03d}" for i in range(120)], rows),
        "standard_id": rng.choice(["M.1", "M.2", "E.1", "E.2"], rows),
        "assessed_on": pd.Timestamp("2024-08-20") + pd.to_timedelta(rng.integers(0, 60, rows), unit="D"),
        "score": rng.integers(1, 5, rows).astype(float),
    })


@pytest.fixture(scope="module")
def facts() -> pd.DataFrame:
    """Student-years of five LEAs over three years: IDEA outcomes, a planted group, blanks and Unknowns."""
    rng = np.random.default_rng(300)
    rows = 9000
    race = np.array(["R1", "R2", "R3", "R4", "R5", "Unknown"], dtype=object)[
        rng.choice(6, rows, p=[0.4, 0.25, 0.2, 0.1, 0.03, 0.02])]
    race[rng.random(rows) < 0.01] = None
    lea = rng.choice(np.array(["L1", "L2", "L3", "L4", "L5"], dtype=object), rows, p=[0.35, 0.25, 0.2, 0.15, 0.05])
    race[(lea == "L4") & (rng.random(rows) < 0.9)] = "R1"  # L4's other groups are too few: alternate ratios
    planted = (race == "R2") & (lea == "L1")  # identified and suspended more often: flagged in L1
    disability = np.where(rng.random(rows) < 0.12 + 0.12 * planted, "Yes", "No").astype(object)
    disability[rng.random(rows) < 0.01] = None
    disability[rng.random(rows) < 0.005] = "Unknown"
    oss = (rng.random(rows) < 0.08 + 0.25 * planted + 0.2 * (lea == "L4")).astype(float)
    oss[rng.random(rows) < 0.02] = np.nan
    return pd.DataFrame({
        "lea": lea, "school_year": rng.choice([2024, 2025, 2026], rows), "race_ethnicity": race,
        "disability": disability, "any_oss": oss, "any_iss": (rng.random(rows) < 0.1).astype(int),
        "removals": rng.poisson(0.2 + 0.6 * planted, rows).astype("int64"),
    })


@pytest.fixture(scope="module")
def facts_parquet(facts, tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("lazy_idea") / "facts.parquet"
    facts.to_parquet(path)
    return str(path)


def _idea_by_lea(facts: pd.DataFrame, outcome: str, state: pd.DataFrame, **options) -> pd.DataFrame:
    """The pandas path: per LEA, outcome_table of its children with disabilities and known groups, risk_ratios."""
    known = facts[(facts["disability"] == "Yes") & facts["race_ethnicity"].notna()
                  & (facts["race_ethnicity"] != "Unknown")]
    parts = [risk_ratios(outcome_table(part, group="race_ethnicity", outcome=outcome), state, **options)
             .reset_index().assign(lea=lea) for lea, part in known.groupby("lea", sort=True)]
    stacked = pd.concat(parts, ignore_index=True)
    return stacked[["lea", *[c for c in stacked.columns if c != "lea"]]]


def _same_table(expected: pd.DataFrame, got: pd.DataFrame, exact: bool = False) -> None:
    assert list(got.columns) == list(expected.columns)
    assert len(got) == len(expected)
    for column in expected.columns:
        want, have = expected[column], got[column]
        if want.dtype.kind == "f" and not exact:
            np.testing.assert_allclose(have.to_numpy(float), want.to_numpy(float), rtol=1e-9, atol=1e-12,
                                       err_msg=column)
        else:
            assert have.astype(str).tolist() == want.astype(str).tolist(), column


# ---------------------------------------------------------------------------------------- DuckDB
@pytest.mark.parametrize("metric,by", [("below_pace", ["race"]), ("score", ["race", "el"]),
                                       ("below_pace", ["el", "swd", "low_income"])])
def test_cell_counts_are_the_engines_cells(students, students_parquet, metric, by):
    values = _metric_values(students[metric])
    statistic = "rate" if metric == "below_pace" else "mean"
    expected = _aggregate(_grouping_frame(students, by), values, by, statistic)
    got = lazy.cell_counts(students_parquet, by, metric)
    _same_table(expected, got)
    assert got["n"].sum() + got["n_missing"].sum() == N
    assert (got["n"] == 0).any() or len(by) == 1  # the flags' Unknown level is kept, empty


def test_cell_counts_of_a_pandas_frame_equal_those_of_its_parquet(students, students_parquet):
    by = ["race", "low_income"]
    got = lazy.cell_counts(students, by, "below_pace")  # NaN in a pandas frame is missing, as in Parquet
    _same_table(lazy.cell_counts(students_parquet, by, "below_pace"), got, exact=True)
    assert got["n_missing"].sum() == students["below_pace"].isna().sum() > 0
    assert lazy.cell_counts(students, by)["n"].sum() == N


@pytest.mark.parametrize("metric,by,options", [
    ("below_pace", ["race"], {}),
    ("score", ["race"], {"comparator": {"race": "R1"}}),
    ("below_pace", ["race", "el"], {"adjust_for": GROUPS}),
    ("score", ["el", "low_income"], {"adjust_for": GROUPS, "comparator": "all"}),
])
def test_disaggregate_on_duckdb_is_the_pandas_table(students, students_parquet, metric, by, options):
    expected = disaggregate(students, metric, by=by, **options)
    got = lazy.disaggregate(students_parquet, metric, by=by, **options)
    _same_table(expected, got)
    assert got["flagged"].any()  # the planted gaps are found on both paths, not two empty tables


def test_disaggregate_on_duckdb_refuses_medians_with_a_reason(students_parquet):
    with pytest.raises(lazy.LazyInputError, match="medians need every student"):
        lazy.disaggregate(students_parquet, "score", by="race", statistic="median")


def test_scan_rates_on_duckdb_is_the_pandas_scan(students, students_parquet):
    expected = scans.scan_rates(students, unit="school", outcome="below_pace", min_n=30)
    got = lazy.scan_rates(students_parquet, unit="school", outcome="below_pace", min_n=30)
    _same_table(expected, got)
    assert got.attrs["rows_without_unit"] == expected.attrs["rows_without_unit"] > 0
    assert got.attrs["target"] == pytest.approx(expected.attrs["target"], rel=1e-12)
    assert got.attrs["units_scanned"] == expected.attrs["units_scanned"] == 5
    assert got["suppressed"].sum() == 1 and got["closer_look"].tolist() == expected["closer_look"].tolist()


def test_unit_counts_refuse_an_outcome_that_is_not_zero_one(students_parquet):
    with pytest.raises(lazy.LazyInputError, match="only 0 and 1"):
        lazy.unit_counts(students_parquet, unit="school", outcome="score")


def test_pace_sums_give_the_regression_pace(levels, tmp_path):
    levels.to_parquet(tmp_path / "levels.parquet")
    sums = lazy.pace_from_sums(lazy.pace_sums(tmp_path / "levels.parquet"))
    expected = pace.pace(levels, method="regression", year_basis="calendar", min_span_days=0)
    assert sums[["student_id", "domain"]].values.tolist() == expected[["student_id", "domain"]].values.tolist()
    assert sums["n_points"].tolist() == expected["n_points"].tolist()
    assert sums["span_days"].tolist() == expected["span_days"].tolist()
    known = expected["pace"].notna().to_numpy()
    assert known.sum() > 100
    np.testing.assert_allclose(sums["slope"].to_numpy()[known], expected["pace"].to_numpy()[known], atol=1e-8)


def test_evidence_rollup_is_the_latest_days_mean_and_the_count(evidence, tmp_path):
    evidence.to_parquet(tmp_path / "evidence.parquet")
    got = lazy.evidence_rollup(tmp_path / "evidence.parquet")
    keys = ["student_id", "standard_id"]
    latest = evidence.groupby(keys)["assessed_on"].transform("max")
    expected = evidence[evidence["assessed_on"] == latest].groupby(keys).agg(
        latest_on=("assessed_on", "max"), latest_score=("score", "mean")).reset_index()
    expected.insert(2, "n_evidence", evidence.groupby(keys).size().to_numpy())
    assert got[keys].values.tolist() == expected[keys].values.tolist()
    assert got["n_evidence"].tolist() == expected["n_evidence"].tolist()
    assert (got["latest_on"].to_numpy("datetime64[D]") == expected["latest_on"].to_numpy("datetime64[D]")).all()
    np.testing.assert_allclose(got["latest_score"], expected["latest_score"], rtol=1e-12)
    assert (expected["latest_score"] % 1 != 0).any()  # some standards were scored twice on their last day


@pytest.mark.parametrize("group,focus,outcome,options", [
    ("race", "R2", "below_pace", {}),
    ("race", "R2", "below_pace", {"compare": "within", "side": "above"}),
    ("el", True, "score", {"min_n": 20}),
    ("low_income", "Yes", "score", {"compare": "within"}),
])
def test_scan_gaps_on_duckdb_is_the_pandas_scan(students, students_parquet, group, focus, outcome, options):
    expected = scans.scan_gaps(students, unit="school", group=group, focus=focus, outcome=outcome, **options)
    got = lazy.scan_gaps(students_parquet, unit="school", group=group, focus=focus, outcome=outcome, **options)
    _same_table(expected, got)
    assert got.attrs == expected.attrs
    assert got["suppressed"].any() and not got["suppressed"].all()
    assert got["closer_look"].tolist() == expected["closer_look"].tolist()


def test_scan_gaps_on_duckdb_finds_the_planted_gap(students_parquet):
    got = lazy.scan_gaps(students_parquet, unit="school", group="race", focus="R2", outcome="below_pace",
                         compare="within")
    assert (got.loc[~got["suppressed"], "difference"] > 0).all()  # R2's planted higher risk, in every school
    assert got["closer_look"].any()


def test_scan_rates_on_duckdb_refuse_what_needs_the_students(students_parquet):
    for option in ({"within": "race"}, {"cluster": "race"}):
        with pytest.raises(lazy.LazyInputError, match=f"no {next(iter(option))} option"):
            lazy.scan_rates(students_parquet, unit="school", outcome="below_pace", **option)


def test_scan_gaps_on_duckdb_refuse_what_needs_the_students(students_parquet):
    with pytest.raises(lazy.LazyInputError, match="cluster"):
        lazy.scan_gaps(students_parquet, unit="school", group="race", focus="R2", outcome="below_pace",
                       cluster="race")
    with pytest.raises(lazy.LazyInputError, match="equals the focus"):
        lazy.scan_gaps(students_parquet, unit="school", group="race", focus="R9", outcome="below_pace")
    with pytest.raises(lazy.LazyInputError, match="0 and 1"):
        lazy.scan_gaps(students_parquet, unit="school", group="race", focus="R2", outcome="score", statistic="rate")


def test_outcome_counts_are_the_pandas_outcome_table(facts, facts_parquet):
    got = lazy.outcome_counts(facts_parquet, group="race_ethnicity", outcome="removals", by="lea",
                              population="disability")
    known = facts[(facts["disability"] == "Yes") & (facts["race_ethnicity"].fillna("Unknown") != "Unknown")]
    expected = pd.concat([outcome_table(part, group="race_ethnicity", outcome="removals").assign(lea=lea)
                          for lea, part in known.groupby("lea", sort=True)], ignore_index=True)
    _same_table(expected[["lea", "group", "outcome", "base"]], got, exact=True)
    assert got["outcome"].dtype == "int64" and got["base"].sum() == len(known)


@pytest.mark.parametrize("outcome,options", [("any_oss", {"threshold": 2.0}),
                                             ("removals", {"threshold": 1.5, "min_cell": 5, "min_n": 20})])
def test_risk_ratios_per_lea_on_duckdb_are_the_pandas_tables(facts, facts_parquet, outcome, options):
    state = outcome_table(facts[facts["race_ethnicity"].fillna("Unknown") != "Unknown"], group="race_ethnicity",
                          outcome=outcome)
    expected = _idea_by_lea(facts, outcome, state, **options)
    got = lazy.risk_ratios(facts_parquet, group="race_ethnicity", outcome=outcome, by="lea",
                           population="disability", state=state, **options)
    _same_table(expected, got)
    assert got.loc[(got["lea"] == "L1") & (got["group"] == "R2"), "flagged"].item()  # the planted group
    assert {ALTERNATE_RISK_RATIO, NOT_CALCULATED} <= set(got["method"])  # small LEAs use the state or nothing


def test_risk_ratios_without_cells_are_one_table(facts, facts_parquet):
    rows = facts[facts["race_ethnicity"].fillna("Unknown") != "Unknown"]
    expected = risk_ratios(outcome_table(rows, group="race_ethnicity", outcome="any_iss"), threshold=1.2)
    got = lazy.risk_ratios(facts_parquet, group="race_ethnicity", outcome="any_iss", threshold=1.2)
    _same_table(expected.reset_index(), got)


def test_risk_ratios_say_when_no_child_is_counted(facts_parquet):
    with pytest.raises(lazy.LazyInputError, match="No child has both"):
        lazy.risk_ratios(facts_parquet, group="race_ethnicity", outcome="any_oss", population="race_ethnicity")


def test_idea_counts_and_determinations_on_duckdb_are_state_modes(facts, facts_parquet):
    expected = state_mode.idea_counts(facts)
    got = lazy.idea_counts(facts_parquet, state_mode.CATEGORIES)
    _same_table(expected, got, exact=True)
    assert set(got["category"]) == set(state_mode.CATEGORIES)
    settings = StateSettings(years=2, risk_ratio_threshold=2.0)
    on_duckdb = state_mode.determinations(got, settings)
    for want, have in zip(state_mode.determinations(expected, settings), on_duckdb):
        _same_table(want, have)
    decided = on_duckdb[1]
    assert decided.loc[(decided["lea"] == "L1") & (decided["group"] == "R2"),
                       "significant_disproportionality"].any()


# ----------------------------------------------------------------------------------------- Spark
@pytest.fixture(scope="module")
def spark():
    """A local two-core Spark session, stopped at the end of the module."""
    pytest.importorskip("pyspark", reason="pyspark is not installed (the test and spark extras install it)")
    if shutil.which("java") is None:
        pytest.skip("Spark needs Java 17 and there is no `java` on PATH")
    from pyspark.sql import SparkSession

    session = (SparkSession.builder.master("local[2]").appName("equity-audit-tests")
               .config("spark.sql.shuffle.partitions", "2").config("spark.ui.enabled", "false")
               .config("spark.sql.session.timeZone", "UTC").getOrCreate())
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


def _by(table: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    return table.sort_values(keys, kind="mergesort").reset_index(drop=True)


def test_disaggregate_on_spark_equals_duckdb_exactly(spark, students_parquet):
    frame = spark.read.parquet(students_parquet)
    for metric, by in (("below_pace", ["race", "el"]), ("score", ["race"])):
        on_duckdb = lazy.disaggregate(students_parquet, metric, by=by, adjust_for=GROUPS)
        on_spark = lazy.disaggregate(frame, metric, by=by, adjust_for=GROUPS)
        pd.testing.assert_frame_equal(_by(on_spark, by), _by(on_duckdb, by), check_exact=True)
        assert on_spark["n"].sum() > 0


def test_scan_on_spark_equals_duckdb_exactly(spark, students_parquet):
    on_duckdb = lazy.scan_rates(students_parquet, unit="school", outcome="below_pace", min_n=30)
    on_spark = lazy.scan_rates(spark.read.parquet(students_parquet), unit="school", outcome="below_pace", min_n=30)
    pd.testing.assert_frame_equal(_by(on_spark, ["school"]), _by(on_duckdb, ["school"]), check_exact=True)
    assert on_spark.attrs == on_duckdb.attrs


def test_evidence_rollup_on_spark_equals_duckdb_exactly(spark, evidence, tmp_path):
    evidence.to_parquet(tmp_path / "evidence.parquet")
    on_duckdb = lazy.evidence_rollup(tmp_path / "evidence.parquet")
    on_spark = lazy.evidence_rollup(spark.read.parquet(str(tmp_path / "evidence.parquet")))
    pd.testing.assert_frame_equal(on_spark, on_duckdb, check_exact=True)


def test_pace_sums_on_spark_equal_duckdb_exactly(spark, levels, tmp_path):
    levels.to_parquet(tmp_path / "levels.parquet")
    on_duckdb = lazy.pace_sums(tmp_path / "levels.parquet")
    on_spark = lazy.pace_sums(spark.read.parquet(str(tmp_path / "levels.parquet")))
    pd.testing.assert_frame_equal(on_spark, on_duckdb, check_exact=True)
    assert (on_spark["n_points"] >= 3).sum() > 100


def test_scan_gaps_on_spark_equal_duckdb_exactly(spark, students_parquet):
    frame = spark.read.parquet(students_parquet)
    for group, focus, outcome in (("race", "R2", "below_pace"), ("el", True, "score")):
        options = {"unit": "school", "group": group, "focus": focus, "outcome": outcome}
        on_duckdb, on_spark = lazy.scan_gaps(students_parquet, **options), lazy.scan_gaps(frame, **options)
        pd.testing.assert_frame_equal(on_spark, on_duckdb, check_exact=True)
        assert on_spark.attrs == on_duckdb.attrs and (~on_spark["suppressed"]).sum() >= 4


def test_idea_tables_on_spark_equal_duckdb_exactly(spark, facts_parquet):
    frame = spark.read.parquet(facts_parquet)
    pd.testing.assert_frame_equal(lazy.idea_counts(frame, state_mode.CATEGORIES),
                                  lazy.idea_counts(facts_parquet, state_mode.CATEGORIES), check_exact=True)
    options = {"group": "race_ethnicity", "outcome": "any_oss", "by": ["lea", "school_year"],
               "population": "disability", "threshold": 2.0}
    on_spark = lazy.risk_ratios(frame, **options)
    pd.testing.assert_frame_equal(on_spark, lazy.risk_ratios(facts_parquet, **options), check_exact=True)
    assert on_spark["flagged"].any()
