"""What leaves the dashboard as a file: tables (CSV, XLSX with formula neutralising) and figures (PNG, SVG,
HTML) in :mod:`~il2lib.export.files`, the shared headless browsers that draw them
(:mod:`~il2lib.export.browsers`), and the Python/R code that reproduces each number
(:mod:`~il2lib.export.snippets`)."""
