"""Reproducible code: short Python (il2lib) and R (``survival``/``cmprsk``) snippets that recompute a
table or figure of the dashboard from the exported analysis CSV (the filtered cohort, one row per
patient, derived columns included: ``os_months``, ``os_event``, ``pfs_months``, ...).

Every Python snippet assigns ``result`` and prints it; every R snippet prints the R object whose
numbers the dashboard shows. The tests run both on an exported CSV and compare the numbers.
"""
from __future__ import annotations

from dataclasses import dataclass

from il2lib import schema
from il2lib.survival.multivariable import COVARIATES
from il2lib.survival.time_origin import ORIGIN_COLUMNS

DEFAULT_CSV = "il2_cohort_filtered.csv"


@dataclass(frozen=True)
class Snippet:
    """Python code (always) and the equivalent R code (survival analyses; empty when none)."""

    python: str
    r: str = ""


def _py_head(csv: str) -> str:
    return f"import pandas as pd\n\ndf = pd.read_csv({csv!r})\n"


def _py_group(by: str | None) -> str:
    if by is None:
        return "None"
    if by == schema.LINE_OF_IL2:
        return f"df[{by!r}].map(line_group)"
    return f"df[{by!r}]"


def _r_head(csv: str, endpoint: str | None = None) -> str:
    text = f"library(survival)\ndf <- read.csv({_rstr(csv)})\n"
    if endpoint is not None:
        event_col = schema.ENDPOINTS[endpoint].event
        text += f"df${event_col} <- as.logical(df${event_col})\n"
    return text


def _r_group(by: str | None) -> str:
    if by is None:
        return "1"
    if by == schema.LINE_OF_IL2:
        return f'cut({by}, c(0, 1, 2, Inf), labels = c("1", "2", "3+"))'
    return by


def _rstr(text: str) -> str:
    return '"' + str(text).replace("\\", "\\\\").replace('"', '\\"') + '"'


def _surv(endpoint: str) -> str:
    ep = schema.ENDPOINTS[endpoint]
    return f"Surv({ep.time}, {ep.event})"


def _cols(endpoint: str) -> tuple[str, str]:
    ep = schema.ENDPOINTS[endpoint]
    return ep.time, ep.event


def _line_import(by: str | None) -> str:
    return "from il2lib import line_group\n" if by == schema.LINE_OF_IL2 else ""


def km_snippet(endpoint: str = "os", by: str | None = None, conf_type: str = "log-log",
               times=(12, 24, 36), csv: str = DEFAULT_CSV) -> Snippet:
    """Kaplan-Meier medians, survival at fixed times and the log-rank test."""
    t, e = _cols(endpoint)
    py = (_py_head(csv) + _line_import(by) + "from il2lib.survival import kaplan_meier, logrank_test\n\n"
          f"km = kaplan_meier(df[{t!r}], df[{e!r}].astype(float), conf_type={conf_type!r}, by={_py_group(by)})\n"
          "result = km.to_frame()\n")
    if by is not None:
        py += (f"test = logrank_test(df[{t!r}], df[{e!r}].astype(float), {_py_group(by)})\n"
               "print(test.statistic, test.df, test.pvalue)\n")
    py += "print(result)\n"
    times_r = ", ".join(f"{x:g}" for x in times)
    r = (_r_head(csv, endpoint) + f"fit <- survfit({_surv(endpoint)} ~ {_r_group(by)}, data = df, "
         f"conf.type = {_rstr(conf_type)})\nprint(fit)\nsummary(fit, times = c({times_r}))\n")
    if by is not None:
        r += f"survdiff({_surv(endpoint)} ~ {_r_group(by)}, data = df)\n"
    return Snippet(py, r)


