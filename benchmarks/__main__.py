"""``python -m benchmarks``: run the suite (see ``python -m benchmarks --help``)."""
from .harness import main

raise SystemExit(main())
