# Reference numbers for tests/test_estimators_methods.py (recurrent events, propensity weighting,
# E-values, interrupted time series), from R on R's own data.
#
# Run from the project root:
#     Rscript tests/reference/methods_reference.R
#
# Needs survival, sandwich and MatchIt (for its copy of the lalonde data). reda, EValue, WeightIt and
# cobalt are not packaged for this system (Debian bookworm has no r-cran-reda / -evalue / -weightit /
# -cobalt), so their numbers are computed here from the packages' published formulas, each written out
# below with the source it follows:
#   reda::mcf            Lawless & Nadeau (1995) variance, reda/inst/include/reda/nonparametric_mcf.h
#                        (compute_var_ln); checked here against survival::survfit(id =) robust SE too
#   WeightIt (ATT, glm)  weights 1 (treated), ps / (1 - ps) (control); WeightIt::trim(at = q) sets control
#                        weights above their type-3 q-quantile to it (R/trim.R, .trim_weights)
#   cobalt::bal.tab      s.d.denom = "treated" for the ATT; binary covariates raw difference; weighted variance
#                        sum(w) / (sum(w)^2 - sum(w^2)) * sum(w (x - m_w)^2) (R/utils.R col.w.v, vignettes/faq.Rmd)
#   EValue::evalues.RR / evalues.HR   threshold() and toRR.HR() in EValue/R/EValue.R, effect_measures.R
#                        (VanderWeele & Ding 2017)
# Data written beside the numbers: methods_bladder2.csv (survival::bladder2), methods_cgd.csv
# (survival::cgd, counting-process rows), methods_lalonde.csv (MatchIt::lalonde), methods_nile.csv (datasets::Nile),
# methods_seatbelts.csv (datasets::Seatbelts).
# Output: methods_reference.csv (case, term, estimate, std_error, ci_lower, ci_upper, extra),
#         methods_mcf.csv (MCF curves), methods_reference_versions.txt

suppressPackageStartupMessages({library(survival); library(sandwich)})
dir <- "tests/reference"
rows <- list()
add <- function(case, term, estimate, std_error = NA, ci_lower = NA, ci_upper = NA, extra = NA) {
  rows[[length(rows) + 1]] <<- data.frame(case, term, estimate, std_error, ci_lower, ci_upper, extra)
}

# --- Andersen-Gill / LWYY: bladder2 (start, stop] rows, clustered by patient -----------------------
b2 <- bladder2[, c("id", "rx", "number", "size", "start", "stop", "event")]
write.csv(b2, file.path(dir, "methods_bladder2.csv"), row.names = FALSE)
ctl <- coxph.control(eps = 1e-11, iter.max = 100)  # below toler.chol (1.8e-12) R warns
ag <- coxph(Surv(start, stop, event) ~ rx + number + size, data = b2, ties = "efron", control = ctl)
lw <- coxph(Surv(start, stop, event) ~ rx + number + size + cluster(id), data = b2, ties = "efron", control = ctl)
for (j in seq_along(coef(ag))) add("ag_bladder2", names(coef(ag))[j], coef(ag)[j], sqrt(diag(vcov(ag)))[j])
for (j in seq_along(coef(lw))) add("lwyy_bladder2", names(coef(lw))[j], coef(lw)[j], sqrt(diag(vcov(lw)))[j],
                                   extra = sqrt(diag(lw$naive.var))[j])
agb <- coxph(Surv(start, stop, event) ~ rx + number + size + cluster(id), data = b2, ties = "breslow", control = ctl)
for (j in seq_along(coef(agb))) add("lwyy_bladder2_breslow", names(coef(agb))[j], coef(agb)[j],
                                    sqrt(diag(vcov(agb)))[j])
# cgd: treatment and steroids, clustered by patient
cg <- cgd[, c("id", "tstart", "tstop", "status", "treat", "steroids", "age")]
cg$treat <- as.integer(cg$treat == "rIFN-g")
write.csv(cg, file.path(dir, "methods_cgd.csv"), row.names = FALSE)
lc <- coxph(Surv(tstart, tstop, status) ~ treat + steroids + age + cluster(id), data = cg, ties = "efron",
            control = ctl)
for (j in seq_along(coef(lc))) add("lwyy_cgd", names(coef(lc))[j], coef(lc)[j], sqrt(diag(vcov(lc)))[j],
                                   extra = sqrt(diag(lc$naive.var))[j])

