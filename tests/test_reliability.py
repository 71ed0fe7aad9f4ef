"""Tests for equity_audit.reliability against published worked examples.

Sources are cited test by test. Published values are checked at the precision
they were printed with; statsmodels cross-checks (on the subjects × categories
count table / contingency table it expects) are tight.
"""
from __future__ import annotations

import ast
import json
from fractions import Fraction as F
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
from scipy import stats
from statsmodels.stats.inter_rater import aggregate_raters, cohens_kappa as sm_cohens_kappa
from statsmodels.stats.inter_rater import fleiss_kappa as sm_fleiss_kappa
from statsmodels.stats.inter_rater import to_table

import equity_audit
from equity_audit import reliability
from equity_audit.reliability import (
    agreement,
    calibration_summary,
    cohen_kappa,
    fleiss_kappa,
    icc,
    krippendorff_alpha,
    krippendorff_reading,
    landis_koch_reading,
    scorer_severity,
    severity_by_subgroup,
)

REPO = Path(__file__).resolve().parents[1]
BUNDLED = REPO / "data" / "synthetic"
nan = np.nan

# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", section C:
# 4 observers × 12 units, values 1-5, missing data. Same matrix as the tests of
# fast-krippendorff (pln-fing-udelar/fast-krippendorff tests/test_krippendorff.py).
KRIPP_C = [
    [1, 2, 3, 3, 2, 1, 4, 1, 2, nan, nan, nan],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, nan, 3],
    [nan, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, nan],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, nan],
]

# Wikipedia, "Fleiss' kappa", worked example: 10 subjects, 14 raters, 5
# categories, counts n_ij (also statsmodels' test table); κ = 0.210.
WIKI_COUNTS = np.array([
    [0, 0, 0, 0, 14],
    [0, 2, 6, 4, 2],
    [0, 0, 3, 5, 6],
    [0, 3, 9, 2, 0],
    [2, 2, 8, 1, 1],
    [7, 7, 0, 0, 0],
    [3, 2, 6, 3, 0],
    [2, 5, 3, 2, 2],
    [6, 5, 2, 1, 0],
    [0, 2, 2, 3, 7],
])

# Fleiss (1971) psychiatric diagnoses: 30 subjects, 6 raters, 5 categories
# (R irr::diagnoses; statsmodels test_inter_rater.py); κ = 0.430.
DIAGNOSES = np.array([
    [4, 4, 4, 4, 4, 4], [2, 2, 2, 5, 5, 5], [2, 3, 3, 3, 3, 5], [5, 5, 5, 5, 5, 5],
    [2, 2, 2, 4, 4, 4], [1, 1, 3, 3, 3, 3], [3, 3, 3, 3, 5, 5], [1, 1, 3, 3, 3, 4],
    [1, 1, 4, 4, 4, 4], [5, 5, 5, 5, 5, 5], [1, 4, 4, 4, 4, 4], [1, 2, 4, 4, 4, 4],
    [2, 2, 2, 3, 3, 3], [1, 4, 4, 4, 4, 4], [2, 2, 4, 4, 4, 5], [3, 3, 3, 3, 3, 5],
    [1, 1, 1, 4, 5, 5], [1, 1, 1, 1, 1, 2], [2, 2, 4, 4, 4, 4], [1, 3, 3, 5, 5, 5],
    [5, 5, 5, 5, 5, 5], [2, 4, 4, 4, 4, 4], [2, 2, 4, 5, 5, 5], [1, 1, 4, 4, 4, 4],
    [1, 4, 4, 4, 4, 5], [2, 2, 2, 2, 2, 4], [1, 1, 1, 1, 5, 5], [2, 2, 4, 4, 4, 4],
    [1, 3, 3, 3, 3, 3], [5, 5, 5, 5, 5, 5],
])

# Shrout & Fleiss (1979), Table 2: 6 targets × 4 judges.
SHROUT_FLEISS = np.array([
    [9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8], [7, 1, 2, 6], [10, 5, 6, 9], [6, 2, 4, 7],
])


def _counts_to_raw(counts):
    """Subjects × categories counts → subjects × raters labels (1..K)."""
    return np.array([np.repeat(np.arange(1, counts.shape[1] + 1), row) for row in counts])


# --------------------------------------------------------------------------- module


def test_all_is_public_and_documented():
    for name in reliability.__all__:
        obj = getattr(reliability, name)
        assert obj.__doc__, name


