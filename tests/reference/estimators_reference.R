# Reference numbers for tests/test_estimators.py (Cox, count models, paired tests), from R.
#
# Run from the project root:
#     Rscript tests/reference/estimators_reference.R
#
# Data written beside the numbers: est_lung.csv (survival::lung, complete cases),
# est_quine.csv (MASS::quine with a made-up exposure and made-up clusters of three
# pupils, the last one of size two), est_sleep.csv (datasets::sleep).
# Output: estimators_reference.csv (case, term, estimate, std_error, statistic, p_value,
#         ci_lower, ci_upper, df, extra), estimators_reference_versions.txt

suppressPackageStartupMessages({library(survival); library(MASS); library(sandwich)})
dir <- "tests/reference"
rows <- list()
add <- function(case, term, estimate, std_error = NA, statistic = NA, p_value = NA, ci_lower = NA,
                ci_upper = NA, df = NA, extra = NA) {
  rows[[length(rows) + 1]] <<- data.frame(case, term, estimate, std_error, statistic, p_value, ci_lower,
                                          ci_upper, df, extra)
}

# --- Cox: lung, Efron ties; model-based and clustered by institution, every 7th patient in a cluster of their own
lung2 <- na.omit(lung[, c("inst", "time", "status", "age", "sex", "ph.ecog")])
lung2$dead <- as.integer(lung2$status == 2)
lung2$cl <- ifelse(seq_len(nrow(lung2)) %% 7 == 0, 1000 + seq_len(nrow(lung2)), lung2$inst)  # 32 singletons
write.csv(lung2, file.path(dir, "est_lung.csv"), row.names = FALSE)
f1 <- coxph(Surv(time, dead) ~ age + sex + ph.ecog, data = lung2, ties = "efron",
            control = coxph.control(eps = 1e-11, iter.max = 100))
for (j in seq_along(coef(f1))) add("cox_lung", names(coef(f1))[j], coef(f1)[j], sqrt(diag(vcov(f1)))[j])
f2 <- coxph(Surv(time, dead) ~ age + sex + ph.ecog, data = lung2, ties = "efron", cluster = cl,
            control = coxph.control(eps = 1e-11, iter.max = 100))
for (j in seq_along(coef(f2))) add("cox_lung_cluster", names(coef(f2))[j], coef(f2)[j], sqrt(diag(vcov(f2)))[j],
                                   extra = sqrt(diag(f2$naive.var))[j])

# --- count models: quine
q <- quine
q$row <- seq_len(nrow(q))
q$expo <- 1 + (q$row %% 4) / 4
q$cl <- (q$row - 1) %/% 3
write.csv(q, file.path(dir, "est_quine.csv"), row.names = FALSE)
fp <- glm(Days ~ Eth + Sex + Age + Lrn + offset(log(expo)), family = poisson, data = q,
          control = glm.control(epsilon = 1e-14, maxit = 100))
tabv <- function(case, fit, V) {
  b <- coef(fit)
  for (j in seq_along(b)) add(case, names(b)[j], b[j], sqrt(diag(V))[j])
}
tabv("poisson_model", fp, vcov(fp))
tabv("poisson_HC1_cluster", fp, vcovCL(fp, cluster = ~cl, type = "HC1"))
tabv("poisson_HC0_cluster", fp, vcovCL(fp, cluster = ~cl, type = "HC0"))
tabv("poisson_HC1_rows", fp, vcovCL(fp, type = "HC1"))
fnb <- glm.nb(Days ~ Eth + Sex + Age + Lrn + offset(log(expo)), data = q,
              control = glm.control(epsilon = 1e-14, maxit = 100))
tabv("negbin_model", fnb, vcov(fnb))
add("negbin_model", "theta", fnb$theta, fnb$SE.theta)

# --- paired tests: sleep (drug 2 vs drug 1 in the same ten patients)
write.csv(sleep, file.path(dir, "est_sleep.csv"), row.names = FALSE)
x1 <- sleep$extra[sleep$group == 1]; x2 <- sleep$extra[sleep$group == 2]
tt <- t.test(x2, x1, paired = TRUE)
add("sleep_t", "mean_change", unname(tt$estimate), unname(tt$stderr), unname(tt$statistic), tt$p.value,
    tt$conf.int[1], tt$conf.int[2], unname(tt$parameter))
wt <- suppressWarnings(wilcox.test(x2, x1, paired = TRUE, exact = FALSE, correct = TRUE))
add("sleep_wilcoxon", "V", unname(wt$statistic), p_value = wt$p.value)

out <- do.call(rbind, rows)
write.csv(out, file.path(dir, "estimators_reference.csv"), row.names = FALSE)
writeLines(c(R.version.string, paste("survival", packageVersion("survival")), paste("MASS", packageVersion("MASS")),
             paste("sandwich", packageVersion("sandwich"))), file.path(dir, "estimators_reference_versions.txt"))
