"""``equity-audit run --level state``: every LEA of a state, its determinations, a roll-up and its report.

Layout of a state run ``OUT``::

    OUT/tables/state_leas.csv               one row per LEA: students, significantly disproportionate
    OUT/tables/state_idea_determinations.csv  per LEA, category and group: the multi-year determination
    OUT/tables/state_idea_risk_ratios.csv   per LEA, category, school year and group: the (alternate) risk ratio
    OUT/tables/state_rollup.csv             state -> LEA -> school: students and the main rates
    OUT/tables/disclosure_audit.csv         what the joint disclosure audit withheld
    OUT/state.html                          the four tables and a link to each LEA's report
    OUT/leas/<lea>/report.html              one district audit per LEA (:func:`run_audit`)
    OUT/confidential/                       per-LEA settings and, for the lea_id layout, the split data

Every published table passes the release gate (:func:`~equity_audit.publish.rundir.write_table`)
and the joint audit (:func:`~equity_audit.publish.release.audit_release`).
"""
from __future__ import annotations

import html
import multiprocessing
import os
import shutil
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import yaml

from equity_audit.config import Config, load_config
from equity_audit.data.load import load_district
from equity_audit.exceptions import ConfigError, DataValidationError, EquityAuditError
from equity_audit.publish.release import audit_release, protect
from equity_audit.publish.rundir import confidential_dir, read_table, write_table
from equity_audit.questions.state import (StateDataError, determinations, facts_for, find_leas, idea_counts,
                                          lea_summary, rollup, student_counts)

__all__ = ["run_state", "released_rollup", "StateRunError", "STATE_MARKER", "STATE_PAGE", "TABLES"]

#: File that marks a folder as a state run, so a rerun may replace it.
STATE_MARKER = ".equity-audit-state-run"
STATE_PAGE = "state.html"
#: Published tables of a state run, in the order of the page.
TABLES = {"state_leas": "LEAs", "state_idea_determinations": "IDEA significant disproportionality",
          "state_idea_risk_ratios": "Risk ratios by school year", "state_rollup": "State, LEA and school roll-up"}


class StateRunError(EquityAuditError):
    """One or more LEA reports could not be built (the state tables are written)."""

    exit_code = 1


def run_state(state_dir: str | Path, out_dir: str | Path, config_path: str | Path | None = None, *,
              workers: int = 2, log: Callable[[str], None] = print) -> Path:
    """Audit a state: validate every LEA, publish the determinations and roll-up, build one report per LEA.

    Parameters
    ----------
    state_dir : path
        One district folder per LEA, or the tables with an ``lea_id`` column.
    out_dir : path
        The state run folder (replaced when it holds an earlier state run).
    config_path : path, optional
        Settings (YAML); the ``state:`` block gives the state's thresholds.
    workers : int, default 2
        LEA reports built at the same time (processes).

    Returns
    -------
    Path
        ``OUT/state.html``.
    """
    if workers < 1:
        raise ConfigError(f"--workers must be 1 or more, not {workers}")
    config = load_config(config_path)
    previous_umask = os.umask(0o077)  # the run folder, student-level copies and per-LEA runs are owner-only
    try:
        out = _fresh_folder(Path(out_dir).resolve())
        leas = find_leas(state_dir, work_dir=confidential_dir(out) / "lea_data")
        log(f"State {state_dir}: {len(leas)} LEAs ({', '.join(leas)}).")
        facts = _validated_facts(leas, config, log)
        _publish(out, facts, config)
        log(f"State tables written to {out / 'tables'}")
        _lea_reports(leas, out, config, workers, log)
    finally:
        os.umask(previous_umask)
    log(f"State page written to {out / STATE_PAGE}")
    return out / STATE_PAGE


def _fresh_folder(out: Path) -> Path:
    if out.is_dir() and any(out.iterdir()):
        if not (out / STATE_MARKER).exists():
            raise ConfigError(f"The output folder {out} already holds files that are not a state run; "
                              "choose a new or empty folder for --out.")
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / STATE_MARKER).write_text("An equity-audit state run folder.\n", encoding="utf-8")
    return out


