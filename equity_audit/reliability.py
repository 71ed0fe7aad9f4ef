"""Inter-rater reliability and calibration of rubric scoring.

Two layers, as in :mod:`equity_audit.stats`:

* coefficients -- numbers in, numbers out, vectorised with numpy:
  :func:`cohen_kappa` (unweighted, linear, quadratic), :func:`fleiss_kappa`,
  :func:`krippendorff_alpha` (nominal, ordinal, interval, ratio; missing
  ratings allowed), :func:`icc` (the six Shrout & Fleiss / McGraw & Wong
  forms) and :func:`agreement` (exact and adjacent agreement);
* calibration tables -- the contract's ``calibration`` table (``work_id``,
  ``scorer_id``, ``score``, ``standard_id``) in, one tidy table out:
  :func:`calibration_summary`, :func:`scorer_severity`, and
  :func:`severity_by_subgroup` for the ``evidence`` table.

Formulas, thresholds and library traps are those of section 4 of the project's
methods notes (Cohen 1960, 1968; Fleiss 1971; Krippendorff 2011; Shrout & Fleiss
1979; McGraw & Wong 1996; Landis & Koch 1977). No dependency on sklearn,
pingouin or the ``krippendorff`` package.

The unused-rubric-level trap
----------------------------
Weighted kappa weights depend on the *positions* of the categories. When the
categories are taken from the observed ratings (sklearn's and R ``irr``'s
default) and a rubric level *between* used levels is used by nobody (say
nobody gives a 3 on a 1-4 rubric), the 2-to-4 distance shrinks from 2 to 1 and
the linear and quadratic kappas silently change. (An unused level at an end of
the scale -- raters using only 2-4 -- shifts every position by the same amount
and leaves kappa unchanged.) Always pass the rubric's full scale
(``labels=[1, 2, 3, 4]``); the calibration functions here do so from their
``scale`` argument.

Examples
--------
>>> from equity_audit.reliability import cohen_kappa, krippendorff_alpha
>>> a = [1, 2, 2, 4, 1, 2, 4, 4]
>>> b = [1, 2, 4, 4, 2, 2, 2, 4]
>>> round(cohen_kappa(a, b, weights="quadratic", labels=[1, 2, 3, 4]), 4)  # 13/22
0.5909
>>> round(cohen_kappa(a, b, weights="quadratic"), 4)  # levels 1, 2, 4 only: wrong
0.6471
>>> round(krippendorff_alpha([a, b], level="ordinal", values=[1, 2, 3, 4]), 4)
0.649
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd
from scipy import sparse
from scipy import stats as sps
from scipy.sparse.csgraph import connected_components

from equity_audit.stats import bh_adjust, mean_interval

__all__ = [
    "cohen_kappa",
    "fleiss_kappa",
    "krippendorff_alpha",
    "icc",
    "agreement",
    "calibration_summary",
    "scorer_severity",
    "severity_by_subgroup",
    "krippendorff_reading",
    "landis_koch_reading",
    "Agreement",
    "ICC_FORMS",
]

#: The six ICC forms, McGraw & Wong names (Shrout & Fleiss names in comments).
ICC_FORMS = ("1,1", "A,1", "C,1", "1,k", "A,k", "C,k")
# ICC(1,1), ICC(2,1), ICC(3,1), ICC(1,k), ICC(2,k), ICC(3,k)

_LEVELS = ("nominal", "ordinal", "interval", "ratio")


class Agreement(NamedTuple):
    """Share of pairs rated identically (``exact``) or at most one level apart (``adjacent``)."""

    exact: float
    adjacent: float
    n: int


# --------------------------------------------------------------------------- helpers


def _missing(values) -> np.ndarray:
    return np.asarray(pd.isna(np.asarray(values, dtype=object)), dtype=bool)


def _codes(values, domain) -> np.ndarray:
    """Position of each value in ``domain``; ValueError for values outside it."""
    index = pd.Index(domain)
    codes = index.get_indexer(pd.Index(np.asarray(values, dtype=object).tolist()))
    if np.any(codes < 0):
        bad = sorted({str(v) for v, c in zip(np.asarray(values, dtype=object), codes) if c < 0})[:5]
        raise ValueError(f"ratings not among the labels {list(domain)}: {bad}")
    return codes


def _domain(observed, labels):
    """The category domain: ``labels`` as given, else the sorted observed values."""
    if labels is not None:
        domain = list(labels)
        if len(set(domain)) != len(domain):
            raise ValueError("labels must not repeat")
        return domain
    return sorted(set(np.asarray(observed, dtype=object).tolist()))


def _disagreement_weights(k: int, weights) -> np.ndarray:
    i, j = np.indices((k, k))
    if weights is None:
        return (i != j).astype(float)
    if weights == "linear":
        return np.abs(i - j).astype(float)
    if weights == "quadratic":
        return ((i - j) ** 2).astype(float)
    raise ValueError(f"weights must be None, 'linear' or 'quadratic', got {weights!r}")


def _kappa_from_tables(tables, w) -> np.ndarray:
    """Weighted kappa ``1 − Σ w O / Σ w E`` for a stack of K×K count tables (last two axes)."""
    tables = np.asarray(tables, dtype=float)
    n = tables.sum(axis=(-2, -1))
    rows = tables.sum(axis=-1)
    cols = tables.sum(axis=-2)
    with np.errstate(divide="ignore", invalid="ignore"):
        expected = rows[..., :, None] * cols[..., None, :] / n[..., None, None]
        observed = (w * tables).sum(axis=(-2, -1))
        chance = (w * expected).sum(axis=(-2, -1))
        kappa = 1 - observed / chance
    return np.where((n > 0) & (chance > 0), kappa, np.nan)


def _half_up(x) -> np.ndarray:
    """Round halves up (2.5 → 3), unlike numpy's round-half-to-even."""
    return np.floor(np.asarray(x, dtype=float) + 0.5)


def krippendorff_reading(alpha) -> np.ndarray:
    """Krippendorff's (2004) reading of α in words.

    ``"rely on the data"`` for α ≥ .800, ``"tentative conclusions only"`` for
    .667 ≤ α < .800, ``"do not rely"`` below .667 and ``""`` for NaN.

    Examples
    --------
    >>> krippendorff_reading([0.85, 0.7, 0.2, float("nan")]).tolist()
    ['rely on the data', 'tentative conclusions only', 'do not rely', '']
    """
    a = np.asarray(alpha, dtype=float)
    out = np.select([a >= 0.800, a >= 0.667, a < 0.667],
                    ["rely on the data", "tentative conclusions only", "do not rely"], "")
    return out.astype(object)


