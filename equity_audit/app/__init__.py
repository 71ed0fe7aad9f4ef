"""The top floor: what a person runs.

- :mod:`~equity_audit.app.cli`: the ``equity-audit`` command line;
- :mod:`~equity_audit.app.pipeline`: the notebooks executed with papermill, then rendered;
- :mod:`~equity_audit.app.widgets`: the workshop explorer served with Voila.

Nothing below imports this package.
"""
