# Timing of lme4 on 100,000 episodes x 3 timepoints (unbalanced: 10% of midpoints and
# 25% of exits missing; 20 sites), for comparison with dapp_eval.estimators.lmm (see the note in
# tests/reference/risk_lmm_timing.txt). The data are made by the snippet in that note.
suppressPackageStartupMessages(library(lme4))
args <- commandArgs(TRUE)
d <- read.csv(args[1], stringsAsFactors = FALSE)
names(d)[names(d) == "referral_id"] <- "id"; names(d)[names(d) == "site_id"] <- "site"
d$timepoint <- factor(d$timepoint, levels = c("intake", "midpoint", "exit"))
d$site <- factor(d$site); d$id <- factor(d$id)
t1 <- system.time(m1 <- lmer(score ~ timepoint + site + (1 | id), data = d, REML = TRUE))
print(t1); print(head(fixef(m1), 3)); print(getME(m1, "theta")); print(REMLcrit(m1))
t2 <- system.time(m2 <- lmer(score ~ timepoint + (1 | site / id), data = d, REML = TRUE))
print(t2); print(fixef(m2)); print(getME(m2, "theta")); print(REMLcrit(m2))
