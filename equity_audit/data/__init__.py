"""Everything that reads a district: the contract and the loader.

- :mod:`~equity_audit.data.contract`: the one definition of tables, columns, types and codes;
  :mod:`~equity_audit.data.dictionary` writes the data dictionary and templates from it.
- :mod:`~equity_audit.data.read`, :mod:`~equity_audit.data.coerce`,
  :mod:`~equity_audit.data.problems`, :mod:`~equity_audit.data.load`: read, type and validate
  a district folder, counting every row in the ledger.
- :mod:`~equity_audit.data.store`: a loaded district saved as Parquet plus a JSON manifest.
- :mod:`~equity_audit.data.requirements`: which tables an analysis needs and which are missing.
- :mod:`~equity_audit.data.enrollment`, :mod:`~equity_audit.data.subgroups`: who was where,
  and students' subgroups as display-ready categories.
- :mod:`~equity_audit.data.synthetic`: synthetic districts with planted inequities.

Nothing here imports the methods, questions, publishing or app layers.
"""