def _validated_facts(leas: dict[str, Path], config: Config, log) -> pd.DataFrame:
    """Every LEA validated with the district loader, as student-year facts with an ``lea`` column."""
    frames = []
    for number, (lea, folder) in enumerate(leas.items(), start=1):  # one district per LEA
        try:
            district = load_district(folder, **config.load_options)
        except DataValidationError as err:
            raise StateDataError(f"LEA {lea} ({folder}) cannot be audited. {err}") from None
        frames.append(facts_for(district, lea, config))
        log(f"LEA {lea} ({number}/{len(leas)}): {len(district['students']):,} students, the data meets the contract.")
    return pd.concat(frames, ignore_index=True)


def _publish(out: Path, facts: pd.DataFrame, config: Config) -> None:
    """Write the state tables through the release gate, audit them jointly and write the state page."""
    by_year, decided = determinations(idea_counts(facts), config.state)
    counted = by_year.rename(columns={"base": "n", "outcome": "events", "risk": "estimate"}).assign(statistic="rate")
    latest = counted.rename(columns={"school_year": "determination_year"})[
        ["lea", "category", "group", "determination_year", "n", "events", "estimate", "statistic"]]
    # the determination year is published as a label, so a withheld row still says which year it is
    decided = decided.merge(latest, on=["lea", "category", "group", "determination_year"], how="left") \
        .rename(columns={"determination_year": "school_year"})
    tables = {"state_leas": lea_summary(decided, student_counts(facts)),
              "state_idea_determinations": decided,
              "state_idea_risk_ratios": counted,
              "state_rollup": released_rollup(rollup(facts), config.min_n)}
    for name, table in tables.items():
        write_table(out, name, table, min_n=config.min_n)
    audit_release(out, min_n=config.min_n)
    _write_page(out, config)


def _write_page(out: Path, config: Config, reports: dict[str, str] | None = None) -> None:
    """``state.html``: the settings, the released tables and a link to each LEA's report."""
    settings = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in config.state.__dict__.items())
    parts = [f"<h1>State audit</h1><p>IDEA significant disproportionality settings: {html.escape(settings)}. "
             "A flag is a question for the state and the LEA, not a verdict; groups and counts under "
             f"{config.min_n} are withheld (the status column says why).</p>"]
    if reports:
        links = "".join(f'<li><a href="{html.escape(path)}">{html.escape(lea)}</a></li>'
                        for lea, path in reports.items())
        parts.append(f"<h2>LEA reports</h2><ul>{links}</ul>")
    for name, title in TABLES.items():
        if (out / "tables" / f"{name}.csv").exists():
            table = read_table(out, name).astype(object).where(lambda t: t.notna(), "")
            parts.append(f"<h2>{html.escape(title)}</h2>" + table.to_html(index=False, escape=True))
    page = "<!doctype html><meta charset='utf-8'><title>State audit</title>" + "".join(parts)
    (out / STATE_PAGE).write_text(page, encoding="utf-8")


# --------------------------------------------------------------------------- roll-up disclosure


def released_rollup(table: pd.DataFrame, min_n: int = 10) -> pd.DataFrame:
    """The roll-up with the release gate applied and complementary suppression across levels.

    :func:`~equity_audit.publish.release.protect` withholds small groups and
    small counts row by row. A parent (state or LEA) row minus its shown
    children would give back a single withheld child, so where exactly one
    child of a shown parent is withheld another is withheld with it (the
    smallest shown one): its row (``complementary``) for a withheld size, its
    share and count (``complementary_share``) for a withheld count. An LEA
    withheld this way takes its schools with it, since they add up to it.
    """
    released = protect(table, min_n=min_n)
    for child, parent_keys in (("school", ["lea", "measure"]), ("lea", ["measure"])):
        for column, word in (("n", "complementary"), ("events", "complementary_share")):
            chosen = _second_withheld(released, child, parent_keys, column)
            if child == "lea":  # its schools add up to it: withhold them with it
                pairs = released.loc[chosen, ["lea", "measure"]].apply(tuple, axis=1)
                own = released[["lea", "measure"]].apply(tuple, axis=1).isin(set(pairs))
                chosen = chosen | (own & (released["level"] == "school"))
            released.loc[chosen, "status"] = _join_status(released.loc[chosen, "status"], word)
            released = protect(released, min_n=min_n)
    return released