def cox_snippet(endpoint: str = "os", covariates=("age", "sex", "ecog", "disease"), csv: str = DEFAULT_CSV) -> Snippet:
    """Multivariable Cox model (HR table, events per coefficient, cox.zph)."""
    py = (_py_head(csv) + "from il2lib.survival.multivariable import multivariable_cox\n\n"
          f"model = multivariable_cox(df, {endpoint!r}, {list(covariates)!r})\n"
          "result = model.table\nprint(model.message or result)\nprint(model.ph.table if model.ph else '')\n")
    terms = []
    for key in covariates:
        cov = COVARIATES[key]
        if cov.kind == "numeric":
            terms.append(f"I({cov.column} / {cov.scale:g})" if cov.scale != 1 else cov.column)
        elif key == "later_line":
            terms.append(f"I({cov.column} >= 2)")
        elif cov.kind == "binary":
            terms.append(f"as.logical({cov.column})")
        else:
            terms.append(f"relevel(factor({cov.column}), ref = {_rstr(cov.reference)})" if cov.reference
                         else f"factor({cov.column})")
    r = (_r_head(csv, endpoint) + f"fit <- coxph({_surv(endpoint)} ~ {' + '.join(terms)}, data = df, "
         'ties = "efron")\nsummary(fit)\ncox.zph(fit)\n')
    return Snippet(py, r)


def pairwise_logrank_snippet(endpoint: str, by: str, csv: str = DEFAULT_CSV) -> Snippet:
    """Pairwise log-rank with Holm and BH."""
    t, e = _cols(endpoint)
    py = (_py_head(csv) + _line_import(by) + "from il2lib.survival.pairwise import pairwise_logrank\n\n"
          f"result = pairwise_logrank(df[{t!r}], df[{e!r}].astype(float), {_py_group(by)}).table\nprint(result)\n")
    r = (_r_head(csv, endpoint) + f"df$g <- with(df, as.character({_r_group(by)}))\n"
         "pairs <- combn(sort(unique(na.omit(df$g))), 2)\n"
         "p <- apply(pairs, 2, function(ab) {\n"
         f"  s <- survdiff({_surv(endpoint)} ~ g, data = df[df$g %in% ab, ])\n"
         "  pchisq(s$chisq, 1, lower.tail = FALSE)\n})\n"
         'data.frame(a = pairs[1, ], b = pairs[2, ], p = p, holm = p.adjust(p, "holm"), BH = p.adjust(p, "BH"))\n')
    return Snippet(py, r)


def pairwise_fisher_snippet(by: str, outcome: str = "orr", cb_sd_months: float = schema.CB_SD_MONTHS_DEFAULT,
                            csv: str = DEFAULT_CSV) -> Snippet:
    """Pairwise Fisher's exact test of a response rate with Holm and BH."""
    py = (_py_head(csv) + "from il2lib.analyses.response import response_rates\n"
          "from il2lib.survival.pairwise import pairwise_fisher\n\n"
          f"rates = response_rates(df, {by!r}, {outcome!r}, cb_sd_months={cb_sd_months:g}).rates\n"
          "counts = {g: (x, n) for g, x, n in zip(rates['group'], rates['responders'], rates['n'])}\n"
          "result = pairwise_fisher(counts).table\nprint(result)\n")
    flag = {"orr": 'df$bor %in% c("CR", "PR")', "dcr": 'df$bor %in% c("CR", "PR", "SD")',
            "cbr": "as.logical(df$clinical_benefit)"}[outcome]
    r = (f"df <- read.csv({_rstr(csv)})\ndf$y <- {flag}\ndf$g <- with(df, as.character({_r_group(by)}))\n"
         "pairs <- combn(sort(unique(na.omit(df$g))), 2)\n"
         "p <- apply(pairs, 2, function(ab) { s <- df[df$g %in% ab & !is.na(df$y), ]; "
         "fisher.test(table(s$g, s$y))$p.value })\n"
         'data.frame(a = pairs[1, ], b = pairs[2, ], p = p, holm = p.adjust(p, "holm"), BH = p.adjust(p, "BH"))\n')
    return Snippet(py, r)


