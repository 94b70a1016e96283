# Reference numbers for tests/test_funnel.py (waiting times as competing risks).
# Reads the programme folder funnel_waiting_fixture/ (made by funnel_make_fixture.py),
# derives waiting times and causes on its own (independently of dapp_eval), and runs
# cmprsk::cuminc per site and overall.  Median wait = first time the CIF of the event
# reaches 0.5; CI = first times the log(-log) pointwise limits reach 0.5.
#   Rscript tests/reference/funnel_waiting_reference.R   (from the repository root)
suppressPackageStartupMessages(library(cmprsk))
dir <- "tests/reference"
sites <- read.csv(file.path(dir, "funnel_waiting_fixture", "sites.csv"), stringsAsFactors = FALSE)
ref <- read.csv(file.path(dir, "funnel_waiting_fixture", "referrals.csv"), stringsAsFactors = FALSE,
                na.strings = "")
d <- function(x) as.Date(x)
ref$extract <- d(sites$data_extract_date[match(ref$site_id, sites$site_id)])
other <- c("moved_away", "custody", "other")
started <- !is.na(ref$start_date)
outcome <- ifelse(is.na(ref$assessment_outcome), "", ref$assessment_outcome)
er <- ifelse(is.na(ref$exit_reason), "", ref$exit_reason)

# step 1: referral -> assessment outcome. 1 = assessed, 2 = declined assessment, 3 = other exit, 0 = still waiting
s1 <- data.frame(site = ref$site_id)
assessed <- outcome != "" | started
s1$status <- ifelse(assessed, 1, ifelse(er == "declined_assessment", 2, ifelse(er %in% other, 3, 0)))
end1 <- ifelse(s1$status == 1, ref$assessment_date, ifelse(s1$status %in% c(2, 3), ref$exit_date,
                                                           as.character(ref$extract)))
s1$time <- as.numeric(d(end1) - d(ref$referral_date))

# step 2: assessment -> start among the suitable. 1 = started, 2 = declined to start, 3 = other exit, 0 = waiting
acc <- outcome == "suitable" | started | er == "declined_to_start"
r2 <- ref[acc, ]
st2 <- !is.na(r2$start_date)
er2 <- ifelse(is.na(r2$exit_reason), "", r2$exit_reason)
s2 <- data.frame(site = r2$site_id)
s2$status <- ifelse(st2, 1, ifelse(er2 == "declined_to_start", 2, ifelse(er2 %in% other, 3, 0)))
end2 <- ifelse(s2$status == 1, r2$start_date, ifelse(s2$status %in% c(2, 3), r2$exit_date,
                                                     as.character(r2$extract)))
s2$time <- as.numeric(d(end2) - d(r2$assessment_date))

causes <- list(referral_to_assessment = c("assessed", "declined_assessment", "exited_before_assessment"),
               assessment_to_start = c("started", "declined_to_start", "exited_before_start"))
curves <- list(); medians <- list()
z <- qnorm(0.975)
first_reach <- function(t, y) { k <- which(!is.na(y) & y >= 0.5 - 1e-12); if (length(k)) t[min(k)] else NA }
for (step in names(causes)) {
  s <- if (step == "referral_to_assessment") s1 else s2
  for (g in c(sort(unique(s$site)), "all")) {
    ss <- if (g == "all") s else s[s$site == g, ]
    fit <- cuminc(ss$time, ss$status, cencode = 0)
    times <- sort(unique(ss$time))
    tp <- timepoints(fit, times)
    for (k in 1:3) {
      nm <- paste("1", k)
      if (!(nm %in% rownames(tp$est))) next
      est <- as.numeric(tp$est[nm, ]); v <- as.numeric(tp$var[nm, ])
      curves[[length(curves) + 1]] <- data.frame(step = step, group = g, cause = causes[[step]][k],
                                                 time = times, estimate = est, variance = v)
      if (k == 1) {
        se <- sqrt(v)
        a <- z * se / (est * abs(log(est)))
        lo <- ifelse(est > 0 & est < 1, exp(log(est) * exp(a)), NA)
        hi <- ifelse(est > 0 & est < 1, exp(log(est) * exp(-a)), NA)
        medians[[length(medians) + 1]] <- data.frame(
          step = step, group = g, n = nrow(ss), n_event = sum(ss$status == 1),
          n_censored = sum(ss$status == 0), median = first_reach(times, est),
          ci_lower = first_reach(times, hi), ci_upper = first_reach(times, lo))
      }
    }
  }
}
write.csv(do.call(rbind, curves), file.path(dir, "funnel_waiting_cuminc.csv"), row.names = FALSE)
write.csv(do.call(rbind, medians), file.path(dir, "funnel_waiting_medians.csv"), row.names = FALSE)
cat(R.version.string, "; cmprsk", as.character(packageVersion("cmprsk")), "\n",
    file = file.path(dir, "funnel_waiting_versions.txt"))
