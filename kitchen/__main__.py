"""``python -m kitchen``: the same entry point as the ``kitchen`` command."""

from .cli import main

raise SystemExit(main())
