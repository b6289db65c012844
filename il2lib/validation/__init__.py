"""Loading a registry file into an analysable cohort, and the validation report that accounts for every row.

:mod:`~il2lib.validation.read` turns bytes (CSV/TSV, XLSX, Parquet) into text cells within size limits;
:mod:`~il2lib.validation.mapping` matches file columns to :mod:`il2lib.schema`;
:mod:`~il2lib.validation.coerce` types them; :mod:`~il2lib.validation.rules` and
:mod:`~il2lib.validation.patients` check every row (a row error excludes the row with its reasons, a
warning keeps it) and build the :class:`~il2lib.validation.patients.Cohort` (``load_cohort``);
:mod:`~il2lib.validation.derive` and :mod:`~il2lib.validation.recist` compute times, events and best
response; :mod:`~il2lib.validation.adverse_events` loads the optional long-format AE table
(:mod:`~il2lib.validation.ae_vocabulary`: CTCAE v5 terms). Always ``n_loaded = n_analysed + n_excluded``.
``from il2lib import load_cohort`` is the short way in.
"""
