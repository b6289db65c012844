"""The report's Methods section: estimators, intervals, tests, software versions, the exact command."""
from __future__ import annotations

import platform
import shlex
from importlib import metadata

from il2lib import __version__, schema
from il2lib.cohort import EXTRA_PREFIX, CohortFilter
from il2lib.report._html import definition_list, paragraph
from il2lib.report._sections import DISEASE_WHEN_BOTH, Section
from il2lib.report._small_cells import methods_text
from il2lib.validation.derive import FDA_ROWS_NOT_APPLIED, PFS_DOR_CENSORING

#: Packages whose versions the Methods paragraph names (the numbers depend on them).
VERSIONED_PACKAGES = ("pandas", "numpy", "scipy", "lifelines", "statsmodels", "plotly")


def software_versions() -> dict[str, str]:
    """Versions of il2lib, Python and the numerical packages (``"not installed"`` when absent)."""
    versions = {"il2lib": __version__, "Python": platform.python_version()}
    for package in VERSIONED_PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "not installed"
    return versions


def reproduce_command(source_name: str, flt: CohortFilter, endpoint: str, with_ae: bool,
                      cb_sd_months: float, window_days: float = schema.ASSESSMENT_WINDOW_DAYS_DEFAULT,
                      by=DISEASE_WHEN_BOTH) -> str:
    """The ``python -m il2lib report`` command that rebuilds this report from the same file (``--by`` when the
    groups compared were chosen: a column, or ``none``)."""
    parts = ["python", "-m", "il2lib", "report", source_name, "--out", "report.html"]
    for key, value in flt.to_query_params().items():
        if key.startswith(EXTRA_PREFIX):
            parts += ["--extra", f"{key[len(EXTRA_PREFIX):]}={value}"]
        elif key in schema.FILTER_COLUMNS:
            parts += ["--" + key.replace("_", "-"), value]
        else:
            parts += ["--extra", f"{key}={value}"]
    parts += ["--endpoint", endpoint]
    if by is not DISEASE_WHEN_BOTH:
        parts += ["--by", "none" if by is None else by]
    if cb_sd_months != schema.CB_SD_MONTHS_DEFAULT:
        parts += ["--cb-sd-months", f"{cb_sd_months:g}"]
    if window_days != schema.ASSESSMENT_WINDOW_DAYS_DEFAULT:
        parts += ["--assessment-window-days", f"{window_days:g}"]
    if with_ae:
        parts += ["--ae", "ADVERSE_EVENTS_FILE"]
    return shlex.join(parts)


def ae_complete_arguments(ae_complete: tuple[str, ...]) -> str:
    """`` --ae-complete SOURCE`` for each source declared complete (appended to the reproduce command)."""
    return "".join(f" --ae-complete {shlex.quote(s)}" for s in ae_complete)


def methods_section(sections: list[Section], conf_type: str, ci_method: str, command: str,
                    endpoint: str = "os", small_cell_threshold: int | None = None) -> Section:
    """Methods: one paragraph per analysis shown, then versions and the command that rebuilds the report.
    A PFS report states how PFS is censored, with the FDA table rows this registry cannot apply; a masked
    report (``small_cell_threshold``) states what is masked and what the masking does not prevent."""
    s = Section("methods", "Methods and reproducibility")
    for section in sections:
        for sentence in section.methods:
            s.add(paragraph(sentence))
    if endpoint == "pfs":
        s.add(paragraph(f"PFS: {PFS_DOR_CENSORING} {FDA_ROWS_NOT_APPLIED} OS is censored at the last date known "
                        "alive (the latest of last follow-up, last assessment, progression and first response)."))
    s.add(paragraph("All p-values are two-sided and unadjusted for multiple comparisons unless stated; the analyses "
                    "are descriptive. The data fingerprint is the SHA-256 hash of the file's bytes: the same "
                    "fingerprint, filter, options and software versions give the same numbers."))
    if small_cell_threshold is not None:
        s.add(paragraph(methods_text(small_cell_threshold)))
    s.add(paragraph("Kaplan-Meier, log-rank, Cox and follow-up estimates come from il2lib's own survival engine, "
                    "checked against R's survival package (survfit, survdiff, coxph) to 1e-6 relative; lifelines is "
                    "installed for cross-checks but computes none of the numbers shown."))
    versions = software_versions()
    s.add(definition_list([(name, version) for name, version in versions.items()]
                          + [("Kaplan-Meier CI", f"{conf_type} transformation, 95%"),
                             ("Binomial CI", "Clopper-Pearson exact, 95%" if ci_method == "exact" else "Wilson score, 95%"),
                             ("Command", command)]))
    s.add(paragraph("References: Kaplan EL, Meier P. JASA 1958;53:457-81. Greenwood M. Rep Public Health Med Subj "
                    "1926;33. Brookmeyer R, Crowley J. Biometrics 1982;38:29-41. Mantel N. Cancer Chemother Rep "
                    "1966;50:163-70. Cox DR. J R Stat Soc B 1972;34:187-220. Efron B. JASA 1977;72:557-65. "
                    "Schemper M, Smith TL. Control Clin Trials 1996;17:343-6. Clopper CJ, Pearson ES. Biometrika "
                    "1934;26:404-13. Fisher RA. J R Stat Soc 1922;85:87-94. Mann HB, Whitney DR. Ann Math Stat "
                    "1947;18:50-60.", "note"))
    return s
