# Reference values for competing risks, pairwise tests,
# milestone and RMST differences, delayed entry. Debian: r-base-core r-cran-survival r-cran-cmprsk r-cran-jsonlite.
# Usage: Rscript make_survival_extended.R <outdir>   (writes <outdir>/survival_extended.json and <outdir>/mgus2.csv)
suppressPackageStartupMessages({ library(survival); library(cmprsk); library(jsonlite) })
args <- commandArgs(trailingOnly = TRUE)
outdir <- if (length(args) >= 1) args[1] else "."
wj <- function(x, path) writeLines(toJSON(x, digits = NA, auto_unbox = TRUE, na = "null", null = "null", pretty = TRUE), path)

# ---- competing risks: survival::mgus2, progression (1) vs death without progression (2)
m <- mgus2
m$etime <- ifelse(m$pstat == 0, m$futime, m$ptime)
m$event <- ifelse(m$pstat == 0, 2 * m$death, 1)
m$agegrp <- as.character(cut(m$age, c(0, 65, 75, Inf), labels = c("le65", "66-75", "gt75")))
write.csv(m[, c("id", "sex", "age", "agegrp", "hgb", "etime", "event")], file.path(outdir, "mgus2.csv"), row.names = FALSE)
times <- c(12, 60, 120, 240)
cif_of <- function(g) {
  ci <- cuminc(m$etime, m$event, group = g)
  tp <- timepoints(ci, times)
  list(tests = lapply(seq_len(nrow(ci$Tests)), function(i) list(cause = rownames(ci$Tests)[i],
         stat = ci$Tests[i, "stat"], pv = ci$Tests[i, "pv"], df = ci$Tests[i, "df"])),
       times = times, est = lapply(rownames(tp$est), function(r) list(curve = r, est = unname(tp$est[r, ]),
         var = unname(tp$var[r, ]))))
}
ci_rho1 <- cuminc(m$etime, m$event, group = m$sex, rho = 1)
ci_strat <- cuminc(m$etime, m$event, group = m$sex, strata = m$agegrp)
aj <- survfit(Surv(etime, factor(event, 0:2, c("censor", "pcm", "death"))) ~ sex, data = m)
saj <- summary(aj, times = times)
competing <- list(
  call = "cuminc(etime, event, group = sex); timepoints(ci, c(12, 60, 120, 240))",
  by_sex = cif_of(m$sex), by_agegrp = cif_of(m$agegrp),
  gray_rho1 = list(stat = ci_rho1$Tests[1, "stat"], pv = ci_rho1$Tests[1, "pv"]),
  gray_strata_agegrp = list(stat = ci_strat$Tests[1, "stat"], pv = ci_strat$Tests[1, "pv"]),
  aalen_johansen = list(call = "summary(survfit(Surv(etime, factor(event)) ~ sex), times = c(12, 60, 120, 240))",
    strata = as.character(saj$strata), time = saj$time, pstate_pcm = saj$pstate[, 2], se_pcm = saj$std.err[, 2],
    pstate_death = saj$pstate[, 3]))

# ---- pairwise log-rank (every pair of groups, survdiff on the pair) with Holm and BH
vet <- veteran
pair_lr <- function(d, col) {
  lv <- sort(unique(as.character(d[[col]])))
  pr <- combn(lv, 2)
  out <- lapply(seq_len(ncol(pr)), function(k) {
    s <- d[as.character(d[[col]]) %in% pr[, k], ]
    sd <- survdiff(Surv(s$time, s$status) ~ as.character(s[[col]]))
    list(a = pr[1, k], b = pr[2, k], chisq = sd$chisq, p = pchisq(sd$chisq, 1, lower.tail = FALSE))
  })
  p <- sapply(out, `[[`, "p")
  list(pairs = out, holm = p.adjust(p, "holm"), BH = p.adjust(p, "BH"))
}
lung2 <- lung[!is.na(lung$ph.ecog) & lung$ph.ecog < 3, ]
pairwise_logrank <- list(veteran_celltype = pair_lr(vet, "celltype"), lung_ph_ecog = pair_lr(lung2, "ph.ecog"))