# --- MCF: cgd by treatment, Nelson-Aalen of the pooled process with the Lawless-Nadeau variance ----------
mcf_ln <- function(d) {  # reda's compute_point_estimate + compute_var_ln, written in R
  tj <- sort(unique(d$tstop[d$status == 1]))
  Y <- sapply(tj, function(t) length(unique(d$id[d$tstart < t & t <= d$tstop])))
  dN <- sapply(tj, function(t) sum(d$status[d$tstop == t]))
  m <- dN / Y
  v <- numeric(length(tj))
  for (i in unique(d$id)) {
    di <- d[d$id == i, ]
    at <- sapply(tj, function(t) any(di$tstart < t & t <= di$tstop))
    ni <- sapply(tj, function(t) sum(di$status[di$tstop == t]))
    v <- v + cumsum(at / Y * (ni - m))^2
  }
  data.frame(time = tj, n_risk = Y, n_events = dN, mcf = cumsum(m), se = sqrt(v))
}
curves <- list()
for (g in 0:1) {
  d <- cg[cg$treat == g, ]
  r <- mcf_ln(d)
  sf <- survfit(Surv(tstart, tstop, status) ~ 1, data = d, id = id, ctype = 1)
  ev <- sf$n.event > 0
  stopifnot(max(abs(sf$cumhaz[ev] - r$mcf)) < 1e-12)
  r$survfit_std_chaz <- sf$std.chaz[ev]  # robust (infinitesimal jackknife) SE, clustered by id
  r$group <- g
  curves[[g + 1]] <- r
}
write.csv(do.call(rbind, curves), file.path(dir, "methods_mcf.csv"), row.names = FALSE)

# --- propensity ATT weights, balance and the weighted outcome: lalonde ----------------------------------
data(lalonde, package = "MatchIt")
la <- lalonde
la$black <- as.integer(la$race == "black"); la$hispan <- as.integer(la$race == "hispan")
la$white <- as.integer(la$race == "white")
la$any78 <- as.integer(la$re78 > 0)
write.csv(la, file.path(dir, "methods_lalonde.csv"), row.names = FALSE)
ps_fit <- glm(treat ~ age + educ + black + hispan + married + nodegree + re74 + re75, family = binomial,
              data = la, control = glm.control(epsilon = 1e-14, maxit = 100))
for (j in seq_along(coef(ps_fit))) add("ps_lalonde", names(coef(ps_fit))[j], coef(ps_fit)[j],
                                       sqrt(diag(vcov(ps_fit)))[j])
ps <- fitted(ps_fit)
w <- ifelse(la$treat == 1, 1, ps / (1 - ps))
trim_att <- function(w, treat, at) {  # WeightIt::trim(at) with the treated (all weight 1) not trimmed
  q <- quantile(w[treat == 0], probs = at, type = 3)
  w[treat == 0 & w > q] <- q
  w
}
wt <- trim_att(w, la$treat, 0.99)
add("weights_lalonde", "sum_control_untrimmed", sum(w[la$treat == 0]))
add("weights_lalonde", "sum_control_trimmed", sum(wt[la$treat == 0]), extra = unname(quantile(w[la$treat == 0], 0.99, type = 3)))
add("weights_lalonde", "max_control_untrimmed", max(w[la$treat == 0]))
ess <- function(x) sum(x)^2 / sum(x^2)
add("weights_lalonde", "ess_control", ess(w[la$treat == 0]))
covs <- c("age", "educ", "black", "hispan", "white", "married", "nodegree", "re74", "re75")
binary <- c("black", "hispan", "white", "married", "nodegree")
wmean <- function(x, w) sum(w * x) / sum(w)
wvar <- function(x, w, bin) {  # cobalt col.w.v
  m <- wmean(x, w)
  if (bin) return(m * (1 - m))
  sum(w) / (sum(w)^2 - sum(w^2)) * sum(w * (x - m)^2)
}
tr <- la$treat == 1
for (v in covs) {
  x <- la[[v]]; bin <- v %in% binary
  s1 <- sqrt(wvar(x[tr], rep(1, sum(tr)), bin))  # s.d.denom = "treated", same before and after
  for (stage in c("un", "adj")) {
    ww <- if (stage == "un") rep(1, nrow(la)) else w
    d <- wmean(x[tr], ww[tr]) - wmean(x[!tr], ww[!tr])
    smd <- if (bin) d else d / s1
    vr <- if (bin) NA else wvar(x[tr], ww[tr], FALSE) / wvar(x[!tr], ww[!tr], FALSE)
    add(paste0("balance_", stage), v, smd, extra = vr)
  }
}
# weighted outcome: difference in means (lm, HC0 sandwich) and ratio of means of any earnings (Poisson GLM, HC0)
fl <- lm(re78 ~ treat, data = la, weights = w)
add("outcome_diff_lalonde", "treat", coef(fl)[2], sqrt(vcovHC(fl, type = "HC0")[2, 2]))
fq <- suppressWarnings(glm(any78 ~ treat, data = la, weights = w, family = quasipoisson,
                           control = glm.control(epsilon = 1e-14, maxit = 100)))