def test_no_third_party_reliability_packages():
    """numpy/pandas (and scipy's distributions, as equity_audit.stats): no sklearn, pingouin,
    krippendorff or statsmodels."""
    tree = ast.parse(Path(reliability.__file__).read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module.split(".")[0])
    assert imported <= {"__future__", "typing", "numpy", "pandas", "scipy", "equity_audit"}


# --------------------------------------------------------------------------- Krippendorff


@pytest.mark.parametrize("level, published", [
    ("nominal", 0.743), ("ordinal", 0.815), ("interval", 0.849), ("ratio", 0.797),
])
def test_krippendorff_2011_example_c(level, published):
    """Krippendorff (2011) section C: α nominal .743, ordinal .815, interval .849, ratio .797."""
    assert round(krippendorff_alpha(KRIPP_C, level=level), 3) == published


def test_krippendorff_dataframe_and_none_and_values():
    df = pd.DataFrame(KRIPP_C).astype(object).where(pd.notna(pd.DataFrame(KRIPP_C)), None)
    assert krippendorff_alpha(df, level="ordinal") == pytest.approx(
        krippendorff_alpha(KRIPP_C, level="ordinal"), abs=1e-12)
    # unused levels have n_g = 0 and so cannot change the ordinal metric
    for level in ("nominal", "ordinal", "interval", "ratio"):
        assert krippendorff_alpha(KRIPP_C, level=level, values=range(0, 8)) == pytest.approx(
            krippendorff_alpha(KRIPP_C, level=level), abs=1e-12)
    with pytest.raises(ValueError, match="not among"):
        krippendorff_alpha(KRIPP_C, values=[1, 2, 3, 4])


def test_krippendorff_ordinal_string_labels_need_values_for_order():
    words = {1: "low", 2: "mid", 3: "high", 4: "top", 5: "max"}
    data = [[words.get(v) if v == v else None for v in row] for row in KRIPP_C]
    ordered = ["low", "mid", "high", "top", "max"]
    assert round(krippendorff_alpha(data, level="ordinal", values=ordered), 3) == 0.815
    assert round(krippendorff_alpha(data, level="nominal"), 3) == 0.743
    with pytest.raises(ValueError, match="numeric"):
        krippendorff_alpha(data, level="interval")


def test_krippendorff_small_cases():
    # fast-krippendorff issue #27: [[A, B], [B, A]] gives -0.5 by the formula
    assert krippendorff_alpha([["A", "B"], ["B", "A"]]) == pytest.approx(-0.5)
    # perfect agreement; single-rated units are ignored
    assert krippendorff_alpha([[1, 2, 3, nan], [1, 2, 3, 4]], level="interval") == 1.0
    assert np.isnan(krippendorff_alpha([[1, nan], [nan, 2]]))  # no pairable unit
    assert np.isnan(krippendorff_alpha([[2, 2], [2, 2]]))  # D_e = 0
    with pytest.raises(ValueError, match="level"):
        krippendorff_alpha(KRIPP_C, level="circular")


def test_krippendorff_hand_coincidences():
    """Two coders, interval, computed by hand from the coincidence matrix.

    Units (1,1), (1,2), (2,2): o_11 = 2, o_12 = o_21 = 1, o_22 = 2; n = 6,
    n_1 = n_2 = 3; D_o = 2/6; D_e = 2·3·3/(6·5) = 0.6; α = 1 − (1/3)/0.6 = 4/9.
    """
    assert krippendorff_alpha([[1, 1, 2], [1, 2, 2]], level="interval") == pytest.approx(4 / 9)
    assert krippendorff_alpha([[1, 1, 2], [1, 2, 2]], level="nominal") == pytest.approx(4 / 9)


# --------------------------------------------------------------------------- Fleiss


def test_fleiss_wikipedia_example():
    """Wikipedia "Fleiss' kappa" worked example: P̄ = 0.378, P_e = 0.213, κ = 0.210."""
    raw = _counts_to_raw(WIKI_COUNTS)
    assert raw.shape == (10, 14)
    assert round(fleiss_kappa(raw), 3) == 0.210
    assert fleiss_kappa(raw) == pytest.approx(sm_fleiss_kappa(WIKI_COUNTS), abs=1e-12)


def test_fleiss_1971_diagnoses():
    """Fleiss (1971): 30 patients, 6 psychiatrists, 5 diagnoses, κ = .430."""
    assert round(fleiss_kappa(DIAGNOSES), 3) == 0.430
    table, _ = aggregate_raters(DIAGNOSES)
    assert fleiss_kappa(pd.DataFrame(DIAGNOSES)) == pytest.approx(sm_fleiss_kappa(table), abs=1e-12)


