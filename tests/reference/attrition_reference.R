# Reference numbers for dapp_eval.estimators.survival / dapp_eval.analyses.attrition.
#
# Run from the repository root:
#     Rscript tests/reference/attrition_reference.R
# Needs R (>= 4.2) with the survival and cmprsk packages (Debian: r-cran-survival,
# r-cran-cmprsk) and jsonlite. Made with R 4.2, survival 3.5-3, cmprsk 2.2-11.
#
# Inputs : tests/reference/survival_rossi.csv (lifelines.datasets.load_rossi(),
#          written from Python so both sides read the same numbers)
# Outputs: tests/reference/survival_tied_data.csv  (tied competing-risks data made here)
#          tests/reference/survival_edge_data.csv  (small hand-made edge cases)
#          tests/reference/attrition_cuminc_curves.csv (cuminc estimates and variances)
#          tests/reference/attrition_km_curves.csv     (survfit, log-log CIs)
#          tests/reference/attrition_reference.json    (tests, crr, coxph, rmean, survdiff)
# The Python tests compare to these files to 1e-6 and never need R.

suppressPackageStartupMessages({
  library(survival)
  library(cmprsk)
  library(jsonlite)
})

out <- "tests/reference"
J <- list(
  R_version = R.version.string,
  survival_version = as.character(packageVersion("survival")),
  cmprsk_version = as.character(packageVersion("cmprsk"))
)

# ---------------------------------------------------------------------------
# 1. Tied competing-risks data, made deterministically
# ---------------------------------------------------------------------------
set.seed(20240607, kind = "Mersenne-Twister", normal.kind = "Inversion", sample.kind = "Rejection")
n <- 300
grp <- sample(c("A", "B", "C"), n, replace = TRUE)
x1 <- rbinom(n, 1, 0.45)
x2 <- round(rnorm(n), 1)
id <- sprintf("P%03d", sample(1:200, n, replace = TRUE))  # repeat episodes -> clusters
lp <- 0.6 * x1 - 0.4 * x2 + ifelse(grp == "B", 0.3, ifelse(grp == "C", -0.3, 0))
t1 <- rexp(n, 0.04 * exp(lp))        # cause 1
t2 <- rexp(n, 0.03 * exp(-0.5 * x1)) # cause 2
t3 <- rexp(n, 0.01)                  # cause 3
cens <- runif(n, 5, 45)
tt <- pmin(t1, t2, t3, cens)
cause <- ifelse(tt == cens, 0, ifelse(tt == t1, 1, ifelse(tt == t2, 2, 3)))
time <- ceiling(tt / 2)              # integer times: heavy ties, events and censorings tied
d <- data.frame(id = id, time = time, cause = cause, grp = grp, x1 = x1, x2 = x2)
write.csv(d, file.path(out, "survival_tied_data.csv"), row.names = FALSE)
grpB <- as.numeric(grp == "B")
grpC <- as.numeric(grp == "C")

# small hand-made edge cases: several causes and censorings at one time; data set
# "e1" ends with every remaining case failing from cause 1 (KM falls to 0); "e2"
# ends with a cause-2 failure that empties the risk set.
e <- rbind(
  data.frame(set = "e1",
             time = c(1, 1, 1, 2, 2, 2, 2, 3, 3, 4, 5, 5, 5, 6, 6),
             cause = c(1, 2, 0, 1, 1, 2, 0, 0, 2, 1, 1, 0, 2, 1, 1)),
  data.frame(set = "e2",
             time = c(1, 1, 2, 2, 2, 3, 4, 4, 5, 7, 7),
             cause = c(1, 1, 2, 1, 0, 1, 2, 0, 1, 2, 2))
)
write.csv(e, file.path(out, "survival_edge_data.csv"), row.names = FALSE)

# ---------------------------------------------------------------------------
# 2. cuminc: estimates and variances at every step; Gray's tests
# ---------------------------------------------------------------------------
curves <- list()
add_cuminc <- function(ci, dataset) {
  nm <- setdiff(names(ci), "Tests")
  for (k in nm) {
    parts <- strsplit(k, " ")[[1]]
    curves[[length(curves) + 1]] <<- data.frame(
      dataset = dataset, group = parts[1], cause = parts[2],
      time = ci[[k]]$time, est = ci[[k]]$est, var = ci[[k]]$var)
  }
}
ci_grp <- cuminc(d$time, d$cause, d$grp)
add_cuminc(ci_grp, "tied_by_grp")
ci_all <- cuminc(d$time, d$cause)
add_cuminc(ci_all, "tied_all")
for (s in c("e1", "e2")) {
  es <- e[e$set == s, ]
  add_cuminc(cuminc(es$time, es$cause), s)
}
write.csv(do.call(rbind, curves), file.path(out, "attrition_cuminc_curves.csv"), row.names = FALSE)

tests_df <- function(ci) {
  t <- ci$Tests
  data.frame(cause = rownames(t), stat = t[, "stat"], pv = t[, "pv"], df = t[, "df"])
}
J$gray_tests <- tests_df(ci_grp)
J$gray_tests_strata_x1 <- tests_df(cuminc(d$time, d$cause, d$grp, strata = d$x1))
J$gray_tests_rho1 <- tests_df(cuminc(d$time, d$cause, d$grp, rho = 1))
J$gray_tests_two_groups <- tests_df(cuminc(d$time, d$cause, d$x1))