def landis_koch_reading(kappa) -> np.ndarray:
    """Landis & Koch (1977) reading of κ in words.

    <0 poor, .00–.20 slight, .21–.40 fair, .41–.60 moderate,
    .61–.80 substantial, .81–1 almost perfect; ``""`` for NaN.

    Examples
    --------
    >>> landis_koch_reading([-0.1, 0.1, 0.3, 0.5, 0.7, 0.9]).tolist()
    ['poor', 'slight', 'fair', 'moderate', 'substantial', 'almost perfect']
    """
    k = np.asarray(kappa, dtype=float)
    out = np.select(
        [k < 0, k <= 0.20, k <= 0.40, k <= 0.60, k <= 0.80, k <= 1.0],
        ["poor", "slight", "fair", "moderate", "substantial", "almost perfect"], "")
    return out.astype(object)


# --------------------------------------------------------------------------- coefficients


def cohen_kappa(rater_a, rater_b, *, weights=None, labels=None) -> float:
    """Cohen's kappa for two raters, unweighted or weighted (Cohen 1960, 1968).

    ``κ_w = 1 − Σ w_ij O_ij / Σ w_ij E_ij`` with ``E_ij = row_i · col_j / N`` and
    disagreement weights ``w_ij = [i ≠ j]`` (unweighted), ``|i − j|``
    (linear) or ``(i − j)²`` (quadratic: QWK), where ``i``, ``j`` are the
    **positions** of the categories in ``labels``.

    Parameters
    ----------
    rater_a, rater_b : array_like
        Ratings of the same items by two raters, in the same order. Pairs in
        which either rating is missing (None/NaN) are dropped.
    weights : {None, "linear", "quadratic"}, default None
    labels : sequence, optional
        The rubric's full scale in order, e.g. ``[1, 2, 3, 4]``. **Pass it.**
        When omitted the sorted union of the observed ratings is used, and a
        rubric level that neither rater used silently changes the linear and
        quadratic weights (the trap of ``sklearn.metrics.cohen_kappa_score``
        and R ``irr::kappa2``). The unweighted κ does not depend on unused
        levels.

    Returns
    -------
    float
        NaN when no pair is left or when chance disagreement is zero (both
        raters constant on the same level).

    Raises
    ------
    ValueError
        If the two raters have different lengths, a rating is not among
        ``labels``, or ``weights`` is unknown.

    Examples
    --------
    Wikipedia's "Cohen's kappa" example (20 yes-yes, 5 yes-no, 10 no-yes, 15
    no-no): p_o = 0.7, p_e = 0.5, κ = 0.4.

    >>> a = ["yes"] * 25 + ["no"] * 25
    >>> b = ["yes"] * 20 + ["no"] * 5 + ["yes"] * 10 + ["no"] * 15
    >>> round(cohen_kappa(a, b), 4)
    0.4
    >>> round(cohen_kappa([1, 2, 3, 4, None], [1, 2, 4, 4, 2], weights="linear",
    ...                   labels=[1, 2, 3, 4]), 4)  # 1 − 1/5.5
    0.8182
    """
    a = np.asarray(rater_a, dtype=object).ravel()
    b = np.asarray(rater_b, dtype=object).ravel()
    if a.shape != b.shape:
        raise ValueError(f"the raters have {a.size} and {b.size} ratings; they must pair up")
    keep = ~(_missing(a) | _missing(b))
    a, b = a[keep], b[keep]
    domain = _domain(np.concatenate([a, b]), labels)
    k = len(domain)
    w = _disagreement_weights(k, weights)
    if a.size == 0:
        return float("nan")
    ia, ib = _codes(a, domain), _codes(b, domain)
    table = np.bincount(ia * k + ib, minlength=k * k).reshape(k, k)
    return float(_kappa_from_tables(table, w))


def fleiss_kappa(ratings) -> float:
    """Fleiss' (1971) kappa for many raters assigning nominal categories.

    With ``n_ij`` the number of the ``m`` ratings of subject ``i`` in category
    ``j``: ``P_i = (Σ_j n_ij² − m)/(m(m − 1))``, ``p_j = Σ_i n_ij/(N m)``,
    ``κ = (P̄ − P_e)/(1 − P_e)`` with ``P_e = Σ_j p_j²``.

    Parameters
    ----------
    ratings : DataFrame or 2-D array_like
        **Raw ratings**: subjects as rows, raters as columns, category labels
        as values (not the subjects × categories count table that
        ``statsmodels.stats.inter_rater.fleiss_kappa`` expects). Missing cells
        (None/NaN) are allowed only if every subject still has the same
        number ``m ≥ 2`` of ratings -- Fleiss' κ requires it; use
        :func:`krippendorff_alpha` otherwise.

    Returns
    -------
    float
        NaN when chance agreement is 1 (every rating in one category).

    Raises
    ------
    ValueError
        If subjects have different numbers of ratings, or fewer than 2.

    References
    ----------
    Fleiss JL (1971). Measuring nominal scale agreement among many raters.
    *Psychological Bulletin* 76(5):378-382.

    Examples
    --------
    >>> round(fleiss_kappa([[1, 1, 2], [2, 2, 2], [1, 3, 3], [3, 3, 3]]), 4)  # 23/47
    0.4894
    """
    values = np.asarray(ratings, dtype=object)
    if values.ndim != 2:
        raise ValueError("ratings must be 2-D: subjects as rows, raters as columns")
    present = ~_missing(values)
    per_subject = present.sum(axis=1)
    if per_subject.size == 0:
        return float("nan")
    if np.any(per_subject != per_subject[0]):
        raise ValueError(
            "Fleiss' kappa needs the same number of ratings for every subject; got "
            f"{per_subject.min()} to {per_subject.max()}. Drop the extra ratings or use "
            "krippendorff_alpha, which allows missing ratings.")
    m = int(per_subject[0])
    if m < 2:
        raise ValueError("Fleiss' kappa needs at least 2 ratings per subject")
    domain = _domain(values[present], None)
    k = len(domain)
    subject = np.nonzero(present)[0]
    codes = _codes(values[present], domain)
    n_ij = np.bincount(subject * k + codes, minlength=values.shape[0] * k).reshape(-1, k)
    n_subjects = n_ij.shape[0]
    p_i = ((n_ij**2).sum(axis=1) - m) / (m * (m - 1))
    p_j = n_ij.sum(axis=0) / (n_subjects * m)
    p_bar, p_e = p_i.mean(), (p_j**2).sum()
    if p_e >= 1:
        return float("nan")
    return float((p_bar - p_e) / (1 - p_e))