def test_fleiss_missing_and_unequal():
    # the same number of ratings per subject, in different columns: allowed
    data = np.array([[1, 1, nan], [2, nan, 2], [nan, 1, 2]])
    assert fleiss_kappa(data) == pytest.approx(fleiss_kappa([[1, 1], [2, 2], [1, 2]]))
    with pytest.raises(ValueError, match="same number of ratings"):
        fleiss_kappa([[1, 1, 1], [2, 2, nan]])
    with pytest.raises(ValueError, match="at least 2"):
        fleiss_kappa([[1], [2]])
    assert np.isnan(fleiss_kappa([[3, 3], [3, 3]]))


# --------------------------------------------------------------------------- ICC


@pytest.mark.parametrize("form, sf_name, published", [
    ("1,1", "1,1", 0.17), ("A,1", "2,1", 0.29), ("C,1", "3,1", 0.71),
    ("1,k", "1,4", 0.44), ("A,k", "2,4", 0.62), ("C,k", "3,4", 0.91),
])
def test_icc_shrout_fleiss_1979_table2(form, sf_name, published):
    """Shrout & Fleiss (1979) Table 4 values for the Table 2 data."""
    assert round(icc(SHROUT_FLEISS, form=form), 2) == published
    assert icc(SHROUT_FLEISS, form=sf_name) == icc(SHROUT_FLEISS, form=form)
    assert icc(pd.DataFrame(SHROUT_FLEISS), form=f"ICC({sf_name})") == icc(SHROUT_FLEISS, form=form)


def test_icc_mean_squares_by_hand():
    """Shrout & Fleiss (1979) Table 3 ANOVA: BMS 11.24, WMS 6.26, JMS 32.49, EMS 1.02."""
    bms, wms, jms, ems = 11.24, 6.26, 32.49, 1.02  # published, 2 decimals
    n, k = 6, 4
    assert icc(SHROUT_FLEISS, form="1,1") == pytest.approx((bms - wms) / (bms + (k - 1) * wms), abs=2e-3)
    assert icc(SHROUT_FLEISS, form="A,1") == pytest.approx(
        (bms - ems) / (bms + (k - 1) * ems + k * (jms - ems) / n), abs=2e-3)


def test_icc_errors():
    with pytest.raises(ValueError, match="complete"):
        icc([[1, 2], [3, nan]])
    with pytest.raises(ValueError, match="form"):
        icc(SHROUT_FLEISS, form="4,1")
    with pytest.raises(ValueError, match="at least 2"):
        icc([[1, 2, 3]])


# --------------------------------------------------------------------------- Cohen


def test_cohen_wikipedia_hand_example():
    """Wikipedia "Cohen's kappa": 20 yes-yes, 5 yes-no, 10 no-yes, 15 no-no → κ = 0.4."""
    a = ["yes"] * 25 + ["no"] * 25
    b = ["yes"] * 20 + ["no"] * 5 + ["yes"] * 10 + ["no"] * 15
    assert cohen_kappa(a, b) == pytest.approx(0.4)


@pytest.mark.parametrize("weights, wt", [(None, None), ("linear", "linear"), ("quadratic", "quadratic")])
def test_cohen_against_statsmodels(weights, wt):
    rng = np.random.default_rng(11)
    a = rng.integers(1, 5, 300)
    b = np.clip(a + rng.integers(-1, 2, 300), 1, 4)
    table = to_table(np.column_stack([a, b]), bins=np.arange(0.5, 5))[0]
    expected = sm_cohens_kappa(table, wt=wt, return_results=False)
    assert cohen_kappa(a, b, weights=weights, labels=[1, 2, 3, 4]) == pytest.approx(expected, abs=1e-12)


def _qwk_by_hand(a, b, labels):
    """Quadratic-weighted kappa by the textbook double sum, in exact fractions."""
    pos = {v: i for i, v in enumerate(labels)}
    n = len(a)
    obs = sum(F((pos[x] - pos[y]) ** 2) for x, y in zip(a, b))
    exp = sum(F((pos[x] - pos[y]) ** 2) for x in a for y in b) / n
    return 1 - obs / exp