def _second_withheld(released: pd.DataFrame, child: str, parent_keys: list[str], column: str) -> pd.Series:
    """Children to withhold so that no shown parent has exactly one withheld child in ``column``."""
    parents = released.loc[released["level"] == ("state" if child == "lea" else "lea"), [*parent_keys, column]]
    rows = released[released["level"] == child]
    parent_value = rows[parent_keys].merge(parents.rename(columns={column: "_parent"}), on=parent_keys,
                                           how="left")["_parent"].set_axis(rows.index)
    keys = [rows[k] for k in parent_keys]
    hidden = (rows[column].isna() & rows["n"].fillna(-1).ne(0)).astype(bool)
    lone = hidden.groupby(keys).transform("sum").eq(1) & parent_value.notna()
    candidate = rows[column].where(lone & ~hidden)
    picked = candidate.eq(candidate.groupby(keys).transform("min")).fillna(False).astype(bool)
    first = picked & picked.astype(int).groupby(keys).cumsum().eq(1)
    return first.reindex(released.index, fill_value=False)


def _join_status(status: pd.Series, word: str) -> pd.Series:
    status = status.astype(object).fillna("").astype(str)
    return np.where(status == "", word, status + ";" + word)


# --------------------------------------------------------------------------- LEA reports


def _lea_configs(leas, out: Path, config: Config) -> dict[str, Path]:
    """One settings file per LEA: the run's settings with the LEA's id as the report's name."""
    folder = confidential_dir(out) / "lea_settings"
    folder.mkdir(exist_ok=True)
    paths = {}
    for lea in leas:  # one small file per LEA
        values = {**config.as_dict(), "district_name": lea}
        paths[lea] = folder / f"{lea}.yaml"
        paths[lea].write_text(yaml.safe_dump(values, sort_keys=False), encoding="utf-8")
    return paths


def _lea_report(lea: str, data_dir: Path, run_dir: Path, config_path: Path,
                threads: int = 1) -> tuple[str, float, str]:
    """Build one LEA's district report (in a worker process): ``(lea, seconds, error or '')``."""
    from equity_audit.app.pipeline import run_audit

    started = time.perf_counter()
    try:
        # LEAs already run side by side: each one's notebooks one after another
        run_audit(data_dir, run_dir, config_path, log=lambda line: print(f"  {lea}: {line}", flush=True),
                  progress=False, workers=1, threads=threads)
    except EquityAuditError as err:  # its own message; the other LEAs go on
        return lea, time.perf_counter() - started, str(err)
    return lea, time.perf_counter() - started, ""


def _lea_reports(leas: dict[str, Path], out: Path, config: Config, workers: int, log) -> None:
    """Every LEA's report under ``OUT/leas/<lea>/``, ``workers`` at a time, a progress line per LEA."""
    from equity_audit.app.pipeline import usable_cores

    configs = _lea_configs(leas, out, config)
    failed, reports = {}, {}
    context = multiprocessing.get_context("spawn")  # a clean interpreter per worker: kernels start cleanly
    side_by_side = min(workers, len(leas))
    threads = max(1, usable_cores() // side_by_side)  # the cores shared among the LEAs' kernels
    with ProcessPoolExecutor(max_workers=side_by_side, mp_context=context) as pool:
        futures = [pool.submit(_lea_report, lea, folder, out / "leas" / lea, configs[lea], threads)
                   for lea, folder in leas.items()]
        for done, future in enumerate(as_completed(futures), start=1):
            lea, seconds, error = future.result()
            if error:
                failed[lea] = error
                log(f"[{done}/{len(leas)} reports] LEA {lea}: failed after {seconds:.0f} s: {error}")
            else:
                reports[lea] = f"leas/{lea}/report.html"
                log(f"[{done}/{len(leas)} reports] LEA {lea}: report written in {seconds:.0f} s")
    _write_page(out, config, dict(sorted(reports.items())))
    if failed:
        raise StateRunError(f"{len(failed)} LEA report(s) could not be built ({', '.join(sorted(failed))}); "
                            f"the state tables and the other reports are in {out}.")