def milestone_snippet(endpoint: str, by: str, times=(12, 24), tau: float | None = None,
                      csv: str = DEFAULT_CSV) -> Snippet:
    """Survival differences at milestones and the RMST difference."""
    t, e = _cols(endpoint)
    py = (_py_head(csv) + _line_import(by) + "from il2lib.survival.milestones import rmst_differences, "
          "survival_differences\n\n"
          f"args = (df[{t!r}], df[{e!r}].astype(float), {_py_group(by)})\n"
          f"result = survival_differences(*args, {list(times)!r}).differences\nprint(result)\n"
          f"print(rmst_differences(*args, {tau!r}).differences)\n")
    tau_r = "NULL" if tau is None else f"{tau:g}"
    r = (_r_head(csv, endpoint) + f"fit <- survfit({_surv(endpoint)} ~ {_r_group(by)}, data = df)\n"
         f"s <- summary(fit, times = c({', '.join(f'{x:g}' for x in times)}))\n"
         "data.frame(strata = s$strata, time = s$time, surv = s$surv, se = s$std.err)\n"
         f"print(fit, rmean = {tau_r})  # RMST and se per group; difference = d, se = sqrt(se1^2 + se2^2)\n")
    return Snippet(py, r)


def cif_snippet(by: str | None = None, csv: str = DEFAULT_CSV) -> Snippet:
    """Cumulative incidence of progression, death without progression competing; Gray's test."""
    py = (_py_head(csv) + _line_import(by) + "from il2lib.survival.competing import cumulative_incidence, "
          "progression_competing_status\n\n"
          "time, status = progression_competing_status(df)\n"
          f"cr = cumulative_incidence(time, status, {_py_group(by)})\n"
          "result = cr.at([6, 12, 24])\nprint(result)\nprint(cr.gray)\n")
    group = "" if by is None else f", group = {_r_group(by)}"
    r = ("library(survival)\nlibrary(cmprsk)\n" f"df <- read.csv({_rstr(csv)})\n"
         "df$status <- ifelse(!as.logical(df$pfs_event), 0, ifelse(!is.na(df$date_progression) | "
         "as.logical(df$progressed) %in% TRUE, 1, 2))\n"
         f"ci <- with(df, cuminc(pfs_months, status{group}))\nci$Tests\ntimepoints(ci, c(6, 12, 24))\n"
         "summary(survfit(Surv(pfs_months, factor(status, 0:2)) ~ "
         f"{_r_group(by)}, data = df), times = c(6, 12, 24))\n")
    return Snippet(py, r)


def time_origin_snippet(endpoint: str, origin: str, by: str | None = None, csv: str = DEFAULT_CSV) -> Snippet:
    """Kaplan-Meier from another time origin with delayed entry."""
    py = (_py_head(csv) + _line_import(by) + "from il2lib.survival.time_origin import kaplan_meier_entry, "
          "origin_times\n\n"
          f"o = origin_times(df, {endpoint!r}, {origin!r})\nprint(o.note)\n"
          + (f"group = {_py_group(by)}[o.keep]\n" if by else "group = None\n")
          + "km = kaplan_meier_entry(o.entry, o.time, o.event, by=group)\n"
            "result = km.to_frame()\nprint(result)\n")

    t, e = _cols(endpoint)
    shift = "0" if origin == "il2_start" else \
        f"as.numeric(as.Date(df$date_il2_start) - as.Date(df${ORIGIN_COLUMNS[origin]})) / {schema.DAYS_PER_MONTH}"
    r = (_r_head(csv, endpoint) + f"df$shift <- {shift}\n"
         "df$entry <- df$shift  # plus any delay to registry entry (date_registry_entry)\n"
         f"df$exit <- df${t} + df$shift\n"
         f"fit <- survfit(Surv(entry, exit, {e}) ~ {_r_group(by)}, data = df, conf.type = \"log-log\")\nprint(fit)\n")
    return Snippet(py, r)


