# Reference values for near-equal times (tests/test_survival_time_ties.py): R's survival (>= 3.0) passes the
# response through aeqSurv() by default (survfit and survdiff timefix = TRUE, coxph.control(timefix = TRUE)), so
# times within sqrt(.Machine$double.eps) of each other (absolutely, or relative to the mean distinct time) are
# one time. The data have such near-ties: t * (1 + 1e-12), t + 1e-14 (a CSV round trip), days / 30.4375 computed
# two ways, a chain t, t + 1e-8, t + 2e-8 (each step tied, the ends 2e-8 apart), a gap of 1e-7 (tied only by the
# relative rule) and a gap of 1e-6 (not tied), across groups and between events and censorings; and
# counting-process rows whose start times are near-equal to other rows' stop times.
# Debian: r-base-core r-cran-survival r-cran-jsonlite.
# Usage (repository root): Rscript tests/reference/scripts/make_time_ties.R tests/reference
# writes <outdir>/time_ties.json (the data as exact hexadecimal doubles, and R's results with timefix = TRUE; the
# timefix = FALSE survfit times too, to show the near-ties matter).
suppressPackageStartupMessages({ library(survival); library(jsonlite) })
args <- commandArgs(trailingOnly = TRUE)
outdir <- if (length(args) >= 1) args[1] else "."
wj <- function(x, path) writeLines(toJSON(x, digits = NA, auto_unbox = TRUE, na = "null", null = "null", pretty = TRUE), path)
hex <- function(x) sprintf("%a", x)
ctl <- coxph.control(eps = 1e-14, iter.max = 100, toler.chol = 1e-15)  # converged fully; timefix = TRUE (default)

set.seed(20261207)
n <- 48
days <- sample(20:1100, n)
time <- days / 30.4375
time[2] <- time[1] * (1 + 1e-12)                              # relative 1e-12
time[4] <- time[3] + 1e-14                                    # a CSV round trip
time[6] <- (days[5] * 86400 / 86400) * (1 / 30.4375) + 4e-15  # days / 30.4375 another way
time[5] <- days[5] / 30.4375
time[8] <- time[7] + 1e-8                                     # a chain: each step tied by the absolute rule,
time[9] <- time[7] + 2e-8                                     # the ends (2e-8) are not
time[11] <- time[10] + 1e-7                                   # tied by the relative rule only (mean ~ 18)
time[13] <- time[12] + 1e-6                                   # not tied
time[15] <- time[14] * (1 - 3e-13)                            # the later-listed value is the smaller one
status <- rep(c(1L, 1L, 0L, 1L), length.out = n)
status[c(3, 5, 8, 12, 15)] <- c(1L, 0L, 1L, 0L, 1L)
group <- rep(c("a", "b"), length.out = n)                     # each near-tied pair spans both groups
stratum <- rep(c("s1", "s2"), each = n / 2)
x <- round(rnorm(n), 2)
d <- data.frame(time, status, group, stratum, x)

km_out <- function(f) list(time = hex(f$time), n.risk = f$n.risk, n.event = f$n.event, n.censor = f$n.censor,
                           surv = f$surv, std.err = f$std.err, strata = if (is.null(f$strata)) NULL else unname(f$strata),
                           median = unname(quantile(f, 0.5)$quantile))
cox_out <- function(fit) list(coef = unname(coef(fit)), se = unname(sqrt(diag(vcov(fit)))), loglik = fit$loglik,
                              score = unname(fit$score), wald = unname(fit$wald.test),
                              concordance = unname(fit$concordance["concordance"]))
rmean <- function(f, tau) { s <- summary(f, rmean = tau)$table; list(rmean = unname(s["rmean"]), se = unname(s["se(rmean)"])) }

f1 <- survfit(Surv(time, status) ~ 1, data = d)
fg <- survfit(Surv(time, status) ~ group, data = d)
right <- list(
  km = km_out(f1), km_by_group = km_out(fg),
  km_timefix_false_times = hex(survfit(Surv(time, status) ~ 1, data = d, timefix = FALSE)$time),
  rmst = rmean(f1, 24),
  survdiff = unname(survdiff(Surv(time, status) ~ group, data = d)$chisq),
  survdiff_strata = unname(survdiff(Surv(time, status) ~ group + strata(stratum), data = d)$chisq),
  cox_efron = cox_out(coxph(Surv(time, status) ~ group + x, data = d, control = ctl)),
  cox_breslow = cox_out(coxph(Surv(time, status) ~ group + x, data = d, ties = "breslow", control = ctl)),
  cox_strata = cox_out(coxph(Surv(time, status) ~ group + x + strata(stratum), data = d, control = ctl)),
  cox_efron_timefix_false = cox_out(coxph(Surv(time, status) ~ group + x, data = d,
                                          control = coxph.control(eps = 1e-14, iter.max = 100, toler.chol = 1e-15,
                                                                  timefix = FALSE))))

# ---- counting process: patients with a switch get (0, s] status 0 and (s, time] status 1; s is another
# patient's time moved by a near-tie, so start times and stop times are near-equal across rows
sw <- rep(NA_real_, n)
for (i in seq(1, n, by = 3)) {
  earlier <- which(time < 0.7 * time[i] & time > 0.05 * time[i])
  if (length(earlier)) sw[i] <- time[earlier[1]] * (1 + 5e-13)
}
rows <- do.call(rbind, lapply(seq_len(n), function(i) {
  if (is.na(sw[i])) data.frame(tstart = 0, tstop = time[i], event = status[i], responded = 0L)
  else data.frame(tstart = c(0, sw[i]), tstop = c(sw[i], time[i]), event = c(0L, status[i]), responded = c(0L, 1L))
}))
counting <- list(
  km = km_out(survfit(Surv(tstart, tstop, event) ~ 1, data = rows)),
  km_by_status = km_out(survfit(Surv(tstart, tstop, event) ~ responded, data = rows)),
  km_timefix_false_times = hex(survfit(Surv(tstart, tstop, event) ~ 1, data = rows, timefix = FALSE)$time),
  cox_efron = cox_out(coxph(Surv(tstart, tstop, event) ~ responded, data = rows, control = ctl)),
  score_exact = unname(coxph(Surv(tstart, tstop, event) ~ responded, data = rows, ties = "exact", control = ctl)$score),
  score_breslow = unname(coxph(Surv(tstart, tstop, event) ~ responded, data = rows, ties = "breslow",
                               control = ctl)$score))
collapsed <- tryCatch({ survfit(Surv(c(0, 1), c(1, 1 * (1 + 1e-12)), c(1, 1)) ~ 1); "no error" },
                      error = function(e) conditionMessage(e))

wj(list(r_version = R.version.string, survival_version = as.character(packageVersion("survival")),
        tolerance = hex(sqrt(.Machine$double.eps)),
        data = list(time = hex(d$time), status = d$status, group = d$group, stratum = d$stratum, x = d$x),
        rows = list(tstart = hex(rows$tstart), tstop = hex(rows$tstop), event = rows$event, responded = rows$responded),
        right = right, counting = counting, collapsed_interval_error = collapsed),
   file.path(outdir, "time_ties.json"))
