# Reference numbers for tests/test_lmm.py and tests/test_risk.py.
#
# Inputs are made by tests/reference/risk_make_data.py (deterministic).
# Run from the repository root:
#   .venv/bin/python tests/reference/risk_make_data.py
#   Rscript tests/reference/risk_reference.R
# Output: tests/reference/risk_reference.json
#
# Made with R 4.2, lme4 1.1-31, lmerTest, emmeans 1.8.4, geepack 1.3.9, mice 3.15, jsonlite.
suppressPackageStartupMessages({
  library(lme4); library(lmerTest); library(emmeans); library(geepack); library(jsonlite)
})
ref <- "tests/reference"
out <- list(R_version = R.version.string,
            lme4 = as.character(packageVersion("lme4")),
            geepack = as.character(packageVersion("geepack")),
            emmeans = as.character(packageVersion("emmeans")))

# ---------------------------------------------------------------- LMM (lme4 REML)
d <- read.csv(file.path(ref, "risk_lmm_data.csv"), stringsAsFactors = FALSE)
d$timepoint <- factor(d$timepoint, levels = c("intake", "midpoint", "exit"))
d$site <- factor(d$site, levels = sort(unique(d$site)))
d$id <- factor(d$id)
ctrl <- lmerControl(optimizer = "bobyqa", optCtrl = list(rhobeg = 2e-3, rhoend = 1e-12, maxfun = 1e5))

lmm_out <- function(m) {
  s <- summary(m)  # lmerTest summary: Satterthwaite df
  vc <- as.data.frame(VarCorr(m))
  em <- emmeans(m, ~ timepoint, lmer.df = "satterthwaite")
  ems <- as.data.frame(summary(em))
  ema <- as.data.frame(summary(emmeans(m, ~ timepoint, lmer.df = "asymptotic")))
  con <- as.data.frame(summary(contrast(em, "trt.vs.ctrl", ref = 1, adjust = "none"), infer = TRUE))
  res <- list(
    coef_names = rownames(s$coefficients),
    fixef = unname(fixef(m)),
    se = unname(sqrt(diag(as.matrix(vcov(m))))),
    df = unname(s$coefficients[, "df"]),
    vcov = unname(as.matrix(vcov(m))),
    theta = unname(getME(m, "theta")),
    sigma = sigma(m),
    varcomp_names = vc$grp,
    varcomp = vc$vcov,
    remlcrit = unname(REMLcrit(m)),
    emm = list(timepoint = as.character(ems$timepoint), emmean = ems$emmean, SE = ems$SE, df = ems$df,
               lower = ems$lower.CL, upper = ems$upper.CL),
    emm_asymptotic = list(emmean = ema$emmean, SE = ema$SE, lower = ema$asymp.LCL, upper = ema$asymp.UCL),
    contrast = list(contrast = as.character(con$contrast), estimate = con$estimate, SE = con$SE,
                    df = con$df, lower = con$lower.CL, upper = con$upper.CL, p = con$p.value)
  )
  res
}
m1 <- lmer(score ~ timepoint + site + (1 | id), data = d, REML = TRUE, control = ctrl)
out$lmm_fixed_site <- lmm_out(m1)
emp <- as.data.frame(summary(emmeans(m1, ~ timepoint, weights = "proportional", lmer.df = "satterthwaite")))
out$lmm_fixed_site$emm_proportional <- list(emmean = emp$emmean, SE = emp$SE, df = emp$df)

d$id_site <- interaction(d$site, d$id, drop = TRUE)
m2 <- lmer(score ~ timepoint + (1 | site / id), data = d, REML = TRUE, control = ctrl)
out$lmm_random_site <- lmm_out(m2)

# same model fitted with lme4's default optimiser settings (what users get)
m2d <- lmer(score ~ timepoint + (1 | site / id), data = d, REML = TRUE)
out$lmm_random_site_default_optimizer <- list(fixef = unname(fixef(m2d)), theta = unname(getME(m2d, "theta")))

# ---------------------------------------------------------------- GEE (geepack)
dg <- d[order(d$id, d$timepoint), ]
gctrl <- geese.control(epsilon = 1e-12, maxit = 100)
g1 <- geeglm(high ~ timepoint + site, id = id, data = dg, family = binomial, corstr = "exchangeable",
             control = gctrl)
g2 <- geeglm(high ~ timepoint + site, id = id, data = dg, family = binomial, corstr = "exchangeable",
             control = gctrl, scale.fix = TRUE)
gee_out <- function(g) {
  s <- summary(g)
  list(coef_names = names(coef(g)), coef = unname(coef(g)), se = unname(s$coefficients[, "Std.err"]),
       alpha = unname(g$geese$alpha), scale = unname(g$geese$gamma))
}
out$gee_scale_est <- gee_out(g1)
out$gee_scale_fixed <- gee_out(g2)

