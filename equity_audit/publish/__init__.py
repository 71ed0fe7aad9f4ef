"""What leaves a run: the run folder, words, charts and the report.

- :mod:`~equity_audit.publish.rundir`: the run folder (published tables, the confidential folder);
- :mod:`~equity_audit.publish.narrative`: numbers written into plain sentences and alt text;
- :mod:`~equity_audit.publish.plots`: charts of already-suppressed tables;
- :mod:`~equity_audit.publish.report`: figures and tables shown accessibly in a notebook;
- :mod:`~equity_audit.publish.render`: the HTML and PDF report, the workbook and the JSON.

Nothing here imports :mod:`equity_audit.app`.
"""