def krippendorff_alpha(ratings, *, level="nominal", values=None) -> float:
    """Krippendorff's alpha for any number of raters, with missing ratings.

    ``α = 1 − D_o/D_e`` from the coincidence matrix
    ``o_ck = Σ_u (number of c–k pairs in unit u)/(m_u − 1)`` over units with at
    least 2 ratings; ``n_c = Σ_k o_ck``, ``n = Σ_c n_c``,
    ``D_o = Σ o_ck δ²_ck / n`` and ``D_e = Σ n_c n_k δ²_ck / (n(n − 1))``
    (Krippendorff 2011).

    Metrics δ²_ck: nominal ``[c ≠ k]``; ordinal
    ``(Σ_{g=c..k} n_g − (n_c + n_k)/2)²``; interval ``(c − k)²``; ratio
    ``((c − k)/(c + k))²``.

    Parameters
    ----------
    ratings : DataFrame or 2-D array_like
        **Raters as rows, units as columns** (the transpose of
        :func:`fleiss_kappa`'s layout); None/NaN for a missing rating. Units
        with fewer than 2 ratings are ignored (they are unpairable).
    level : {"nominal", "ordinal", "interval", "ratio"}, default "nominal"
    values : sequence, optional
        The full scale in order (e.g. the rubric ``[1, 2, 3, 4]``). It fixes the
        order of non-numeric ordinal labels and checks that every rating is on
        the scale. It does not change α: an unused level has ``n_g = 0`` and so
        adds nothing to the ordinal metric (unlike the weights of a weighted
        kappa). Interval and ratio levels need numeric values.

    Returns
    -------
    float
        NaN when no unit has 2 ratings or expected disagreement is 0 (a single
        value throughout).

    References
    ----------
    Krippendorff K (2011). Computing Krippendorff's alpha-reliability.
    https://repository.upenn.edu/asc_papers/43/

    Examples
    --------
    Krippendorff's (2011) example C -- 4 observers, 12 units, missing data:

    >>> nan = float("nan")
    >>> data = [[1, 2, 3, 3, 2, 1, 4, 1, 2, nan, nan, nan],
    ...         [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, nan, 3],
    ...         [nan, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, nan],
    ...         [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, nan]]
    >>> [round(krippendorff_alpha(data, level=lv), 3)
    ...  for lv in ("nominal", "ordinal", "interval", "ratio")]
    [0.743, 0.815, 0.849, 0.797]
    """
    if level not in _LEVELS:
        raise ValueError(f"level must be one of {_LEVELS}, got {level!r}")
    data = np.asarray(ratings, dtype=object)
    if data.ndim != 2:
        raise ValueError("ratings must be 2-D: raters as rows, units as columns")
    present = ~_missing(data)
    domain = _domain(data[present], values)
    k = len(domain)
    if level in ("interval", "ratio"):
        try:
            v = np.asarray(domain, dtype=float)
        except (TypeError, ValueError):
            raise ValueError(f"level={level!r} needs numeric ratings") from None
        if level == "ratio" and np.any(v < 0):
            raise ValueError("the ratio metric needs non-negative values")
    if k == 0:
        return float("nan")
    unit = np.nonzero(present)[1]
    codes = _codes(data[present], domain)
    counts = np.bincount(unit * k + codes, minlength=data.shape[1] * k)
    counts = counts.reshape(data.shape[1], k).astype(float)
    m_u = counts.sum(axis=1)
    counts = counts[m_u >= 2]
    m_u = m_u[m_u >= 2]
    if counts.shape[0] == 0:
        return float("nan")
    scaled = counts / (m_u - 1)[:, None]
    o = counts.T @ scaled - np.diag(scaled.sum(axis=0))
    n_c = o.sum(axis=1)
    n = n_c.sum()
    if level == "nominal":
        d2 = 1.0 - np.eye(k)
    elif level == "ordinal":
        mid = np.cumsum(n_c) - n_c / 2
        d2 = (mid[:, None] - mid[None, :]) ** 2
    elif level == "interval":
        d2 = (v[:, None] - v[None, :]) ** 2
    else:
        total = v[:, None] + v[None, :]
        with np.errstate(divide="ignore", invalid="ignore"):
            d2 = np.where(total > 0, ((v[:, None] - v[None, :]) / total) ** 2, 0.0)
    d_o = (o * d2).sum() / n
    d_e = (np.outer(n_c, n_c) * d2).sum() / (n * (n - 1))
    if not d_e > 0:
        return float("nan")
    return float(1 - d_o / d_e)


def _icc_form(form: str, k: int) -> str:
    text = str(form).upper().replace("ICC", "").replace("(", "").replace(")", "").replace(" ", "")
    first, _, second = text.partition(",")
    first = {"2": "A", "3": "C"}.get(first, first)
    if second == str(k) or second == "K":
        second = "k"
    name = f"{first},{second}"
    if name not in ICC_FORMS:
        raise ValueError(f"form must be one of {ICC_FORMS} (or Shrout-Fleiss '2,1' etc.), got {form!r}")
    return name