def test_unused_rubric_level_trap():
    """Two raters who never give a 3 on a 1-4 rubric (methods notes §4, sklearn trap).

    Full scale: Σ w O = 9, Σ w E = 176/8 = 22, κ = 1 − 9/22 = 13/22 ≈ 0.5909.
    Observed levels only (1, 2, 4 → positions 0, 1, 2): κ = 1 − 3/8.5 ≈ 0.6471.
    """
    a = [1, 2, 2, 4, 1, 2, 4, 4]
    b = [1, 2, 4, 4, 2, 2, 2, 4]
    full = cohen_kappa(a, b, weights="quadratic", labels=[1, 2, 3, 4])
    observed = cohen_kappa(a, b, weights="quadratic")
    assert full == pytest.approx(13 / 22, abs=1e-12)
    assert full == pytest.approx(float(_qwk_by_hand(a, b, [1, 2, 3, 4])), abs=1e-12)
    assert observed == pytest.approx(float(_qwk_by_hand(a, b, [1, 2, 4])), abs=1e-12)
    assert observed == pytest.approx(1 - 3 / 8.5, abs=1e-12)
    assert abs(full - observed) > 0.05
    # statsmodels on the full 4×4 table agrees with the full scale
    table = to_table(np.column_stack([a, b]), bins=np.arange(0.5, 5))[0]
    assert full == pytest.approx(sm_cohens_kappa(table, wt="quadratic", return_results=False))


def test_unused_end_level_levels_2_to_4():
    """Raters using only 2-4 on a 1-4 rubric: an unused *end* level shifts all
    positions equally, so QWK is the same with or without labels (the trap needs
    a gap in the middle); it still equals the hand value on the full scale."""
    a = [2, 3, 3, 4, 2, 3, 4, 4, 2, 3]
    b = [2, 3, 4, 4, 3, 3, 3, 4, 2, 2]
    full = cohen_kappa(a, b, weights="quadratic", labels=[1, 2, 3, 4])
    assert full == pytest.approx(float(_qwk_by_hand(a, b, [1, 2, 3, 4])), abs=1e-12)
    assert cohen_kappa(a, b, weights="quadratic") == pytest.approx(full, abs=1e-12)


def test_cohen_missing_and_errors():
    assert cohen_kappa([1, 2, None, 3], [1, 2, 3, nan]) == cohen_kappa([1, 2], [1, 2]) == 1.0
    assert np.isnan(cohen_kappa([3, 3], [3, 3]))
    assert np.isnan(cohen_kappa([None], [1]))
    with pytest.raises(ValueError, match="pair up"):
        cohen_kappa([1, 2], [1])
    with pytest.raises(ValueError, match="not among"):
        cohen_kappa([1, 5], [1, 2], labels=[1, 2, 3, 4])
    with pytest.raises(ValueError, match="weights"):
        cohen_kappa([1, 2], [1, 2], weights="cubic")


def test_agreement_rates():
    res = agreement([1, 2, 3, 4, 2, 1], [1, 3, 3, 2, None, 4])
    assert res == (0.4, 0.6, 5)
    assert res.exact == pytest.approx(0.4) and res.adjacent == pytest.approx(0.6) and res.n == 5
    assert np.isnan(agreement([None], [1]).exact)


def test_readings():
    assert krippendorff_reading([0.8, 0.7999, 0.667, 0.6669]).tolist() == [
        "rely on the data", "tentative conclusions only", "tentative conclusions only", "do not rely"]
    assert landis_koch_reading([0.0, 0.2, 0.21, 0.81, nan]).tolist() == [
        "slight", "slight", "fair", "almost perfect", ""]


# --------------------------------------------------------------------------- calibration tables


def _hand_table():
    """Three works × three scorers (S1), one work scored by two (S2); c is harsh."""
    return pd.DataFrame({
        "work_id": ["w1"] * 3 + ["w2"] * 3 + ["w3"] * 3 + ["w4"] * 2,
        "scorer_id": ["a", "b", "c"] * 3 + ["a", "b"],
        "score": [3, 3, 2, 2, 2, 1, 4, 4, 3, 3, 4],
        "standard_id": ["S1"] * 9 + ["S2"] * 2,
    })


