# Reference values for tests/test_stats.py (il2lib exact r x c Fisher, rank tests).
# Usage: Rscript tests/reference/scripts/make_analyses_reference.R tests/reference
suppressPackageStartupMessages(library(jsonlite))
args <- commandArgs(trailingOnly = TRUE)
outdir <- if (length(args) >= 1) args[1] else "."
tabs <- list(
  line_by_bor_n107 = matrix(c(3,5,11,15,2, 4,4,7,22,3, 2,3,5,20,1), 3, byrow = TRUE),
  four_by_four_n53 = matrix(c(3,4,5,6, 2,3,4,5, 1,2,3,4, 5,1,2,3), 4, byrow = TRUE),
  three_by_three_n300 = matrix(c(30,40,30, 35,30,35, 20,40,40), 3, byrow = TRUE),
  two_by_seven_n200 = matrix(c(5,8,10,20,30,12,15, 6,9,12,25,20,13,15), 2, byrow = TRUE),
  agents_six_by_two = matrix(c(5,25, 4,19, 1,1, 1,0, 0,1, 8,42), 6, byrow = TRUE)
)
fisher <- lapply(names(tabs), function(nm) {
  m <- tabs[[nm]]
  list(name = nm, table = lapply(seq_len(nrow(m)), function(i) m[i, ]),
       fisher_p = fisher.test(m, workspace = 2e8)$p.value,
       command = "fisher.test(m, workspace = 2e8)$p.value")
})
x <- c(12.1, 14.3, 9.8, 20.5, 16.2, 11.0, 13.7)
y <- c(8.4, 10.2, 7.7, 9.9, 12.8, 6.5)
g3 <- list(a = c(1.2, 3.4, 2.2, 5.1, 4.4), b = c(6.1, 2.8, 7.3, 5.5), c = c(9.0, 8.2, 7.7, 6.6, 9.9, 3.3))
nadir <- c(31, 28, 45, 34, 26, 52, 39, 61, 44, 70, 88, 46, 66, 95, 58, 73, 49, 81, 37, 64)
cb <- c(1, 1, 1, 1, 1, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0)
fit <- glm(cb ~ I(nadir / 10), family = binomial, control = glm.control(epsilon = 1e-14, maxit = 100))
logit <- list(x = nadir, y = cb, step = 10, odds_ratio = unname(exp(coef(fit))[2]),
              ci_lower = unname(exp(confint.default(fit))[2, 1]), ci_upper = unname(exp(confint.default(fit))[2, 2]),
              command = "glm(cb ~ I(nadir / 10), binomial, control = glm.control(epsilon = 1e-14)); exp(coef); exp(confint.default) (Wald)")
out <- list(r_version = R.version.string, fisher_rxc = fisher, logistic_or = logit,
            wilcox_exact = list(x = x, y = y, statistic_W = unname(wilcox.test(x, y)$statistic),
                                p_value = wilcox.test(x, y)$p.value, command = "wilcox.test(x, y) (no ties: exact)"),
            kruskal = list(groups = g3, statistic = unname(kruskal.test(g3)$statistic),
                           p_value = kruskal.test(g3)$p.value, command = "kruskal.test(list(a, b, c))"))
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE), file.path(outdir, "analyses.json"))