# ---------------------------------------------------------------- paired statistics
p <- read.csv(file.path(ref, "risk_paired_data.csv"))
n <- nrow(p)
dif <- p$exit - p$intake
tt <- t.test(p$exit, p$intake, paired = TRUE)
wt <- suppressWarnings(wilcox.test(p$exit, p$intake, paired = TRUE, exact = FALSE, correct = TRUE))
# Cohen's d_z with the noncentral-t interval (Cumming & Finch 2001)
tval <- unname(tt$statistic)
ncp_ci <- function(t, df, alpha = 0.05) {
  lo <- uniroot(function(x) pt(t, df, ncp = x) - (1 - alpha / 2), c(t - 20, t + 20), tol = 1e-12)$root
  hi <- uniroot(function(x) pt(t, df, ncp = x) - alpha / 2, c(t - 20, t + 20), tol = 1e-12)$root
  c(lo, hi)
}
lam <- ncp_ci(tval, n - 1)
dz <- mean(dif) / sd(dif)
# Hedges' g_av = d_av * J(n - 1), d_av = mean diff / mean of the two SDs (Lakens 2013);
# interval: noncentral-t limits rescaled by S_diff / (sqrt(n) * S_av) (Algina & Keselman 2003), times J
sav <- (sd(p$intake) + sd(p$exit)) / 2
J <- exp(lgamma((n - 1) / 2) - log(sqrt((n - 1) / 2)) - lgamma((n - 2) / 2))
dav <- mean(dif) / sav
scale <- sd(dif) / (sqrt(n) * sav)
# reliable change, DASH assumptions SD 5, reliability 0.85
sdiff <- sqrt(2) * 5 * sqrt(1 - 0.85)
rci <- dif / sdiff
imp <- sum(rci <= -1.96); wor <- sum(rci >= 1.96)
wil <- function(x, n) unname(prop.test(x, n, correct = FALSE)$conf.int)
could <- sum(p$intake - 0 >= 1.96 * sdiff)
# exact McNemar for high risk (>= 14): binomial test on the discordant pairs
hi1 <- p$intake >= 14; hi2 <- p$exit >= 14
b <- sum(hi1 & !hi2); c_ <- sum(!hi1 & hi2)
bt <- binom.test(b, b + c_)
out$paired <- list(
  n = n, mean_diff = unname(tt$estimate), ci = unname(tt$conf.int), t = tval, t_p = tt$p.value,
  wilcoxon_V = unname(wt$statistic), wilcoxon_p = wt$p.value,
  dz = dz, dz_ci = lam / sqrt(n),
  gav = dav * J, gav_ci = lam * scale * J, J = J,
  sdiff = sdiff, improved = imp, worse = wor, improved_ci = wil(imp, n), worse_ci = wil(wor, n),
  unchanged_ci = wil(n - imp - wor, n), could = could,
  mcnemar_b = b, mcnemar_c = c_, mcnemar_exact_p = bt$p.value,
  mcnemar_exact_prop_ci = unname(bt$conf.int),
  mcnemar_asymptotic_p = mcnemar.test(table(factor(hi1, c(TRUE, FALSE)), factor(hi2, c(TRUE, FALSE))))$p.value,
  holm_example = p.adjust(c(0.01, 0.04, 0.03, 0.2), "holm")
)

# ---------------------------------------------------------------- IPW (inverse probability of attrition)
# population: ids with an intake score in risk_lmm_data.csv; outcome observed = has an exit score
w <- reshape(d[d$timepoint %in% c("intake", "exit"), c("id", "site", "timepoint", "score")],
             idvar = c("id", "site"), timevar = "timepoint", direction = "wide")
w <- w[!is.na(w$score.intake), ]
w$obs <- as.numeric(!is.na(w$score.exit))
am <- glm(obs ~ score.intake + site, family = binomial, data = w)
w$wt <- mean(w$obs) / fitted(am)
o <- w[w$obs == 1, ]
dd <- o$score.exit - o$score.intake
ipw_mean <- sum(o$wt * dd) / sum(o$wt)
ipw_se <- sqrt(sum(o$wt^2 * (dd - ipw_mean)^2)) / sum(o$wt)
imp <- as.numeric(-dd / sdiff >= qnorm(0.975))
ipw_imp <- sum(o$wt * imp) / sum(o$wt)
ipw_imp_se <- sqrt(sum(o$wt^2 * (imp - ipw_imp)^2)) / sum(o$wt)
out$ipw <- list(n = nrow(w), n_obs = nrow(o), attrition_coef = unname(coef(am)), mean_change = ipw_mean,
                se = ipw_se, reliably_improved = ipw_imp, reliably_improved_se = ipw_imp_se,
                weight_min = min(o$wt), weight_max = max(o$wt))

# ---------------------------------------------------------------- Rubin's rules (mice::pool.scalar)
if (requireNamespace("mice", quietly = TRUE)) {
  Q <- c(-2.1, -2.5, -2.3, -1.9, -2.6); U <- c(0.040, 0.050, 0.045, 0.042, 0.048)
  ps <- mice::pool.scalar(Q, U, n = 120, k = 1)
  out$rubin <- list(Q = Q, U = U, n = 120, qbar = ps$qbar, t = ps$t, df = ps$df, b = ps$b, ubar = ps$ubar,
                    fmi = ps$fmi, mice = as.character(packageVersion("mice")))
}

writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE), file.path(ref, "risk_reference.json"))
cat("written", file.path(ref, "risk_reference.json"), "\n")
