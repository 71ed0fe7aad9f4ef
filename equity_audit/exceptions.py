"""One exception hierarchy, with messages a district analyst can act on.

Modelled on papermill's ``exceptions.py``: every error the package raises on
purpose is an :class:`EquityAuditError`, so the command line can turn it into a
plain message and exit code 2 instead of a traceback.
"""
from __future__ import annotations

__all__ = [
    "EquityAuditError",
    "DataValidationError",
    "ConfigError",
    "StepFailedError",
]


class EquityAuditError(Exception):
    """Base class: a problem the user can fix, reported without a traceback."""

    exit_code = 2


class DataValidationError(EquityAuditError):
    """The district folder does not meet the data contract.

    ``problems`` holds one :class:`equity_audit.data.problems.Problem` per distinct
    problem, each naming the file, column, rows and values involved.
    """

    def __init__(self, problems, folder=None):
        self.problems = list(problems)
        self.folder = folder
        super().__init__(self._message())

    def _message(self) -> str:
        where = f" in {self.folder}" if self.folder else ""
        n = len(self.problems)
        head = f"The district data{where} has {n} problem{'s' if n != 1 else ''} to fix:"
        return "\n".join([head, *(f"  - {p}" for p in self.problems)])


class ConfigError(EquityAuditError):
    """A setting in the run configuration is unknown or has an invalid value."""


class StepFailedError(EquityAuditError):
    """A notebook of the audit stopped with an error."""

    exit_code = 1

    def __init__(self, notebook: str, cell: int | None, error: str, output_path=None, source: str = ""):
        self.notebook, self.cell, self.error, self.output_path = notebook, cell, error, output_path
        where = f" at cell In [{cell}]" if cell is not None else ""
        code = f" ({source})" if source else ""
        saved = f"\nThe partly executed notebook is saved at {output_path}." if output_path else ""
        super().__init__(f"The audit step '{notebook}' stopped{where}{code}: {error}{saved}")