def icc(ratings, *, form="A,1") -> float:
    """Intraclass correlation from two-way ANOVA mean squares.

    With ``n`` targets, ``k`` raters, between-targets ``BMS``, between-raters
    ``JMS``, residual ``EMS`` and within-target ``WMS`` mean squares (Shrout &
    Fleiss 1979; McGraw & Wong 1996):

    ========  ============  ====================================================
    form      S&F name      formula
    ========  ============  ====================================================
    ``1,1``   ICC(1,1)      (BMS − WMS)/(BMS + (k − 1)WMS)
    ``A,1``   ICC(2,1)      (BMS − EMS)/(BMS + (k − 1)EMS + k(JMS − EMS)/n)
    ``C,1``   ICC(3,1)      (BMS − EMS)/(BMS + (k − 1)EMS)
    ``1,k``   ICC(1,k)      (BMS − WMS)/BMS
    ``A,k``   ICC(2,k)      (BMS − EMS)/(BMS + (JMS − EMS)/n)
    ``C,k``   ICC(3,k)      (BMS − EMS)/BMS
    ========  ============  ====================================================

    "A" is absolute agreement (use it to calibrate proficiency levels), "C"
    consistency (ignores a rater's constant offset); the ``k`` forms are the
    reliability of the mean of the ``k`` raters.

    Parameters
    ----------
    ratings : DataFrame or 2-D array_like
        Complete matrix: **targets as rows, raters as columns**, numeric.
    form : str, default "A,1"
        One of :data:`ICC_FORMS`; Shrout & Fleiss names ("2,1", "3,k", "ICC(3,4)"
        with the actual number of raters) are accepted too.

    Raises
    ------
    ValueError
        On missing ratings (the ANOVA needs a balanced design), fewer than 2
        targets or raters, or an unknown form.

    Examples
    --------
    Shrout & Fleiss (1979), Table 2 (6 targets, 4 judges):

    >>> data = [[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8],
    ...         [7, 1, 2, 6], [10, 5, 6, 9], [6, 2, 4, 7]]
    >>> [round(icc(data, form=f), 2) for f in ("1,1", "A,1", "C,1", "1,k", "A,k", "C,k")]
    [0.17, 0.29, 0.71, 0.44, 0.62, 0.91]
    """
    x = np.asarray(ratings, dtype=float)
    if x.ndim != 2:
        raise ValueError("ratings must be 2-D: targets as rows, raters as columns")
    if np.isnan(x).any():
        raise ValueError("icc needs a complete targets × raters matrix; drop targets with missing ratings")
    n, k = x.shape
    if n < 2 or k < 2:
        raise ValueError("icc needs at least 2 targets and 2 raters")
    name = _icc_form(form, k)
    grand = x.mean()
    ss_rows = k * ((x.mean(axis=1) - grand) ** 2).sum()
    ss_cols = n * ((x.mean(axis=0) - grand) ** 2).sum()
    ss_total = ((x - grand) ** 2).sum()
    ss_error = ss_total - ss_rows - ss_cols
    bms = ss_rows / (n - 1)
    jms = ss_cols / (k - 1)
    ems = ss_error / ((n - 1) * (k - 1))
    wms = (ss_cols + ss_error) / (n * (k - 1))
    num, den = {
        "1,1": (bms - wms, bms + (k - 1) * wms),
        "A,1": (bms - ems, bms + (k - 1) * ems + k * (jms - ems) / n),
        "C,1": (bms - ems, bms + (k - 1) * ems),
        "1,k": (bms - wms, bms),
        "A,k": (bms - ems, bms + (jms - ems) / n),
        "C,k": (bms - ems, bms),
    }[name]
    return float(num / den) if den != 0 else float("nan")


def agreement(rater_a, rater_b) -> Agreement:
    """Exact and adjacent (within ±1) agreement of two raters on a numeric scale.

    ``adjacent`` counts exact agreement too (|a − b| ≤ 1), the usual
    operational-scoring convention (Williamson, Xi & Breyer 2012). Pairs with a
    missing rating are dropped.

    Returns
    -------
    Agreement
        ``(exact, adjacent, n)``; rates are NaN when ``n == 0``.

    Examples
    --------
    >>> agreement([1, 2, 3, 4, 2], [1, 3, 3, 2, None])
    Agreement(exact=0.5, adjacent=0.75, n=4)
    """
    a = np.asarray(pd.to_numeric(pd.Series(np.asarray(rater_a, dtype=object).ravel())), dtype=float)
    b = np.asarray(pd.to_numeric(pd.Series(np.asarray(rater_b, dtype=object).ravel())), dtype=float)
    if a.shape != b.shape:
        raise ValueError(f"the raters have {a.size} and {b.size} ratings; they must pair up")
    keep = ~(np.isnan(a) | np.isnan(b))
    diff = np.abs(a[keep] - b[keep])
    n = int(keep.sum())
    if n == 0:
        return Agreement(float("nan"), float("nan"), 0)
    return Agreement(float((diff == 0).mean()), float((diff <= 1).mean()), n)


# --------------------------------------------------------------------------- calibration tables


def _calibration(calibration, scale) -> pd.DataFrame:
    need = {"work_id", "scorer_id", "score"}
    missing = need - set(calibration.columns)
    if missing:
        raise ValueError(f"calibration table lacks columns {sorted(missing)}")
    df = pd.DataFrame({
        "work_id": calibration["work_id"].astype(object).to_numpy(),
        "scorer_id": calibration["scorer_id"].astype(object).to_numpy(),
        "score": pd.to_numeric(calibration["score"]).astype(float).to_numpy(),
        "standard_id": (calibration["standard_id"].astype(object).to_numpy()
                        if "standard_id" in calibration else np.full(len(calibration), None, object)),
    })
    df = df[df["score"].notna() & df["work_id"].notna() & df["scorer_id"].notna()]
    low, high = scale
    if np.any((df["score"] < low) | (df["score"] > high)):
        raise ValueError(f"calibration scores outside the scale {low}-{high}")
    if df.duplicated(["work_id", "scorer_id"]).any():
        raise ValueError("a scorer scores the same work more than once; the key is (work_id, scorer_id)")
    return df.reset_index(drop=True)


def _summarise(df: pd.DataFrame, labels) -> dict:
    """One calibration_summary row for the ratings in ``df``."""
    pairs = df.merge(df, on="work_id", suffixes=("_a", "_b"))
    pairs = pairs[pairs["scorer_id_a"].astype(str) < pairs["scorer_id_b"].astype(str)]
    agree = agreement(pairs["score_a"], pairs["score_b"])
    wide = df.pivot(index="scorer_id", columns="work_id", values="score")
    per_work = df.groupby("work_id").size()
    if per_work.nunique() == 1 and per_work.iloc[0] >= 2:
        rows = [np.sort(v) for v in wide.T.to_numpy()]  # raters as columns, NaN last
        table = np.asarray([r[~np.isnan(r)] for r in rows])
        kappa, note = fleiss_kappa(table), ""
    else:
        kappa = float("nan")
        note = (f"works have {per_work.min()} to {per_work.max()} ratings; Fleiss' kappa needs "
                "the same number for every work (see alpha)")
    return {
        "works": int(df["work_id"].nunique()),
        "scorers": int(df["scorer_id"].nunique()),
        "ratings": len(df),
        "pairs": agree.n,
        "exact_agreement": agree.exact,
        "adjacent_agreement": agree.adjacent,
        "alpha_ordinal": krippendorff_alpha(wide, level="ordinal", values=labels),
        "alpha_interval": krippendorff_alpha(wide, level="interval", values=labels),
        "fleiss_kappa": kappa,
        "fleiss_note": note,
    }


