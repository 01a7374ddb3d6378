"""``python -m matgrad``: the same as the ``matgrad`` command."""

from matgrad.cli import main

raise SystemExit(main())
