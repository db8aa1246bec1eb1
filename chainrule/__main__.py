"""``python -m chainrule``: the command line (see ``chainrule --help``)."""
from .cli.main import main

raise SystemExit(main())
