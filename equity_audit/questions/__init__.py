"""One module per audit question or section, turning a loaded district into tables and findings.

- :mod:`~equity_audit.questions.overview`: who is in the data (section 0);
- :mod:`~equity_audit.questions.needs`: unmet need and unidentified talent (question 1);
- :mod:`~equity_audit.questions.patterns`: discipline, access, school and teacher patterns (question 2);
- :mod:`~equity_audit.questions.grading`, :mod:`~equity_audit.questions.climate`: what may prevent
  equality, grading against evidence, calibration, climate and workforce (question 3);
- :mod:`~equity_audit.questions.strategies`: from findings to equity strategies (question 4).

They build on the methods (``equity_audit.disaggregate``, ``.pace``, ``.scans`` ...) and the data
layer; nothing here writes files or imports :mod:`equity_audit.publish` or :mod:`equity_audit.app`.
"""
