# What lme4 does with data that cannot separate person and residual variance
# (tests/test_lmm.py::test_one_observation_per_person_is_refused_as_lme4_does).
#     Rscript tests/reference/lmm_identifiability.R
# Output: lmm_identifiability.txt (lme4's answer for 40 groups of one, then 39 groups with one pair)

suppressPackageStartupMessages(library(lme4))
set.seed(3)
d <- data.frame(y = rnorm(40, 50, 30), x = rnorm(40), g = factor(1:40))
r1 <- tryCatch({lmer(y ~ x + (1 | g), data = d); "fitted"}, error = function(e) conditionMessage(e))
d$g2 <- d$g; d$g2[2] <- d$g2[1]; d$g2 <- droplevels(d$g2)
r2 <- tryCatch({m <- lmer(y ~ x + (1 | g2), data = d); "fitted"}, error = function(e) conditionMessage(e))
writeLines(c(paste("40 groups of one:", r1), paste("39 groups, one pair:", r2),
             paste("lme4", packageVersion("lme4"))), "tests/reference/lmm_identifiability.txt")
