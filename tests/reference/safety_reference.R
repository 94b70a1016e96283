# Reference numbers for tests/test_safety.py, from R (geepack, stats).
#
# Run from the project root after tests/reference/safety_followup_fixture.py and
# tests/reference/safety_followup_export.py:
#     Rscript tests/reference/safety_reference.R
#
# Inputs:  tests/reference/safety_followup_fixture/partner_surveys.csv (raw fixture)
#          tests/reference/safety_export_response.csv (link x wave rows: responded, covariates)
#          tests/reference/safety_export_gee.csv (answers used by the GEE)
# Outputs: safety_reference_prevalence.csv, safety_reference_paired.csv,
#          safety_reference_response.csv, safety_reference_gee.csv, safety_reference_versions.txt

suppressPackageStartupMessages(library(geepack))
dir <- "tests/reference"
beh <- c("physical_violence", "sexual_violence", "threats", "weapon_used", "injury",
         "harassment_stalking", "coercive_control", "child_exposed")

# --- per-wave prevalence with Wilson intervals (prop.test without continuity correction)
sv <- read.csv(file.path(dir, "safety_followup_fixture", "partner_surveys.csv"), stringsAsFactors = FALSE)
tobool <- function(x) ifelse(x == "" | is.na(x), NA, tolower(as.character(x)) == "true")
for (b in beh) sv[[b]] <- tobool(sv[[b]])
prev <- do.call(rbind, lapply(sort(unique(sv$wave)), function(w) {
  do.call(rbind, lapply(beh, function(b) {
    x <- sv[sv$wave == w, b]
    n <- sum(!is.na(x)); k <- sum(x, na.rm = TRUE)
    ci <- prop.test(k, n, correct = FALSE)$conf.int
    data.frame(wave = w, behaviour = b, n_answered = n, n_reporting = k, estimate = k / n,
               ci_lower = ci[1], ci_upper = ci[2])
  }))
}))
write.csv(prev, file.path(dir, "safety_reference_prevalence.csv"), row.names = FALSE)

# --- paired T1 vs T4: exact McNemar (binom.test on discordant pairs), Holm for secondaries
t1 <- sv[sv$wave == "T1", ]; t4 <- sv[sv$wave == "T4", ]
pr <- merge(t1, t4, by = c("partner_id", "referral_id"), suffixes = c(".b", ".f"))
paired <- do.call(rbind, lapply(beh, function(b) {
  xb <- pr[[paste0(b, ".b")]]; xf <- pr[[paste0(b, ".f")]]
  ok <- !is.na(xb) & !is.na(xf); xb <- xb[ok]; xf <- xf[ok]
  stopped <- sum(xb & !xf); started <- sum(!xb & xf)
  p <- if (stopped + started > 0) binom.test(stopped, stopped + started, 0.5)$p.value else 1
  data.frame(behaviour = b, n_pairs = sum(ok), n_stopped = stopped, n_started = started,
             prop_baseline = mean(xb), prop_followup = mean(xf), p_value = p)
}))
sec <- paired$behaviour != "physical_violence"
paired$p_adjusted <- paired$p_value
paired$p_adjusted[sec] <- p.adjust(paired$p_value[sec], method = "holm")
# McNemar's exact test equals the binomial test above; check with stats::mcnemar.test's table
write.csv(paired, file.path(dir, "safety_reference_paired.csv"), row.names = FALSE)

# --- response model: per-wave logistic regression, weights = 1 / p
rs <- read.csv(file.path(dir, "safety_export_response.csv"), stringsAsFactors = FALSE)
rs$p_respond_r <- NA_real_
for (w in sort(unique(rs$wave))) {
  i <- rs$wave == w
  f <- if (w == "T1") responded ~ programme_status + site_id else responded ~ programme_status + site_id + t1_answer
  fit <- glm(f, family = binomial, data = rs[i, ], control = glm.control(epsilon = 1e-12, maxit = 100))
  rs$p_respond_r[i] <- fitted(fit)
}
write.csv(rs[, c("partner_id", "referral_id", "wave", "responded", "p_respond_r")],
          file.path(dir, "safety_reference_response.csv"), row.names = FALSE)

# --- GEE: unweighted and weighted (R's own weights), independence, robust SE
gd <- read.csv(file.path(dir, "safety_export_gee.csv"), stringsAsFactors = FALSE)
gd <- merge(gd, rs[rs$responded == 1, c("partner_id", "referral_id", "wave", "p_respond_r")],
            by = c("partner_id", "referral_id", "wave"))
gd$w <- 1 / gd$p_respond_r
gd <- gd[order(gd$partner_id, gd$referral_id, gd$wave), ]
gd$id <- as.integer(factor(gd$partner_id))
gd$wave <- factor(gd$wave)
ctl <- geese.control(epsilon = 1e-12, maxit = 100)
g_u <- geeglm(physical_violence ~ wave, id = id, data = gd, family = binomial, corstr = "independence",
              control = ctl)
g_w <- suppressWarnings(geeglm(physical_violence ~ wave, id = id, data = gd, family = binomial,
                               corstr = "independence", weights = w, control = ctl))
tab <- function(fit, name) {
  s <- summary(fit)$coefficients
  data.frame(fit = name, term = rownames(s), coef = s[, "Estimate"], se_robust = s[, "Std.err"])
}
gee <- rbind(tab(g_u, "unweighted"), tab(g_w, "weighted"))
gee$n_obs <- nrow(gd)
write.csv(gee, file.path(dir, "safety_reference_gee.csv"), row.names = FALSE)

writeLines(c(R.version.string, paste("geepack", packageVersion("geepack"))),
           file.path(dir, "safety_reference_versions.txt"))