# ---- pairwise Fisher on response counts
resp <- list(A = c(9, 40), B = c(4, 17), C = c(9, 36), D = c(2, 30))
pr <- combn(names(resp), 2)
fp <- lapply(seq_len(ncol(pr)), function(k) {
  a <- resp[[pr[1, k]]]; b <- resp[[pr[2, k]]]
  list(a = pr[1, k], b = pr[2, k], p = fisher.test(matrix(c(a[1], a[2] - a[1], b[1], b[2] - b[1]), 2, byrow = TRUE))$p.value)
})
pv <- sapply(fp, `[[`, "p")
pairwise_fisher <- list(counts = resp, pairs = fp, holm = p.adjust(pv, "holm"), BH = p.adjust(pv, "BH"))

# ---- milestone survival difference and RMST difference (normal approximation on the difference)
fl <- survfit(Surv(time, status) ~ sex, data = lung)
sl <- summary(fl, times = c(180, 365, 730))
z <- qnorm(0.975)
ms <- lapply(c(180, 365, 730), function(t) {
  i <- which(sl$time == t)
  s <- sl$surv[i]; se <- sl$std.err[i]
  d <- s[1] - s[2]; sed <- sqrt(sum(se^2))
  list(time = t, surv = s, se = se, diff = d, se_diff = sed, lower = d - z * sed, upper = d + z * sed)
})
fv <- survfit(Surv(time, status) ~ trt, data = vet)
rt <- summary(fv, rmean = 365)$table
rm <- unname(rt[, "rmean"]); rse <- unname(rt[, "se(rmean)"])
rmst <- list(call = "summary(survfit(Surv(time, status) ~ trt, veteran), rmean = 365)$table",
             tau = 365, rmean = rm, se = rse, diff = rm[2] - rm[1], se_diff = sqrt(sum(rse^2)),
             lower = rm[2] - rm[1] - z * sqrt(sum(rse^2)), upper = rm[2] - rm[1] + z * sqrt(sum(rse^2)))
milestones <- list(call = "summary(survfit(Surv(time, status) ~ sex, lung), times = c(180, 365, 730))",
                   lung_sex = ms, veteran_rmst = rmst)

# ---- delayed entry (left truncation): lung with entry = (inst %% 4) * 30 days, rows with entry < time
lt <- lung[!is.na(lung$inst), ]
lt$entry <- (lt$inst %% 4) * 30
lt <- lt[lt$entry < lt$time, ]
write.csv(lt[, c("inst", "time", "status", "sex", "entry")], file.path(outdir, "lung_entry.csv"), row.names = FALSE)
f1 <- survfit(Surv(entry, time, status) ~ 1, data = lt)
q1 <- quantile(f1, 0.5)
cx <- coxph(Surv(entry, time, status) ~ sex, data = lt, ties = "breslow")
fs <- survfit(Surv(entry, time, status) ~ sex, data = lt)
delayed <- list(call = "survfit(Surv(entry, time, status) ~ 1, lung with entry = (inst %% 4) * 30)",
  n = nrow(lt), n_truncated = sum(lt$entry > 0),
  km = list(time = f1$time, n.risk = f1$n.risk, n.event = f1$n.event, surv = f1$surv, std.err = f1$std.err,
            lower = f1$lower, upper = f1$upper, conf.type = f1$conf.type,
            median = unname(q1$quantile), lcl = unname(q1$lower), ucl = unname(q1$upper)),
  by_sex_median = unname(quantile(fs, 0.5)$quantile),
  logrank_score = list(call = "coxph(Surv(entry, time, status) ~ sex, ties = 'breslow')$score",
                       chisq = unname(cx$score), p = pchisq(cx$score, 1, lower.tail = FALSE)))

wj(list(r_version = R.version.string, survival_version = as.character(packageVersion("survival")),
        cmprsk_version = as.character(packageVersion("cmprsk")), competing = competing,
        pairwise_logrank = pairwise_logrank, pairwise_fisher = pairwise_fisher, milestones = milestones,
        delayed_entry = delayed), file.path(outdir, "survival_extended.json"))