def calibration_summary(calibration, *, scale=(1, 4)) -> pd.DataFrame:
    """Agreement and reliability of calibration scoring, per standard and overall.

    Parameters
    ----------
    calibration : DataFrame
        The contract's ``calibration`` table: ``work_id``, ``scorer_id``,
        ``score``, optional ``standard_id``. Each work is scored by several
        scorers; ``(work_id, scorer_id)`` is the key.
    scale : (int, int), default (1, 4)
        Lowest and highest rubric level; scores outside it raise ``ValueError``.

    Returns
    -------
    DataFrame
        One row per ``standard_id`` (missing standards as ``None``) and a last
        row ``standard_id == "All"``, with ``works``, ``scorers``, ``ratings``,
        ``pairs`` (all scorer pairs on the same work), ``exact_agreement`` and
        ``adjacent_agreement`` (±1, over those pairs), ``alpha_ordinal`` and
        ``alpha_interval`` (Krippendorff, missing ratings allowed),
        ``fleiss_kappa`` (NaN, with the reason in ``fleiss_note``, unless every
        work has the same number of ratings), ``reading`` (Krippendorff's
        reading of ``alpha_ordinal``: "rely on the data" ≥ .800, "tentative
        conclusions only" .667–.800, "do not rely" < .667) and
        ``kappa_reading`` (Landis & Koch reading of ``fleiss_kappa``).

    Examples
    --------
    >>> cal = pd.DataFrame({"work_id": ["w1"] * 3 + ["w2"] * 3 + ["w3"] * 3,
    ...                     "scorer_id": ["a", "b", "c"] * 3,
    ...                     "score": [3, 3, 2, 1, 1, 1, 4, 4, 4],
    ...                     "standard_id": "S1"})
    >>> out = calibration_summary(cal)
    >>> out[["standard_id", "works", "pairs", "exact_agreement", "adjacent_agreement"]]
      standard_id  works  pairs  exact_agreement  adjacent_agreement
    0          S1      3      9         0.777778                 1.0
    1         All      3      9         0.777778                 1.0
    >>> round(float(out["fleiss_kappa"].iloc[-1]), 4), out["reading"].iloc[-1]  # 20/29
    (0.6897, 'rely on the data')
    """
    labels = list(range(int(scale[0]), int(scale[1]) + 1))
    df = _calibration(calibration, scale)
    rows = []
    for standard, part in df.groupby("standard_id", sort=True, dropna=False):
        rows.append({"standard_id": standard, **_summarise(part, labels)})
    if len(df):
        rows.append({"standard_id": "All", **_summarise(df, labels)})
    out = pd.DataFrame(rows, columns=[
        "standard_id", "works", "scorers", "ratings", "pairs", "exact_agreement",
        "adjacent_agreement", "alpha_ordinal", "alpha_interval", "fleiss_kappa", "fleiss_note"])
    out["reading"] = krippendorff_reading(out["alpha_ordinal"].to_numpy(dtype=float))
    out["kappa_reading"] = landis_koch_reading(out["fleiss_kappa"].to_numpy(dtype=float))
    return out


