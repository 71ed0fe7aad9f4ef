"""equity-audit: data for the questions of *In Pursuit of Equality*.

A district exports its student information system to a folder of tables (see
``templates/data/README.md``); :func:`load_district` validates it against the
data contract, and :func:`run_audit` executes the audit notebooks and writes
the report.

The package reads as the audit's data path, each layer importing only from
the layers below it:

- ground floor: :mod:`~equity_audit.stats` (numbers in, numbers out),
  :mod:`~equity_audit.exceptions`, :mod:`~equity_audit.config` (settings) and
  :mod:`~equity_audit.paths`;
- :mod:`equity_audit.data`: the contract and everything that reads a district;
- the methods a researcher imports on their own: :mod:`~equity_audit.disaggregate`,
  :mod:`~equity_audit.pace`, :mod:`~equity_audit.scans`, :mod:`~equity_audit.trends`,
  :mod:`~equity_audit.disproportionality`, :mod:`~equity_audit.reliability`,
  :mod:`~equity_audit.privacy`, and :mod:`~equity_audit.lazy` (the heavy reductions
  on DuckDB or Spark, for states and big districts);
- :mod:`equity_audit.questions`: one module per audit question or section;
- :mod:`equity_audit.publish`: the run folder, words, charts and the report;
- :mod:`equity_audit.app`: the command line, the papermill pipeline and the workshop.

Examples
--------
>>> import equity_audit as ea
>>> district = ea.load_district(ea.paths.bundled_district())  # doctest: +SKIP
>>> district.ledger[["table", "rows_read", "rows_used"]]  # doctest: +SKIP
"""
from equity_audit._version import __version__
from equity_audit import pace, paths, stats
from equity_audit.config import Config, load_config
from equity_audit.data import contract
from equity_audit.data.load import District, load_district
from equity_audit.disaggregate import disaggregate  # the function; the module stays importable
from equity_audit.exceptions import ConfigError, DataValidationError, EquityAuditError, StepFailedError
from equity_audit.publish.rundir import open_district

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
    """Run the whole audit; see :func:`equity_audit.app.pipeline.run_audit`.

    The package's front door: imported lazily so that ``import equity_audit``
    does not load papermill.
    """
    from equity_audit.app.pipeline import run_audit as _run_audit

    return _run_audit(data_dir, out_dir, config_path, **kwargs)
