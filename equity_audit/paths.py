"""Where the notebooks, templates and bundled district live.

In a source checkout they are the repository's ``notebooks/``, ``templates/``
and ``data/synthetic/``; an installed wheel carries the first two inside the
package (see ``pyproject.toml``).
"""
from __future__ import annotations

from pathlib import Path

__all__ = ["notebook_dir", "template_dir", "bundled_district", "REPO_ROOT"]

_PACKAGE = Path(__file__).resolve().parent
REPO_ROOT = _PACKAGE.parent


def _first_existing(*candidates: Path) -> Path:
    for path in candidates:
        if path.is_dir():
            return path
    return candidates[0]


def notebook_dir() -> Path:
    """Folder holding the audit notebooks, in run order by file name."""
    return _first_existing(REPO_ROOT / "notebooks", _PACKAGE / "_notebooks")


def template_dir() -> Path:
    """Folder holding the nbconvert report template and the data templates."""
    return _first_existing(REPO_ROOT / "templates", _PACKAGE / "_templates")


def bundled_district() -> Path:
    """The committed synthetic district that ``make demo`` audits."""
    return REPO_ROOT / "data" / "synthetic"