def scorer_severity(calibration, *, threshold=0.5, confidence=0.95, scale=(1, 4),
                    min_qwk=0.70, fdr=0.05) -> pd.DataFrame:
    """How harsh or lenient each scorer is against the other scorers of the same work.

    For every rating, the consensus is the mean score of the *other* scorers of
    the same work (leave-one-out, so a scorer is not compared with itself),
    each corrected for that scorer's own lean; works with a single scorer are
    skipped. The leans come from the additive model ``score = work + scorer``
    fitted by least squares (:func:`_scorer_leans`): where every scorer scores
    every work the correction cancels and the consensus is the others' plain
    mean, but where scorers share only some works, a scorer who often scores
    beside a harsh one would otherwise look lenient by contrast (half of their
    works beside a scorer 0.8 points harsh, among three others, read about 0.13
    points more lenient). A scorer's deviations
    ``score − consensus`` get a mean, a Student t interval and a t test
    against 0. Every scorer is tested, so the p-values are Benjamini-Hochberg
    adjusted across scorers: with some forty scorers, a few with few works and
    a mild lean would otherwise pass "interval beyond 0, mean past the
    threshold" by chance alone (on a district generated outside the project, a
    scorer with a true lean of +0.18 on 13 works read +0.52, interval 0.16 to
    0.88). A scorer beyond chance is called harsh or lenient where the
    interval reaches ``threshold``: scores rounded to whole levels and held
    within the scale read a scorer's lean smaller than it is (a lean of 0.6
    levels reads about 0.5, of 0.5 about 0.4), so a rule on the mean alone
    missed a scorer 0.6 levels harsh in 12 of 40 simulated districts, this one
    in none, with the same false flags.

    Parameters
    ----------
    calibration : DataFrame
        The contract's ``calibration`` table (``work_id``, ``scorer_id``, ``score``).
    threshold : float, default 0.5
        The lean (rubric points) a flagged scorer's interval has to reach.
    confidence : float, default 0.95
        Coverage of the t interval.
    scale : (int, int), default (1, 4)
        The rubric; its full range is the ``labels`` of the kappa.
    min_qwk : float, default 0.70
        ``low_qwk`` marks a scorer whose quadratic-weighted kappa against the
        consensus is below this (Williamson, Xi & Breyer 2012 convention).
    fdr : float, default 0.05
        False discovery rate across the scorers tested.

    Returns
    -------
    DataFrame
        One row per scorer: ``scorer_id``, ``works``, ``mean_deviation``,
        ``sd`` (of the scorer's deviations), ``low``, ``high`` and ``pvalue``
        (Student t interval and two-sided test of a mean deviation of 0 with
        ``works − 1`` degrees of freedom, on the scorer's sd or the sd pooled
        over all scorers where that is larger, :func:`_spread`; NaN on one
        work), ``qvalue`` (Benjamini-Hochberg across the scorers tested),
        ``harsh`` (``qvalue < fdr``, ``mean_deviation < 0`` and ``low ≤ −threshold``: beyond
        chance, and a lean of ``threshold`` is within the interval), ``lenient`` (``qvalue < fdr``,
        ``mean_deviation > 0`` and ``high ≥ threshold``), ``qwk`` (quadratic-weighted
        :func:`cohen_kappa` of the scorer against the leave-one-out consensus
        rounded half up to a rubric level, ``labels`` = the full scale) and
        ``low_qwk``. Sorted by ``mean_deviation``.

    Examples
    --------
    >>> cal = pd.DataFrame({"work_id": ["w1"] * 3 + ["w2"] * 3 + ["w3"] * 3,
    ...                     "scorer_id": ["a", "b", "c"] * 3,
    ...                     "score": [3, 3, 2, 1, 1, 1, 4, 4, 3]})
    >>> out = scorer_severity(cal)
    >>> out[["scorer_id", "works", "mean_deviation", "harsh", "lenient"]]
      scorer_id  works  mean_deviation  harsh  lenient
    0         c      3       -0.666667  False    False
    1         a      3        0.333333  False    False
    2         b      3        0.333333  False    False
    """
    labels = np.arange(int(scale[0]), int(scale[1]) + 1)
    df = _calibration(calibration, scale)
    df = df[df.groupby("work_id")["score"].transform("count") >= 2].reset_index(drop=True)
    df["consensus"] = _consensus(df)
    df["deviation"] = df["score"] - df["consensus"]
    stats_ = df.groupby("scorer_id", sort=True)["deviation"].agg(["count", "mean", "std"])
    spread = _spread(stats_)
    low, high = mean_interval(stats_["mean"], spread, stats_["count"], confidence)
    out = pd.DataFrame({
        "scorer_id": stats_.index.to_numpy(dtype=object),
        "works": stats_["count"].to_numpy(dtype=int),
        "mean_deviation": stats_["mean"].to_numpy(dtype=float),
        "sd": stats_["std"].to_numpy(dtype=float),
        "low": np.asarray(low, dtype=float),
        "high": np.asarray(high, dtype=float),
    })
    out["pvalue"] = _mean_pvalue(out["mean_deviation"].to_numpy(), spread, out["works"].to_numpy())
    tested = np.isfinite(out["pvalue"].to_numpy())
    out["qvalue"] = np.nan
    out.loc[tested, "qvalue"] = bh_adjust(out.loc[tested, "pvalue"].to_numpy())
    beyond_chance = (out["qvalue"] < fdr).to_numpy()
    # The interval, not the mean, has to reach the threshold: rounding to whole rubric levels and the
    # scale's ends pull a scorer's observed lean toward 0 (a lean of 0.6 levels reads about 0.5).
    mean = out["mean_deviation"].to_numpy()
    out["harsh"] = beyond_chance & (mean < 0) & (out["low"] <= -threshold).to_numpy()
    out["lenient"] = beyond_chance & (mean > 0) & (out["high"] >= threshold).to_numpy()
    # per-scorer K×K tables of (own score, rounded consensus), all at once
    k = labels.size
    own = _codes(df["score"].to_numpy(), labels.astype(float))
    cons = np.clip(_half_up(df["consensus"]), labels[0], labels[-1])
    cons = _codes(cons, labels.astype(float))
    scorer = pd.Index(out["scorer_id"]).get_indexer(df["scorer_id"])
    tables = np.bincount(scorer * k * k + own * k + cons, minlength=len(out) * k * k)
    tables = tables.reshape(len(out), k, k)
    out["qwk"] = _kappa_from_tables(tables, _disagreement_weights(k, "quadratic"))
    out["low_qwk"] = out["qwk"] < min_qwk
    return out.sort_values(["mean_deviation", "scorer_id"], kind="stable").reset_index(drop=True)


def _consensus(ratings: pd.DataFrame) -> np.ndarray:
    """Each rating's consensus: the other scorers' mean score of the work, less their leans, plus the mean
    lean of the scorer's other scorers, so that a deviation from it estimates the scorer's lean against them."""
    work = pd.factorize(ratings["work_id"])[0]
    lean, linked = _scorer_leans(ratings)
    adjusted = ratings["score"].to_numpy(float) - lean
    total, count = np.bincount(work, adjusted), np.bincount(work)
    others = (total[work] - adjusted) / (count[work] - 1)
    # the leans sum to 0 among linked scorers, so the others' mean lean is -lean / (linked - 1)
    return others - lean / (linked - 1)