def _window_arg(window_days: float) -> str:
    """``", window_days=W"`` when the assessment window is not the default (the call then reproduces it)."""
    return "" if window_days == schema.ASSESSMENT_WINDOW_DAYS_DEFAULT else f", window_days={window_days:g}"


def response_snippet(by: str | None, ci_method: str = "exact", denominator: str = "itt",
                     cb_sd_months: float = schema.CB_SD_MONTHS_DEFAULT, csv: str = DEFAULT_CSV,
                     window_days: float = schema.ASSESSMENT_WINDOW_DAYS_DEFAULT) -> Snippet:
    """Response rates with CIs (and the published overlay)."""
    py = (_py_head(csv) + "from il2lib.analyses.response import best_response_table, response_rates\n"
          "from il2lib.analyses.published import response_overlay\n\n"
          f"print(best_response_table(df, {by!r}).display())  # best-response table and bar chart\n"
          f"rates = response_rates(df, {by!r}, ci_method={ci_method!r}, denominator={denominator!r}, "
          f"cb_sd_months={cb_sd_months:g}{_window_arg(window_days)})\nresult = rates.to_frame()\nprint(result)\n"
          "print(response_overlay(rates))  # our cohort beside the published series\n")
    test = "binom.test(x, n)$conf.int" if ci_method == "exact" else "prop.test(x, n, correct = FALSE)$conf.int"
    r = (f"df <- read.csv({_rstr(csv)})\n"
         + ("" if denominator == "itt" else 'df <- df[df$bor != "NE", ]\n')
         + "g <- " + ('rep("All", nrow(df))' if by is None else f"with(df, as.character({_r_group(by)}))") + "\n"
         'for (k in sort(unique(na.omit(g)))) { x <- sum(df$bor[g %in% k] %in% c("CR", "PR")); '
         f"n <- sum(g %in% k); print(c(k, x, n, {test})) }}\n")
    return Snippet(py, r)


def rates_figure_snippet(by: str, ci_method: str = "exact", denominator: str = "itt",
                         cb_sd_months: float = schema.CB_SD_MONTHS_DEFAULT, csv: str = DEFAULT_CSV,
                         window_days: float = schema.ASSESSMENT_WINDOW_DAYS_DEFAULT,
                         sd_minimum_weeks: float = schema.SD_MINIMUM_WEEKS_DEFAULT) -> Snippet:
    """ORR and CBR with their CIs by group, and the figure drawn from them."""
    sd_minimum = "" if sd_minimum_weeks == schema.SD_MINIMUM_WEEKS_DEFAULT else \
        f", sd_minimum_weeks={sd_minimum_weeks:g}"
    py = (_py_head(csv) + "from il2lib.analyses.response import response_rates\n"
          "from il2lib.figures.response import rates_by_group_figure\n\n"
          f"rates = response_rates(df, {by!r}, ci_method={ci_method!r}, denominator={denominator!r}, "
          f"cb_sd_months={cb_sd_months:g}{sd_minimum}{_window_arg(window_days)})\n"
          "fig = rates_by_group_figure(rates)  # fig.show() draws it; fig.write_image('rates.png') saves it\n"
          "result = rates.to_frame()\nprint(result)\n")
    return Snippet(py)


# ---------------------------------------------------------------- the other tables and figures of the pages
AE_CSV = "il2_adverse_events_filtered.csv"