add("outcome_ratio_lalonde", "treat", coef(fq)[2], sqrt(sandwich(fq)[2, 2]))
fqt <- suppressWarnings(glm(any78 ~ treat, data = la, weights = wt, family = quasipoisson,
                            control = glm.control(epsilon = 1e-14, maxit = 100)))
add("outcome_ratio_lalonde_trimmed", "treat", coef(fqt)[2], sqrt(sandwich(fqt)[2, 2]))

# --- E-values (EValue::threshold, evalues.RR, evalues.HR) -------------------------------------------
threshold <- function(x, true = 1) {
  if (is.na(x)) return(NA)
  if (x <= 1) { x <- 1 / x; true <- 1 / true }
  if (true <= x) return((x + sqrt(x * (x - true))) / true)
  rat <- true / x
  rat + sqrt(rat * (rat - 1))
}
evalues_rr <- function(est, lo, hi, true = 1) {
  E <- sapply(c(est, lo, hi), threshold, true = true)
  if (est > true && lo < true) E[2:3] <- 1
  if (est < true && hi > true) E[2:3] <- 1
  if (est > true) E[3] <- NA
  if (est < true) E[2] <- NA
  if (est == true) { E[2] <- 1; E[3] <- NA }
  E
}
hr_to_rr <- function(hr) (1 - 0.5^sqrt(hr)) / (1 - 0.5^sqrt(1 / hr))
cases <- list(c(3.9, 1.8, 8.7), c(0.80, 0.71, 0.91), c(0.86, 0.75, 1.10), c(1.3, 1.02, 1.7))
for (k in seq_along(cases)) {
  x <- cases[[k]]
  e <- evalues_rr(x[1], x[2], x[3])
  add("evalue_rr", paste0("case", k), e[1], ci_lower = e[2], ci_upper = e[3])
  h <- hr_to_rr(x)
  e <- evalues_rr(h[1], h[2], h[3])
  add("evalue_hr_common", paste0("case", k), e[1], ci_lower = e[2], ci_upper = e[3])
}
e <- evalues_rr(2, 1.5, 3, true = 1.2)
add("evalue_rr_true1.2", "case1", e[1], ci_lower = e[2], ci_upper = e[3])

# --- interrupted time series: Seatbelts, the compulsory seat belt law of 31 January 1983 ----------------
sb <- data.frame(month = seq_len(nrow(Seatbelts)), drivers = as.numeric(Seatbelts[, "DriversKilled"]),
                 law = as.numeric(Seatbelts[, "law"]))
sb$time_since <- (sb$month - min(sb$month[sb$law == 1])) * sb$law  # 0 in the first month of the law
write.csv(sb, file.path(dir, "methods_seatbelts.csv"), row.names = FALSE)
fi <- lm(drivers ~ month + law + time_since, data = sb)
for (L in c(3, 12)) {
  V <- NeweyWest(fi, lag = L, prewhite = FALSE, adjust = FALSE)
  for (j in seq_along(coef(fi))) add(paste0("its_seatbelts_nw", L), names(coef(fi))[j], coef(fi)[j], sqrt(V[j, j]))
}
V <- NeweyWest(fi, lag = 3, prewhite = FALSE, adjust = TRUE)
for (j in seq_along(coef(fi))) add("its_seatbelts_nw3_adjust", names(coef(fi))[j], coef(fi)[j], sqrt(V[j, j]))
# Nile: a level shift after the Aswan dam (1898), annual, lag 2
nl <- data.frame(year = 1871:1970, t = 1:100, flow = as.numeric(Nile))
nl$post <- as.numeric(nl$year >= 1899); nl$since <- (nl$year - 1899) * nl$post
write.csv(nl, file.path(dir, "methods_nile.csv"), row.names = FALSE)
fn <- lm(flow ~ t + post + since, data = nl)
V <- NeweyWest(fn, lag = 2, prewhite = FALSE, adjust = FALSE)
for (j in seq_along(coef(fn))) add("its_nile_nw2", names(coef(fn))[j], coef(fn)[j], sqrt(V[j, j]))

out <- do.call(rbind, rows)
write.csv(out, file.path(dir, "methods_reference.csv"), row.names = FALSE)
writeLines(c(R.version.string, paste("survival", packageVersion("survival")),
             paste("sandwich", packageVersion("sandwich")), paste("MatchIt", packageVersion("MatchIt"))),
           file.path(dir, "methods_reference_versions.txt"))