def _scorer_leans(ratings: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Per rating, its scorer's lean and the number of scorers linked to the scorer by shared works.

    Least squares of ``score = work effect + scorer lean`` with the work effects profiled out: the
    scorers' normal equations (a graph Laplacian), solved for the minimum-norm leans, which sum to 0
    within each set of linked scorers (where the data fix only their differences).
    """
    work, works = pd.factorize(ratings["work_id"])
    scorer, scorers = pd.factorize(ratings["scorer_id"])
    y = ratings["score"].to_numpy(float)
    incidence = sparse.csr_matrix((np.ones(len(y)), (work, scorer)), shape=(len(works), len(scorers)))
    per_work = np.bincount(work, minlength=len(works)).astype(float)
    shared = (incidence.T @ sparse.diags(1 / per_work) @ incidence).toarray()
    normal = np.diag(np.bincount(scorer, minlength=len(scorers)).astype(float)) - shared
    right = np.bincount(scorer, y, len(scorers)) - incidence.T @ (np.bincount(work, y, len(works)) / per_work)
    lean = np.linalg.lstsq(normal, right, rcond=None)[0]
    _, component = connected_components(sparse.csr_matrix(shared), directed=False)
    linked = np.bincount(component)[component]
    return lean[scorer], linked[scorer].astype(float)


def _spread(per_scorer: pd.DataFrame) -> np.ndarray:
    """Each scorer's sd of deviations, or the sd pooled over every scorer where that is larger.

    The deviations' spread is mostly scoring noise that every scorer shares; a scorer's own sd on a
    dozen works is a rough reading of it, and the scorers whose sd came out small by chance would
    otherwise have the smallest p-values of all (on simulated districts most false flags were those).
    """
    count, sd = per_scorer["count"].to_numpy(float), per_scorer["std"].fillna(0.0).to_numpy(float)
    df = np.clip(count - 1, 0, None)
    pooled = np.sqrt((df * sd**2).sum() / df.sum()) if df.sum() > 0 else 0.0
    return np.maximum(sd, pooled)


def _mean_pvalue(mean: np.ndarray, sd: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Two-sided one-sample t test of a mean of 0; 0 or 1 for deviations that are all equal; NaN under 2."""
    mean, sd, n = (np.asarray(a, dtype=float) for a in (mean, sd, n))
    with np.errstate(divide="ignore", invalid="ignore"):
        t = mean / (sd / np.sqrt(n))
        p = 2 * sps.t.sf(np.abs(t), n - 1)
    constant = (sd == 0) & (n >= 2)
    p = np.where(constant, np.where(mean != 0, 0.0, 1.0), p)
    return np.where(n >= 2, p, np.nan)


def severity_by_subgroup(evidence_with_subgroups, *, scorer="scorer_id", group_column, focus,
                         score="score", standard="standard_id", student="student_id", dok="dok",
                         confidence=0.95, fdr=0.05, min_n=None) -> pd.DataFrame:
    """Whether a scorer scores one subgroup of students differently from how other scorers score the same students.

    Every score gets a residual: score minus the mean score of its standard
    over all scorers and students, and, when the table has a ``dok`` column,
    minus the mean of those residuals at the task's depth of knowledge (so
    standards and tasks of different difficulty are comparable: a group given
    fewer DOK-4 tasks is an access question, not a scorer's severity). Each student a scorer scored is then compared **with the same
    student as scored by the other scorers**: the student's ``gap`` is the
    scorer's mean residual for the student minus the mean residual of the
    student's scores by every other scorer. A student's ability is in both
    terms and cancels, so a group that really is further along (or not yet as
    far along) does not make an unbiased scorer look harsh or lenient toward
    it -- comparing a scorer's focus students with the scorer's other students
    would (methods notes, section 7). A scorer who is harsh with everyone
    shifts every gap alike and is not flagged here either
    (:func:`scorer_severity` answers that).

    The test is the scorer-by-group interaction: per scorer, the mean gap of
    ``focus`` students against the mean gap of the scorer's other students
    (Student's t with the variance pooled over both groups: a gap's spread
    comes from scoring noise, not from the student's group, and a scorer's two
    or three focus students alone would make a poor variance). **The
    student is the unit**: each student gives one gap per scorer, however many
    scores are behind it, which is the student-clustered comparison. Students
    no other scorer scored cannot be compared and are left out (counted in
    ``unmatched``). P-values are Benjamini–Hochberg adjusted across scorers
    (:func:`equity_audit.stats.bh_adjust`) and ``closer_look`` marks
    ``q < fdr``. This is a screen, not a finding of bias: it asks for a closer
    look (blind re-scoring of the scorer's work). When students have only two
    or three scorers, the other scorers of a harsh scorer's students can look
    lenient toward the same group by contrast: read the sign, and start with
    the scorer whose own difference is the larger.

    Parameters
    ----------
    evidence_with_subgroups : DataFrame
        The ``evidence`` table joined with the students' subgroup column: one
        row per score with ``student``, ``scorer``, ``standard``, ``score`` and
        ``group_column``. Rows missing any of them are dropped.
    scorer, standard, score, student : str
        Column names.
    dok : str or None, default "dok"
        Depth-of-knowledge column; ignored when absent or ``None``. Rows with
        a missing DOK are kept (they get no DOK adjustment).
    group_column : str
        Subgroup column (e.g. ``"english_learner"`` or ``"race_ethnicity"``).
    focus
        The value of ``group_column`` that defines the focus group (e.g. ``"Y"``).
    confidence : float, default 0.95
    fdr : float, default 0.05
        False discovery rate for ``closer_look``.
    min_n : int, optional
        Fewest focus students a scorer needs to be screened: a scorer with fewer
        keeps their comparison but is left out of the false-discovery family and
        never marked (a flag on five students' scores is a guess).

    Returns
    -------
    DataFrame
        One row per scorer (first column named as ``scorer``): ``n_focus``,
        ``n_other`` (students also scored by someone else), ``unmatched``
        (students only this scorer scored), ``scores`` (the scorer's scores
        of the compared students), ``mean_focus``, ``mean_other`` (mean
        gaps: the scorer against the other scorers of the same students),
        ``difference`` (focus − other), ``low``, ``high``, ``pvalue``,
        ``qvalue``, ``closer_look``; sorted by ``qvalue``. Scorers without at
        least 2 compared students in each group have NaN intervals and are
        left out of the adjustment.

    Raises
    ------
    ValueError
        If a column is missing.

    Examples
    --------
    Two scorers score the same four students; ``a`` gives the two focus
    students one point less than ``b`` does. Half a point of that is ``a``'s
    overall severity against ``b``; the difference between the groups is
    what counts.

    >>> ev = pd.DataFrame({"student_id": ["s1", "s2", "s3", "s4"] * 2,
    ...                    "scorer_id": ["a"] * 4 + ["b"] * 4,
    ...                    "standard_id": "S1",
    ...                    "score": [1, 2, 3, 4, 2, 3, 3, 4],
    ...                    "el": ["Y", "Y", "N", "N"] * 2})
    >>> out = severity_by_subgroup(ev, group_column="el", focus="Y")
    >>> out[["scorer_id", "n_focus", "mean_focus", "mean_other", "difference"]]
      scorer_id  n_focus  mean_focus  mean_other  difference
    0         a        2        -0.5         0.5        -1.0
    1         b        2         0.5        -0.5         1.0
    """
    cols = [student, scorer, standard, score, group_column]
    missing = set(cols) - set(evidence_with_subgroups.columns)
    if missing:
        raise ValueError(f"evidence lacks columns {sorted(missing)}")
    df = pd.DataFrame({
        "student": evidence_with_subgroups[student].astype(object).to_numpy(),
        "scorer": evidence_with_subgroups[scorer].astype(object).to_numpy(),
        "standard": evidence_with_subgroups[standard].astype(object).to_numpy(),
        "score": pd.to_numeric(evidence_with_subgroups[score]).astype(float).to_numpy(),
        "group": evidence_with_subgroups[group_column].astype(object).to_numpy(),
    })
    df = df[df.notna().all(axis=1)]
    df["residual"] = df["score"] - df.groupby("standard")["score"].transform("mean")
    if dok is not None and dok in evidence_with_subgroups.columns:
        depth = pd.to_numeric(evidence_with_subgroups[dok], errors="coerce").reindex(df.index)
        df["residual"] -= df["residual"].groupby(depth).transform("mean").fillna(0.0)
    gaps = _student_gaps(df, focus)
    out = _interaction(gaps, confidence)
    screened = np.ones(len(out), dtype=bool) if min_n is None else (out["n_focus"] >= min_n).to_numpy()
    out["qvalue"] = np.nan
    if screened.any():
        out.loc[screened, "qvalue"] = bh_adjust(out.loc[screened, "pvalue"].to_numpy(dtype=float))
    out["closer_look"] = (out["qvalue"] < fdr).to_numpy() & screened
    out = out.rename(columns={"scorer": scorer})
    return out.sort_values("qvalue", kind="stable", na_position="last").reset_index(drop=True)


def _student_gaps(df: pd.DataFrame, focus) -> pd.DataFrame:
    """One row per scorer and student: the scorer's mean residual for the student minus the
    same student's mean residual by the other scorers, each scorer's overall severity removed.

    The severities come from the score-level least squares ``residual = student + scorer``
    (two-way fixed effects, solved on the scorer-by-student means weighted by their scores).
    Without them, the other scorers' severities would stay in the comparison, and they
    differ by group whenever groups meet different teachers (schools, grades, years).
    Students scored by one scorer only have no comparison (``gap`` NaN).
    """
    cells = df.groupby(["scorer", "student"], sort=True).agg(
        mean=("residual", "mean"), scores=("residual", "size"), group=("group", "first")).reset_index()
    by_student = cells.groupby("student")
    shared = by_student["scorer"].transform("size") > 1
    severity = _scorer_effects(cells[shared]).reindex(cells.index)
    adjusted = (cells["mean"] - severity) * cells["scores"]
    others = by_student["scores"].transform("sum") - cells["scores"]
    others_mean = (adjusted.groupby(cells["student"]).transform("sum") - adjusted) / others.where(shared)
    gap = cells["mean"] - severity - others_mean
    return cells.assign(gap=gap, is_focus=(cells["group"] == focus).to_numpy(bool))


def _scorer_effects(cells: pd.DataFrame, tol: float = 1e-10, max_iter: int = 500) -> pd.Series:
    """Scorer effects of ``mean = student + scorer`` by alternating weighted means (Gauss-Seidel)."""
    y, w = cells["mean"].to_numpy(float), cells["scores"].to_numpy(float)
    # the ids are coded once: grouping by text again in each of a few hundred iterations took 20 s
    # for 100,000 students
    student, scorer = pd.factorize(cells["student"])[0], pd.factorize(cells["scorer"])[0]
    scorer_effect = np.zeros(len(y))
    for _ in range(max_iter):  # iterations of a vectorised step, not a loop over students
        student_effect = _weighted_mean(y - scorer_effect, w, student)
        updated = _weighted_mean(y - student_effect, w, scorer)
        done = bool(np.max(np.abs(updated - scorer_effect), initial=0.0) < tol)
        scorer_effect = updated
        if done:
            break
    return pd.Series(scorer_effect, index=cells.index)


def _weighted_mean(values: np.ndarray, weights: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Each row's weighted mean of ``values`` over the rows of its code."""
    return (np.bincount(codes, values * weights) / np.bincount(codes, weights))[codes]


def _interaction(gaps: pd.DataFrame, confidence) -> pd.DataFrame:
    """Per scorer: focus students' mean gap against the other students' (pooled t)."""
    matched = gaps[gaps["gap"].notna()]
    scorers = pd.Index(np.sort(gaps["scorer"].unique()), dtype=object)
    agg = matched.groupby(["scorer", "is_focus"])["gap"].agg(["count", "mean", "std"])
    agg = agg.unstack("is_focus").reindex(scorers)

    def part(stat, flag):
        key = (stat, flag)
        values = agg[key] if key in agg.columns else pd.Series(np.nan, index=agg.index)
        return values.to_numpy(dtype=float)

    n1, n0 = np.nan_to_num(part("count", True)), np.nan_to_num(part("count", False))
    res = _pooled_difference(part("mean", True), np.nan_to_num(part("std", True)), n1,
                             part("mean", False), np.nan_to_num(part("std", False)), n0, confidence)
    return pd.DataFrame({
        "scorer": scorers.to_numpy(),
        "n_focus": n1.astype(int),
        "n_other": n0.astype(int),
        "unmatched": gaps[gaps["gap"].isna()].groupby("scorer").size().reindex(scorers, fill_value=0)
                     .to_numpy(dtype=int),
        "scores": matched.groupby("scorer")["scores"].sum().reindex(scorers, fill_value=0).to_numpy(dtype=int),
        "mean_focus": part("mean", True),
        "mean_other": part("mean", False),
        "difference": res[0],
        "low": res[1],
        "high": res[2],
        "pvalue": res[3],
    })


def _pooled_difference(mean1, sd1, n1, mean0, sd0, n0, confidence):
    """Student's equal-variance t comparison of two means, from summary statistics.

    A gap's spread comes from the scoring noise and how many scores are behind
    it, not from the student's group, so the variance is pooled over both
    groups. Welch's separate variances would rest on a scorer's two or three
    focus students alone, whose gaps can agree by chance and make any
    difference look certain.
    """
    m1, s1, k1, m0, s0, k0 = (np.asarray(v, dtype=float) for v in (mean1, sd1, n1, mean0, sd0, n0))
    df = k1 + k0 - 2
    ok = (k1 >= 2) & (k0 >= 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        pooled = ((k1 - 1) * s1**2 + (k0 - 1) * s0**2) / df
        se = np.sqrt(pooled * (1 / k1 + 1 / k0))
        ok = ok & (se > 0)
        diff = m1 - m0
        t = np.where(ok, diff / se, np.nan)
        half = sps.t.ppf(0.5 + confidence / 2, np.where(ok, df, np.nan)) * se
        pvalue = 2 * sps.t.sf(np.abs(t), np.where(ok, df, np.nan))
    return diff, diff - half, diff + half, pvalue
