# Reference numbers for tests/test_estimators_gee.py, from R's geepack.
#
# Run from the project root after tests/reference/gee_export_synthetic.py:
#     Rscript tests/reference/gee_reference.R
#
# Data:    geepack's `respiratory` (written to gee_respiratory.csv, with made-up weights
#          that vary within a patient, and a copy with clusters of size one),
#          geepack's `ohio` (gee_ohio.csv, made-up weights),
#          the synthetic partner surveys (gee_synthetic_data.csv: answers + inverse
#          probability of response weights, as safety.wave_model fits them).
# Output:  gee_reference.csv (dataset, fit, term, coef, se_robust, se_naive, alpha, phi),
#          gee_reference_versions.txt

suppressPackageStartupMessages(library(geepack))
dir <- "tests/reference"
ctl <- geese.control(epsilon = 1e-12, maxit = 200)

data(respiratory)
resp <- respiratory
resp$cid <- resp$center * 1000 + resp$id            # ids repeat across centres
resp <- resp[order(resp$cid, resp$visit), ]
resp$w <- 1 + 0.25 * (resp$visit %% 3) + (resp$age %% 5) / 10   # made up; varies within a patient
write.csv(resp[, c("cid", "center", "treat", "sex", "age", "baseline", "visit", "outcome", "w")],
          file.path(dir, "gee_respiratory.csv"), row.names = FALSE)
# clusters of size one: keep only visit 1 for every third patient
single <- resp[!(resp$cid %% 3 == 0 & resp$visit > 1), ]

data(ohio)
oh <- ohio[order(ohio$id, ohio$age), ]
oh$w <- 0.5 + ((oh$id * 7 + oh$age * 3) %% 5) / 4
write.csv(oh, file.path(dir, "gee_ohio.csv"), row.names = FALSE)

syn <- read.csv(file.path(dir, "gee_synthetic_data.csv"), stringsAsFactors = FALSE)
syn <- syn[order(syn$partner_id, syn$referral_id, syn$wave), ]
syn$id <- as.integer(factor(syn$partner_id))
syn$wave <- factor(syn$wave)

tab <- function(fit, dataset, name) {
  s <- summary(fit)$coefficients
  a <- if (is.null(fit$geese$alpha)) 0 else unname(fit$geese$alpha)
  data.frame(dataset = dataset, fit = name, term = rownames(s), coef = s[, "Estimate"],
             se_robust = s[, "Std.err"], se_naive = sqrt(diag(fit$geese$vbeta.naiv)),
             alpha = if (length(a)) a else 0, phi = unname(fit$geese$gamma))
}
fits <- list()
f_resp <- outcome ~ treat + sex + age + baseline + visit
for (cs in c("independence", "exchangeable")) {
  fits[[length(fits) + 1]] <- tab(geeglm(f_resp, id = cid, data = resp, family = binomial, corstr = cs,
                                         control = ctl), "respiratory", paste(cs, "unweighted"))
  fits[[length(fits) + 1]] <- tab(suppressWarnings(geeglm(f_resp, id = cid, data = resp, family = binomial,
                                  corstr = cs, weights = w, control = ctl)), "respiratory", paste(cs, "weighted"))
}
fits[[length(fits) + 1]] <- tab(suppressWarnings(geeglm(f_resp, id = cid, data = single, family = binomial,
                                corstr = "exchangeable", weights = w, control = ctl)),
                                "respiratory_singletons", "exchangeable weighted")
fits[[length(fits) + 1]] <- tab(geeglm(resp ~ age + smoke, id = id, data = oh, family = binomial,
                                       corstr = "exchangeable", control = ctl), "ohio", "exchangeable unweighted")
fits[[length(fits) + 1]] <- tab(suppressWarnings(geeglm(resp ~ age + smoke, id = id, data = oh, family = binomial,
                                corstr = "exchangeable", weights = w, control = ctl)), "ohio", "exchangeable weighted")
# Poisson family with weights: respiratory's visit count of bad outcomes is not a count model,
# so use the baseline-adjusted outcome as a rate with age as exposure-free covariate
fits[[length(fits) + 1]] <- tab(suppressWarnings(geeglm(outcome ~ treat + visit, id = cid, data = resp,
                                family = poisson, corstr = "exchangeable", weights = w, control = ctl)),
                                "respiratory", "poisson exchangeable weighted")
for (cs in c("independence", "exchangeable")) {
  fits[[length(fits) + 1]] <- tab(geeglm(physical_violence ~ wave, id = id, data = syn, family = binomial,
                                         corstr = cs, control = ctl), "synthetic", paste(cs, "unweighted"))
  fits[[length(fits) + 1]] <- tab(suppressWarnings(geeglm(physical_violence ~ wave, id = id, data = syn,
                                  family = binomial, corstr = cs, weights = weight, control = ctl)),
                                  "synthetic", paste(cs, "weighted"))
}
out <- do.call(rbind, fits)
write.csv(out, file.path(dir, "gee_reference.csv"), row.names = FALSE)
writeLines(c(R.version.string, paste("geepack", packageVersion("geepack"))),
           file.path(dir, "gee_reference_versions.txt"))
