"""``python -m chainrule``: the command line (see ``chainrule --help``)."""
from .cli.main import main

if __name__ == "__main__":
    raise SystemExit(main())