# ---------------------------------------------------------------------------
# 3. crr (Fine-Gray); converged tightly, and with crr's defaults
# ---------------------------------------------------------------------------
X <- cbind(x1 = x1, x2 = x2, grpB = grpB, grpC = grpC)
crr_out <- function(f) list(coef = unname(f$coef), var = unname(f$var), loglik = f$loglik,
                            score = unname(f$score), converged = f$converged,
                            uftime = f$uftime, bfitj = f$bfitj)
J$crr_cause1 <- crr_out(crr(d$time, d$cause, X, failcode = 1, gtol = 1e-12, maxiter = 100))
J$crr_cause1_default <- crr_out(crr(d$time, d$cause, X, failcode = 1))
J$crr_cause2 <- crr_out(crr(d$time, d$cause, X, failcode = 2, gtol = 1e-12, maxiter = 100))
J$crr_cause1_x1 <- crr_out(crr(d$time, d$cause, cbind(x1 = x1), failcode = 1, gtol = 1e-12, maxiter = 100))

# ---------------------------------------------------------------------------
# 4. coxph: Rossi (published coefficients) and clustered cause-specific Cox
# ---------------------------------------------------------------------------
rossi <- read.csv(file.path(out, "survival_rossi.csv"))
cox_out <- function(f) list(coef = unname(coef(f)), names = names(coef(f)),
                            se = unname(sqrt(diag(if (is.null(f$naive.var)) f$var else f$naive.var))),
                            robust_se = unname(sqrt(diag(f$var))), loglik = f$loglik,
                            naive_var = unname(if (is.null(f$naive.var)) f$var else f$naive.var),
                            var = unname(f$var))
fr <- coxph(Surv(week, arrest) ~ fin + age + race + wexp + mar + paro + prio, data = rossi)
J$cox_rossi_efron <- cox_out(fr)
J$cox_rossi_breslow <- cox_out(coxph(Surv(week, arrest) ~ fin + age + race + wexp + mar + paro + prio,
                                     data = rossi, ties = "breslow"))
J$cox_tied_cluster_efron <- cox_out(coxph(Surv(time, cause == 1) ~ x1 + x2 + grpB + grpC + cluster(id),
                                          data = cbind(d, grpB, grpC)))
J$cox_tied_cluster_breslow <- cox_out(coxph(Surv(time, cause == 1) ~ x1 + x2 + grpB + grpC + cluster(id),
                                            data = cbind(d, grpB, grpC), ties = "breslow"))

# ---------------------------------------------------------------------------
# 5. Kaplan-Meier (log-log CIs), restricted means, log-rank
# ---------------------------------------------------------------------------
km_rows <- list()
add_km <- function(f, label) {
  s <- summary(f, censored = TRUE)
  km_rows[[length(km_rows) + 1]] <<- data.frame(
    fit = label, strata = if (is.null(s$strata)) "all" else sub("grp=", "", as.character(s$strata)),
    time = s$time, n_risk = s$n.risk, n_event = s$n.event, n_censor = s$n.censor,
    surv = s$surv, std_err = s$std.err, lower = s$lower, upper = s$upper)
}
f_drop <- survfit(Surv(time, cause == 1) ~ 1, data = d, conf.type = "log-log")
f_any <- survfit(Surv(time, cause > 0) ~ 1, data = d, conf.type = "log-log")
f_grp <- survfit(Surv(time, cause > 0) ~ grp, data = d, conf.type = "log-log")
add_km(f_drop, "cause1")
add_km(f_any, "any")
add_km(f_grp, "any_by_grp")
write.csv(do.call(rbind, km_rows), file.path(out, "attrition_km_curves.csv"), row.names = FALSE)

rm_one <- function(f, tau) {
  tb <- summary(f, rmean = tau)$table
  if (is.null(dim(tb))) tb <- t(as.matrix(tb))
  data.frame(strata = if (nrow(tb) == 1) "all" else sub("grp=", "", rownames(tb)),
             tau = tau, rmean = tb[, "rmean"], se = tb[, "se(rmean)"])
}
J$rmean <- rbind(rm_one(f_any, 12), rm_one(f_any, 15.5), rm_one(f_any, 40), rm_one(f_drop, 12),
                 rm_one(f_grp, 12))
J$rmean$fit <- c("any", "any", "any", "cause1", rep("any_by_grp", 3))

sd1 <- survdiff(Surv(time, cause == 1) ~ grp, data = d)
J$survdiff_cause1_grp <- list(chisq = sd1$chisq, df = length(sd1$n) - 1,
                              p = pchisq(sd1$chisq, length(sd1$n) - 1, lower.tail = FALSE),
                              obs = unname(sd1$obs), exp = unname(sd1$exp))
sd2 <- survdiff(Surv(week, arrest) ~ fin, data = rossi)
J$survdiff_rossi_fin <- list(chisq = sd2$chisq, df = 1, p = pchisq(sd2$chisq, 1, lower.tail = FALSE),
                             obs = unname(sd2$obs), exp = unname(sd2$exp))

writeLines(toJSON(J, digits = NA, auto_unbox = TRUE, pretty = TRUE, matrix = "rowmajor"),
           file.path(out, "attrition_reference.json"))
cat("written", file.path(out, "attrition_reference.json"), "\n")