def test_calibration_summary_hand_table():
    out = calibration_summary(_hand_table()).set_index("standard_id")
    assert list(out.index) == ["S1", "S2", "All"]
    s1 = out.loc["S1"]
    assert (s1.works, s1.scorers, s1.ratings, s1.pairs) == (3, 3, 9, 9)
    # pairs per work: a-b agree, a-c and b-c differ by 1
    assert s1.exact_agreement == pytest.approx(3 / 9)
    assert s1.adjacent_agreement == 1.0
    # Fleiss by hand: P_i = 1/3 each; p = (1, 3, 3, 2)/9 → P_e = 23/81; κ = (27/81 − 23/81)/(58/81)
    assert s1.fleiss_kappa == pytest.approx(4 / 58)
    assert s1.fleiss_note == ""
    assert s1.alpha_ordinal == pytest.approx(
        krippendorff_alpha([[3, 2, 4], [3, 2, 4], [2, 1, 3]], level="ordinal", values=[1, 2, 3, 4]))
    assert s1.reading == krippendorff_reading(s1.alpha_ordinal)[()]
    assert s1.kappa_reading == "slight"  # κ = 2/29 ≈ .069
    all_ = out.loc["All"]
    assert (all_.works, all_.scorers, all_.ratings, all_.pairs) == (4, 3, 11, 10)
    assert all_.exact_agreement == pytest.approx(3 / 10)
    assert all_.adjacent_agreement == 1.0
    assert np.isnan(all_.fleiss_kappa) and "same number" in all_.fleiss_note
    assert all_.alpha_interval == pytest.approx(
        krippendorff_alpha([[3, 2, 4, 3], [3, 2, 4, 4], [2, 1, 3, nan]], level="interval"))
    assert all_.reading == krippendorff_reading(all_.alpha_ordinal)[()]


def test_calibration_checks():
    bad = _hand_table()
    bad.loc[0, "score"] = 7
    with pytest.raises(ValueError, match="scale"):
        calibration_summary(bad)
    dup = pd.concat([_hand_table(), _hand_table().iloc[[0]]])
    with pytest.raises(ValueError, match="more than once"):
        scorer_severity(dup)
    # a 0-5 rubric is accepted when asked for
    assert len(calibration_summary(bad.assign(score=bad.score.clip(0, 5)), scale=(0, 7))) == 3


def test_scorer_severity_hand_table():
    out = scorer_severity(_hand_table()).set_index("scorer_id")
    # Leans of score = work + scorer by least squares, summing to 0. With p = 1/3 - lean_a and
    # q = lean_b - 1/3 (lean_c = -2/3 + p - q), the residual sum of squares is
    # 3[p² + q² + (p - q)²] + (1 - p - q)²/2 (w1-w3 centred, then w4); its zero gradient gives
    # 13p - 5q = 1 and 13q - 5p = 1: p = q = 1/8, so leans a 5/24, b 11/24, c -16/24.
    # c: on w1-w3 the others are a and b, so the correction cancels: 2 − 3, 1 − 2, 3 − 4 → −1 each
    assert out.loc["c", "works"] == 3
    assert out.loc["c", "mean_deviation"] == pytest.approx(-1.0)
    # a: w1-w3 3 − 2.5 as before; on w4 only b scored beside a: b's score less b's lean plus the mean
    # lean of a's others (b, c): 4 − 11/24 + (11/24 − 16/24)/2 = 3.4375, so 3 − 3.4375 = −7/16
    deviations_a = [0.5, 0.5, 0.5, -7 / 16]
    assert out.loc["a", "mean_deviation"] == pytest.approx(np.mean(deviations_a))
    assert out.loc["a", "works"] == 4
    # b on w4: 3 − 5/24 + (5/24 − 16/24)/2 = 2.5625, so 4 − 2.5625 = 1.4375 (against a and the harsh c)
    deviations_b = [0.5, 0.5, 0.5, 1.4375]
    assert out.loc["b", "mean_deviation"] == pytest.approx(np.mean(deviations_b))
    # the spread: each scorer's own sd, or the sd pooled over the scorers (sums of squares over
    # 11 ratings − 3 scorers) where that is larger, as for c, whose deviations are all −1
    pooled = np.sqrt((4 * np.var(deviations_a) + 4 * np.var(deviations_b)) / 8)
    assert out.loc["c", "sd"] == 0 and np.std(deviations_b, ddof=1) > pooled
    t975 = {2: 4.302652729911275, 3: 3.182446305284263}
    assert out.loc["c", "high"] == pytest.approx(-1 + t975[2] * pooled / np.sqrt(3))
    assert out.loc["c", "pvalue"] == pytest.approx(2 * stats.t.sf(1 / (pooled / np.sqrt(3)), 2))
    spread_a = max(np.std(deviations_a, ddof=1), pooled)
    assert out.loc["a", "low"] == pytest.approx(np.mean(deviations_a) - t975[3] * spread_a / 2)
    t_b = np.mean(deviations_b) / (np.std(deviations_b, ddof=1) / 2)
    assert out.loc["b", "pvalue"] == pytest.approx(2 * stats.t.sf(t_b, 3))
    # Benjamini-Hochberg over the three: c (p 0.051) and b (0.052) both at q = 3/2 of b's p: on three
    # works, one point below the others is not yet beyond chance
    assert out.loc["c", "qvalue"] == pytest.approx(1.5 * out.loc["b", "pvalue"])
    assert not (out.harsh | out.lenient).any()
    # QWK of c against the rounded consensus of a, b (2.5 → 3 half up, 1.5 → 2, 3.5 → 4)
    assert out.loc["c", "qwk"] == pytest.approx(cohen_kappa([2, 1, 3], [3, 2, 4], weights="quadratic",
                                                            labels=[1, 2, 3, 4]))