def landmark_snippet(endpoint: str, by: str, landmark_months: float, cb_sd_months: float = schema.CB_SD_MONTHS_DEFAULT,
                     conf_type: str = "log-log", csv: str = DEFAULT_CSV,
                     window_days: float = schema.ASSESSMENT_WINDOW_DAYS_DEFAULT) -> Snippet:
    """Landmark analysis by response or clinical benefit (Python only: the status at L comes from the dates)."""
    t, e = _cols(endpoint)
    grouping = "response" if by == schema.OBJECTIVE_RESPONSE else "benefit"
    py = (_py_head(csv) + "from il2lib.survival import landmark\n\n"
          f"res = landmark(df, {t!r}, {e!r}, grouping={grouping!r}, landmark_months={landmark_months:g}, "
          f"cb_sd_months={cb_sd_months:g}, conf_type={conf_type!r}{_window_arg(window_days)})\nprint(res.note)\n"
          "result = res.km.to_frame()\nprint(result)\nprint(res.logrank.to_frame() if res.logrank else '')\n")
    return Snippet(py)


def bor_snippet(by: str | None, csv: str = DEFAULT_CSV) -> Snippet:
    """Best-overall-response counts per group."""
    py = (_py_head(csv) + "from il2lib.analyses.response import best_response_table\n\n"
          f"result = best_response_table(df, {by!r}).display()\nprint(result)\n")
    g = "1" if by is None else f"df${by}"
    return Snippet(py, f"df <- read.csv({_rstr(csv)})\ntable(factor(df$bor, levels = c(\"CR\", \"PR\", \"SD\", \"PD\", "
                       f"\"NE\")), {g})\n")


def forest_snippet(groupings, denominator: str = "itt", ci_method: str = "exact",
                   cb_sd_months: float = schema.CB_SD_MONTHS_DEFAULT, csv: str = DEFAULT_CSV) -> Snippet:
    """ORR with CI per subgroup (the forest plot's rows)."""
    py = (_py_head(csv) + "from il2lib.analyses.response import response_rates\n\n"
          f"rows = [response_rates(df, by, 'orr', ci_method={ci_method!r}, denominator={denominator!r}, "
          f"cb_sd_months={cb_sd_months:g}).rates.assign(by=by)\n        for by in {list(groupings)!r} if by in df]\n"
          "result = pd.concat(rows, ignore_index=True)\nprint(result)\n")
    return Snippet(py)


def swimmer_snippet(csv: str = DEFAULT_CSV) -> Snippet:
    """The swimmer plot's lanes (time on study, response onset, status)."""
    py = (_py_head(csv) + "from il2lib.figures.response import swimmer_data\n\n"
          "result = swimmer_data(df, max_patients=80)\nprint(result)\n")
    return Snippet(py)


def dor_snippet(conf_type: str = "log-log", csv: str = DEFAULT_CSV) -> Snippet:
    """Duration of response among responders."""
    py = (_py_head(csv) + "from il2lib.analyses.response import duration_of_response\n\n"
          f"result = duration_of_response(df, {conf_type!r}).to_frame()\nprint(result)\n")
    r = (_r_head(csv, "dor") + 'resp <- df[df$bor %in% c("CR", "PR"), ]\n'
         f"print(survfit({_surv('dor')} ~ 1, data = resp, conf.type = {_rstr(conf_type)}))\n")
    return Snippet(py, r)


def table1_snippet(by: str | None, csv: str = DEFAULT_CSV) -> Snippet:
    """Table 1 (patient characteristics, tests named in the footnotes)."""
    py = (_py_head(csv) + "from il2lib.analyses.table1 import table1\n\n"
          f"t1 = table1(df, {by!r})\nresult = t1.display()\nprint(result)\nprint(*t1.footnotes, sep='\\n')\n")
    return Snippet(py)


def biomarkers_snippet(cb_sd_months: float = schema.CB_SD_MONTHS_DEFAULT, adjust: str = "none",
                       csv: str = DEFAULT_CSV, window_days: float = schema.ASSESSMENT_WINDOW_DAYS_DEFAULT) -> Snippet:
    """Clinical benefit vs no benefit comparisons per disease."""
    py = (_py_head(csv) + "from il2lib.analyses.biomarkers import biomarker_comparison\n\n"
          f"res = biomarker_comparison(df, None, {cb_sd_months:g}, adjust={adjust!r}{_window_arg(window_days)})\n"
          "result = res.to_frame()\nprint(result)\n")
    return Snippet(py)


