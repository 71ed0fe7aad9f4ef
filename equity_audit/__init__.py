"""equity-audit: data for the questions of *In Pursuit of Equality*.

A district exports its student information system to a folder of tables (see
``templates/data/README.md``); :func:`load_district` validates it against the
data contract, and :func:`run_audit` executes the audit notebooks and writes
the report.

Examples
--------
>>> import equity_audit as ea
>>> district = ea.load_district(ea.paths.bundled_district())  # doctest: +SKIP
>>> district.ledger[["table", "rows_read", "rows_used"]]  # doctest: +SKIP
"""
__version__ = "0.1.0"

from . import contract, pace, paths, stats  # noqa: E402
from .disaggregate import disaggregate  # noqa: E402  (the function; the module stays importable)
from .config import Config, load_config  # noqa: E402
from .exceptions import (  # noqa: E402
    ConfigError,
    DataValidationError,
    EquityAuditError,
    StepFailedError,
)
from .load import District, load_district  # noqa: E402
from .rundir import open_district  # noqa: E402

__all__ = [
    "__version__",
    "Config",
    "load_config",
    "District",
    "load_district",
    "open_district",
    "run_audit",
    "EquityAuditError",
    "DataValidationError",
    "ConfigError",
    "StepFailedError",
    "disaggregate",
    "contract",
    "pace",
    "paths",
    "stats",
]


def run_audit(data_dir, out_dir, config_path=None, **kwargs):
    """Run the whole audit; see :func:`equity_audit.pipeline.run_audit`."""
    from .pipeline import run_audit as _run_audit

    return _run_audit(data_dir, out_dir, config_path, **kwargs)