def test_scorer_severity_flags_harsh_and_lenient():
    rng = np.random.default_rng(3)
    works, scorers = 60, ["h", "l", "x", "y", "z"]
    truth = rng.uniform(1.8, 3.6, works)
    bias = np.array([-1.0, 0.9, 0, 0, 0])
    score = np.clip(np.round(truth[:, None] + bias + rng.normal(0, 0.3, (works, 5))), 1, 4)
    cal = pd.DataFrame({"work_id": np.repeat(np.arange(works), 5).astype(str),
                        "scorer_id": np.tile(scorers, works), "score": score.ravel()})
    out = scorer_severity(cal).set_index("scorer_id")
    assert out.index[out.harsh].tolist() == ["h"]
    assert out.index[out.lenient].tolist() == ["l"]
    # threshold is configurable
    assert not scorer_severity(cal, threshold=2.0)[["harsh", "lenient"]].to_numpy().any()


def _many_scorers(seed: int, harsh: float = -0.8, scorers: int = 40, works: int = 160, per_work: int = 4):
    """Works scored by ``per_work`` of ``scorers`` scorers; scorer s00 (lean ``harsh``) scores a quarter of
    them, the others lean by N(0, 0.15). Returns the calibration table and the true leans."""
    rng = np.random.default_rng(seed)
    lean = rng.normal(0, 0.15, scorers)
    lean[0] = harsh
    others = np.argsort(rng.random((works, scorers - 1)), axis=1)[:, :per_work] + 1
    with_harsh = np.arange(works) < works // 4
    picks = np.where(with_harsh[:, None], np.column_stack([np.zeros(works, int), others[:, 1:]]), others)
    score = np.clip(np.round(rng.uniform(1.5, 3.7, works)[:, None] + lean[picks]
                             + rng.normal(0, 0.5, picks.shape)), 1, 4)
    table = pd.DataFrame({"work_id": np.repeat(np.arange(works), per_work).astype(str),
                          "scorer_id": np.array([f"s{i:02d}" for i in range(scorers)])[picks.ravel()],
                          "score": score.ravel()})
    return table, pd.Series(lean, index=[f"s{i:02d}" for i in range(scorers)])


def test_scorer_leans_are_the_least_squares_scorer_effects():
    table, _ = _many_scorers(0)
    fit = smf.ols("score ~ C(work_id) + C(scorer_id, Sum)", data=table).fit()
    names = sorted(table["scorer_id"].unique())
    effects = [fit.params[f"C(scorer_id, Sum)[S.{name}]"] for name in names[:-1]]
    expected = pd.Series([*effects, -sum(effects)], index=names)
    lean, linked = reliability._scorer_leans(table)
    got = pd.Series(lean, index=table["scorer_id"]).groupby(level=0).first()
    assert np.allclose(got[names], expected[names], atol=1e-9)
    assert (linked == 40).all()


def test_two_sets_of_scorers_that_share_no_work_each_lean_around_their_own_mean():
    one, _ = _many_scorers(1, scorers=10, works=40)
    # a second panel that scores a point lower on other works: the data cannot compare the panels
    two = one.assign(work_id="x" + one["work_id"], scorer_id="t" + one["scorer_id"],
                     score=(one["score"] - 1).clip(1, 4))
    lean, linked = reliability._scorer_leans(pd.concat([one, two], ignore_index=True))
    assert (linked == 10).all()
    for panel, leans in ((one, lean[: len(one)]), (two, lean[len(one):])):
        per_scorer = pd.Series(leans, index=panel["scorer_id"]).groupby(level=0).first()
        alone = reliability._scorer_leans(panel)[0]
        assert per_scorer.sum() == pytest.approx(0, abs=1e-9)
        assert np.allclose(leans, alone, atol=1e-9)  # as if each panel were fitted alone