def toxicity_snippet(by: str | None, csv: str = DEFAULT_CSV, ae_csv: str = AE_CSV,
                     ae_complete: tuple[str, ...] = ()) -> Snippet:
    """Worst grade per patient and term, irAEs, by group (needs the exported AE rows too), and with a grouping the
    per-term grade >= 3 comparison (``grade3``); ``ae_complete``: the sources whose AE file was declared complete."""
    complete = f", ae_complete={tuple(ae_complete)!r}" if ae_complete else ""
    imports = "compare_grade3, toxicity_summary" if by else "toxicity_summary"
    py = (_py_head(csv) + f"ae = pd.read_csv({ae_csv!r})\nfrom il2lib.analyses.toxicity import {imports}\n\n"
          f"tox = toxicity_summary(ae, df, {by!r}{complete})\nresult = tox.by_term\nprint(tox.display())\n")
    if by:
        py += "\n# grade >= 3 per term between the groups: difference (Newcombe CI) and Fisher's p\n" \
              "grade3 = compare_grade3(tox)\nprint(grade3.display())\n"
    return Snippet(py)


def time_dependent_snippet(endpoint: str = "os", grouping: str = "response",
                           cb_sd_months: float = schema.CB_SD_MONTHS_DEFAULT, csv: str = DEFAULT_CSV,
                           window_days: float = schema.ASSESSMENT_WINDOW_DAYS_DEFAULT) -> Snippet:
    """Response (or clinical benefit) as a time-dependent covariate: Mantel-Byar test, Cox HR, Simon-Makuch curves.
    R (response only: its switch is the dated first response) splits follow-up with ``tmerge``."""
    py = (_py_head(csv) + "from il2lib.survival import response_time_dependent\n\n"
          f"res = response_time_dependent(df, {endpoint!r}, {grouping!r}, cb_sd_months={cb_sd_months:g}"
          f"{_window_arg(window_days)})\nprint(res.note)\n"
          "result = res.to_frame()  # Mantel-Byar chi-square and p, hazard ratio (95% CI)\nprint(result)\n"
          "print(res.simon_makuch.to_frame())\n")
    if grouping != "response":
        return Snippet(py)
    t, e = _cols(endpoint)
    r = (_r_head(csv, endpoint)
         + 'responder <- df$bor %in% c("CR", "PR")\n'
           f"df$switch <- ifelse(responder, as.numeric(as.Date(df$date_first_response) - as.Date(df$date_il2_start)) "
           f"/ {schema.DAYS_PER_MONTH}, NA)\n"
           "# left out: no time or status, time 0, no BOR, CR/PR without a date of first response\n"
           f"d <- df[!is.na(df${t}) & !is.na(df${e}) & df${t} > 0 & !is.na(df$bor) & df$bor != \"\" &\n"
           "        !(responder & is.na(df$switch)), ]\n"
           f"rows <- tmerge(d[, c(\"patient_id\", \"{t}\", \"{e}\")], d, id = patient_id, event = event({t}, {e}),\n"
           "               responded = tdc(switch))\n"
           "mb <- coxph(Surv(tstart, tstop, event) ~ responded, data = rows, ties = \"exact\")\n"
           "# Mantel-Byar test: the score test with exact ties (minutes when many event times are tied)\n"
           "cat(\"Mantel-Byar chi-square\", mb$score, \"p\", pchisq(mb$score, 1, lower.tail = FALSE), \"\\n\")\n"
           "fit <- coxph(Surv(tstart, tstop, event) ~ responded, data = rows)  # Efron ties: the hazard ratio\n"
           "print(summary(fit)$conf.int)\n"
           "sm <- survfit(Surv(tstart, tstop, event) ~ responded, data = rows)  # Simon-Makuch curves\n"
           "print(sm)\n")
    return Snippet(py, r)
