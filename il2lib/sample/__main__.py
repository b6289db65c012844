"""``python -m il2lib.sample [OUTDIR]`` rewrites the bundled synthetic sample files."""
from il2lib.sample.files import main

raise SystemExit(main())