def test_scorers_beside_a_harsh_scorer_are_not_called_lenient():
    beside, found = 0, 0
    for seed in range(20):
        table, lean = _many_scorers(seed)
        out = scorer_severity(table).set_index("scorer_id")
        found += bool(out.loc["s00", "harsh"])
        # a flag on a scorer whose true lean is under half the threshold is false
        beside += int(((out["harsh"] | out["lenient"]) & (lean[out.index].abs() < 0.25)).sum())
    assert found == 20
    assert beside <= 2  # the plain leave-one-out consensus, each scorer judged alone: 13


def test_a_lean_that_rounding_reads_smaller_is_still_found():
    # a lean of 0.6 levels reads about 0.5 once scores are whole levels within 1-4; the mean alone,
    # against the half-level rule, found this scorer in 14 of these 20 districts
    found, false = 0, 0
    for seed in range(20):
        table, lean = _many_scorers(seed, harsh=-0.6)
        out = scorer_severity(table).set_index("scorer_id")
        found += bool(out.loc["s00", "harsh"])
        false += int(((out["harsh"] | out["lenient"]) & (lean[out.index].abs() < 0.25)).sum())
        assert (out.loc[out["harsh"], "mean_deviation"] < 0).all() and (out.loc[out["lenient"], "mean_deviation"] > 0).all()
    assert found == 20
    assert false <= 2


@pytest.fixture(scope="module")
def bundled():
    return equity_audit.load_district(BUNDLED)


def test_bundled_district_harsh_rater(bundled):
    planted = {p["name"]: p for p in json.loads((BUNDLED / "manifest.json").read_text())["planted"]}
    harsh_id = planted["harsh_rater"]["scorer_id"]
    out = scorer_severity(bundled.tables["calibration"])
    assert out.loc[out.harsh, "scorer_id"].tolist() == [harsh_id]
    assert not out.lenient.any()
    row = out.set_index("scorer_id").loc[harsh_id]
    assert row.mean_deviation == pytest.approx(-0.7, abs=0.2)
    assert row.works == 40
    assert row.qwk == out.qwk.min()
    summary = calibration_summary(bundled.tables["calibration"])
    overall = summary.set_index("standard_id").loc["All"]
    assert overall.works == 40 and overall.scorers == 12
    assert 0 < overall.exact_agreement < overall.adjacent_agreement <= 1
    assert np.isnan(overall.fleiss_kappa)  # 5 or 6 ratings per work


def test_null_district_flags_no_scorer(tmp_path):
    from equity_audit.data.synthetic import write_district

    write_district(tmp_path, students=2000, seed=5, null=True)
    district = equity_audit.load_district(tmp_path)
    out = scorer_severity(district.tables["calibration"])
    assert len(out) >= 5
    assert not out[["harsh", "lenient"]].to_numpy().any()


# --------------------------------------------------------------------------- subgroup severity


def _evidence(plant: float, seed: int) -> pd.DataFrame:
    """3000 students, each scored twice by each of two of 8 scorers; T3 scores EL students ``plant`` lower."""
    rng = np.random.default_rng(seed)
    students, scorers, standards = 3000, np.array([f"T{i}" for i in range(8)]), [f"S{i}" for i in range(12)]
    pair = np.argsort(rng.random((students, 8)), axis=1)[:, :2]  # two different scorers per student
    student = np.repeat(np.arange(students), 4)
    scorer = scorers[pair[student, np.tile([0, 0, 1, 1], students)]]
    standard = rng.choice(standards, student.size)
    el = rng.random(students) < 0.3
    ability = np.where(el, -0.4, 0.0) + rng.normal(0, 0.4, students)  # EL students not yet as far along
    difficulty = pd.Series(rng.normal(0, 0.4, len(standards)), index=standards)[standard].to_numpy()
    true = 2.7 + ability[student] + difficulty + rng.normal(0, 0.6, student.size)
    true += np.where((scorer == "T3") & el[student], plant, 0.0)
    return pd.DataFrame({"student_id": student, "scorer_id": scorer, "standard_id": standard,
                         "score": np.clip(np.round(true), 1, 4),
                         "english_learner": np.where(el[student], "Y", "N")})


def test_severity_by_subgroup_planted():
    out = severity_by_subgroup(_evidence(-0.8, seed=1), group_column="english_learner", focus="Y")
    row = out.set_index("scorer_id").loc["T3"]
    assert row.closer_look and out.iloc[0].scorer_id == "T3"
    assert (out.loc[out.closer_look & (out.scorer_id != "T3"), "difference"] > 0).all()  # lenient by contrast only
    assert row.difference == pytest.approx(-0.8, abs=0.3)
    assert row.low < row.difference < row.high < 0
    assert len(out) == 8 and (out.n_focus + out.n_other).sum() == 6000


