"""Shared fixtures, seaborn-style: figures closed after each test, one audit run per session."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # helper tests only; notebooks keep the inline backend

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
BUNDLED = REPO / "data" / "synthetic"


@pytest.fixture(autouse=True)
def close_figs():
    yield
    plt.close("all")


@pytest.fixture(autouse=True)
def forget_audited_cells():
    """The cells a run's joint audit withheld are remembered per process: no test sees another's."""
    from equity_audit.publish import release

    yield
    release._AUDITED.clear()


@pytest.fixture(scope="session")
def bundled_district() -> Path:
    return BUNDLED


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory) -> Path:
    """The whole audit run once on the bundled district; returns the run directory."""
    from equity_audit.app.pipeline import run_audit

    out = tmp_path_factory.mktemp("demo_run")
    run_audit(BUNDLED, out, log=lambda message: None, progress=False)
    return out


@pytest.fixture
def district_copy(tmp_path) -> Path:
    """A writable copy of the bundled district's students and enrollments."""
    folder = tmp_path / "district"
    folder.mkdir()
    for name in ("students.csv", "enrollments.csv", "schools.csv"):
        shutil.copy(BUNDLED / name, folder / name)
    return folder


def cli_env() -> dict:
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    return env
