# Reference values for response as a time-dependent covariate (tests/test_time_dependent_response.py):
# tmerge rows, the Mantel-Byar test (score test of coxph(..., ties = "exact")), the Efron Cox model and the
# Simon-Makuch curves (survfit on the counting-process rows), on survival::heart and on the synthetic cohort.
# Debian: r-base-core r-cran-survival r-cran-jsonlite.
# Usage (repository root):
#   .venv/bin/python tests/reference/scripts/export_time_dependent_cohort.py tests/reference
#   Rscript tests/reference/scripts/make_time_dependent.R tests/reference
# reads <outdir>/time_dependent_cohort.csv; writes <outdir>/heart.csv and <outdir>/time_dependent.json.
suppressPackageStartupMessages({ library(survival); library(jsonlite) })
args <- commandArgs(trailingOnly = TRUE)
outdir <- if (length(args) >= 1) args[1] else "."
wj <- function(x, path) writeLines(toJSON(x, digits = NA, auto_unbox = TRUE, na = "null", null = "null", pretty = TRUE), path)
ctl <- coxph.control(eps = 1e-14, iter.max = 100, toler.chol = 1e-15)  # converged fully, not at R's 1e-9
MIN_AT_RISK <- 5

curve <- function(f) list(time = f$time, n.risk = f$n.risk, n.event = f$n.event, n.censor = f$n.censor,
                          surv = f$surv, std.err = f$std.err, lower = f$lower, upper = f$upper,
                          median = unname(quantile(f, 0.5)$quantile), median_lcl = unname(quantile(f, 0.5)$lower),
                          median_ucl = unname(quantile(f, 0.5)$upper), n = f$n)

analyse <- function(d) {  # d: tstart, tstop, event, responded (0/1)
  ex <- coxph(Surv(tstart, tstop, event) ~ responded, data = d, ties = "exact", control = ctl)
  ef <- coxph(Surv(tstart, tstop, event) ~ responded, data = d, ties = "efron", control = ctl)
  br <- coxph(Surv(tstart, tstop, event) ~ responded, data = d, ties = "breslow", control = ctl)
  s <- summary(ef)
  by_status <- lapply(0:1, function(g) curve(survfit(Surv(tstart, tstop, event) ~ 1, data = d[d$responded == g, ],
                                                     conf.type = "log-log")))
  one <- by_status[[2]]
  t0 <- min(one$time[one$n.risk >= MIN_AT_RISK])
  started <- curve(survfit(Surv(tstart, tstop, event) ~ 1, data = d[d$responded == 1, ], conf.type = "log-log",
                           start.time = t0))
  list(n_rows = nrow(d), n_events = sum(d$event),
       mantel_byar = list(call = "coxph(Surv(tstart, tstop, event) ~ responded, ties = 'exact')$score",
                          chisq = unname(ex$score), p = pchisq(unname(ex$score), 1, lower.tail = FALSE)),
       breslow_score = unname(br$score), efron_score = unname(ef$score),
       cox_efron = list(call = "coxph(Surv(tstart, tstop, event) ~ responded, ties = 'efron')",
                        coef = unname(coef(ef)), se = unname(sqrt(diag(vcov(ef)))), hr = unname(exp(coef(ef))),
                        hr_lower = unname(s$conf.int[1, "lower .95"]), hr_upper = unname(s$conf.int[1, "upper .95"]),
                        z = unname(s$coefficients[1, "z"]), p = unname(s$coefficients[1, "Pr(>|z|)"]),
                        loglik = ef$loglik,
                        wald = list(stat = unname(ef$wald.test), p = pchisq(unname(ef$wald.test), 1, lower.tail = FALSE)),
                        lr = list(stat = 2 * diff(ef$loglik), p = pchisq(2 * diff(ef$loglik), 1, lower.tail = FALSE)),
                        score = list(stat = unname(ef$score), p = pchisq(unname(ef$score), 1, lower.tail = FALSE))),
       survfit = list(call = "survfit(Surv(tstart, tstop, event) ~ 1, subset responded == g, conf.type = 'log-log')",
                      status0 = by_status[[1]], status1 = by_status[[2]]),
       status1_started = list(call = sprintf("survfit(..., responded == 1, start.time = t0): t0 = first time with n.risk >= %d",
                                             MIN_AT_RISK), start.time = t0, curve = started))
}

# ---- survival::heart (Stanford heart transplant; already in counting-process form, transplant time-varying)
h <- heart
h$transplant <- as.integer(as.character(h$transplant))
write.csv(h, file.path(outdir, "heart.csv"), row.names = FALSE)
heart_ref <- analyse(data.frame(tstart = h$start, tstop = h$stop, event = h$event, responded = h$transplant))

# ---- the synthetic cohort: overall survival, response (dated CR/PR) and clinical benefit (il2lib's switch months)
co <- read.csv(file.path(outdir, "time_dependent_cohort.csv"), stringsAsFactors = FALSE)
resp <- co$bor_counted %in% c("CR", "PR")
co$response_months <- ifelse(resp, as.numeric(as.Date(co$date_first_response) - as.Date(co$date_il2_start)) / 30.4375,
                             NA)
rows_of <- function(switch) {
  base <- co[, c("patient_id", "os_months", "os_event")]
  base$switch <- switch
  m <- tmerge(base[, c("patient_id", "os_months", "os_event")], base, id = patient_id,
              death = event(os_months, os_event), responded = tdc(switch))
  data.frame(patient_id = m$patient_id, tstart = m$tstart, tstop = m$tstop, event = m$death, responded = m$responded)
}
cohort_ref <- list()
for (g in c("response", "benefit")) {
  rows <- rows_of(if (g == "response") co$response_months else co$benefit_months)
  cohort_ref[[g]] <- c(list(rows = rows), analyse(rows))
}

wj(list(r_version = R.version.string, survival_version = as.character(packageVersion("survival")),
        min_at_risk = MIN_AT_RISK, heart = heart_ref, cohort = cohort_ref),
   file.path(outdir, "time_dependent.json"))