def test_severity_by_subgroup_screens_only_scorers_with_min_n_focus_students():
    """A scorer with fewer focus students than min_n keeps their comparison but is neither in the
    false-discovery family nor marked; the others' q-values are BH over the screened scorers only."""
    from equity_audit.stats import bh_adjust

    evidence = _evidence(-0.8, seed=1)
    every = severity_by_subgroup(evidence, group_column="english_learner", focus="Y")
    cut = int(every["n_focus"].median()) + 1
    screened = severity_by_subgroup(evidence, group_column="english_learner", focus="Y", min_n=cut)
    few = screened["n_focus"] < cut
    assert few.any() and (~few).any()
    assert not screened.loc[few, "closer_look"].any() and screened.loc[few, "qvalue"].isna().all()
    kept = screened[~few]
    assert kept["qvalue"].to_numpy() == pytest.approx(bh_adjust(kept["pvalue"].to_numpy()))
    assert screened["pvalue"].sort_values().tolist() == pytest.approx(every["pvalue"].sort_values().tolist())


@pytest.mark.parametrize("seed", [2, 3, 4])
def test_severity_by_subgroup_null(seed):
    out = severity_by_subgroup(_evidence(0.0, seed=seed), group_column="english_learner", focus="Y")
    assert not out.closer_look.any()


def test_severity_by_subgroup_matches_two_way_least_squares_and_bh():
    """The gap is the score-level OLS of residual on student and scorer dummies, then a leave-one-out
    comparison with the same student's other scorers; the test is Student's pooled t; then BH."""
    from scipy import stats as sps
    from statsmodels.stats.multitest import multipletests

    ev = _evidence(-0.8, seed=1)
    ev = ev[ev.student_id < 300].copy()
    ev.loc[ev.index[:8], "english_learner"] = None  # dropped
    out = severity_by_subgroup(ev, group_column="english_learner", focus="Y").set_index("scorer_id")
    ev = ev.dropna()
    resid = ev.score - ev.groupby("standard_id").score.transform("mean")
    shared = ev.groupby("student_id").scorer_id.transform("nunique") > 1
    x = pd.get_dummies(ev[shared][["student_id", "scorer_id"]].astype(str), drop_first=True, dtype=float)
    x.insert(0, "const", 1.0)
    beta = np.linalg.lstsq(x.to_numpy(), resid[shared].to_numpy(), rcond=None)[0]
    effect = pd.Series(beta, index=x.columns)
    severity = ev.scorer_id.map(lambda t: effect.get(f"scorer_id_{t}", 0.0))
    cells = (ev.assign(adj=resid - severity)[shared]
             .groupby(["scorer_id", "student_id"]).agg(adj=("adj", "mean"), k=("adj", "size"),
                                                       el=("english_learner", "first")).reset_index())
    cells["w"] = cells.adj * cells.k
    total = cells.groupby("student_id")[["w", "k"]].transform("sum")
    cells["gap"] = cells.adj - (total.w - cells.w) / (total.k - cells.k)
    for t in ["T0", "T3"]:
        mine = cells[cells.scorer_id == t]
        res = sps.ttest_ind(mine.gap[mine.el == "Y"], mine.gap[mine.el == "N"], equal_var=True)
        assert out.loc[t, "pvalue"] == pytest.approx(res.pvalue, rel=1e-6)
        assert out.loc[t, "difference"] == pytest.approx(mine.gap[mine.el == "Y"].mean()
                                                         - mine.gap[mine.el == "N"].mean())
    q = multipletests(out.pvalue, method="fdr_bh")[1]
    assert np.allclose(out.qvalue, q)


def test_severity_by_subgroup_custom_scorer_column_and_missing_group():
    ev = _evidence(0.0, seed=7).rename(columns={"scorer_id": "teacher"})
    ev.loc[ev.teacher == "T0", "english_learner"] = "N"  # T0 has no focus students
    out = severity_by_subgroup(ev, scorer="teacher", group_column="english_learner", focus="Y")
    t0 = out.set_index("teacher").loc["T0"]
    assert t0.n_focus == 0 and np.isnan(t0.pvalue) and not t0.closer_look
    with pytest.raises(ValueError, match="lacks"):
        severity_by_subgroup(ev, group_column="english_learner", focus="Y")
