"""``python -m il2lib``: see :mod:`il2lib.cli`."""
from il2lib.cli import main

raise SystemExit(main())
