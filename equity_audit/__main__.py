"""``python -m equity_audit``: the same command line as ``equity-audit``."""
from equity_audit.app.cli import main

raise SystemExit(main())
