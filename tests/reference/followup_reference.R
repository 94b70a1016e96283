# Reference numbers for tests/test_followup.py, from R (stats, MASS, sandwich, survival).
#
# Run from the project root after tests/reference/safety_followup_fixture.py and
# tests/reference/safety_followup_export.py:
#     Rscript tests/reference/followup_reference.R
#
# Part 1 recomputes, from the raw fixture CSVs and independently of dapp_eval,
# each person's index referral, windows, eligibility and event counts
# (commissioner design: 365 days before referral vs 365 days after exit;
# police = call-out, DA crime or arrest; records sharing event_id = one event),
# the proven DA-crime counts with a 183-day lag, and the time from exit to the
# first police event.  Part 2 fits the models on those counts / on the exported
# analysis data.
# Outputs: followup_reference_persons.csv, followup_reference_rates.csv,
#          followup_reference_km.csv, followup_reference_completers.csv,
#          followup_reference_psm.csv, followup_reference_pairs.csv, followup_reference_recurrent.csv,
#          followup_reference_versions.txt

suppressPackageStartupMessages({
  library(MASS); library(sandwich); library(survival)
})
dir <- "tests/reference"
fx <- file.path(dir, "safety_followup_fixture")
rd <- function(f) read.csv(file.path(fx, f), stringsAsFactors = FALSE, na.strings = "")
sites <- rd("sites.csv"); ref <- rd("referrals.csv"); inc <- rd("incidents.csv")
for (c in c("referral_date", "start_date", "exit_date")) ref[[c]] <- as.Date(ref[[c]])
for (c in c("data_extract_date", "incident_data_from")) sites[[c]] <- as.Date(sites[[c]])
inc$incident_date <- as.Date(inc$incident_date); inc$outcome_date <- as.Date(inc$outcome_date)
inc$event_id[is.na(inc$event_id)] <- inc$incident_id[is.na(inc$event_id)]

# ---- part 1: persons, windows, counts -------------------------------------------------
ref$not_started <- as.integer(is.na(ref$start_date))
ref <- ref[order(ref$participant_id, ref$not_started, ref$referral_date, ref$referral_id), ]
p <- ref[!duplicated(ref$participant_id), ]
p <- p[p$not_started == 0, ]                                   # population: started
p <- merge(p, sites[, c("site_id", "data_extract_date", "incident_data_from")], by = "site_id")
p$b0 <- p$referral_date - 365; p$b1 <- p$referral_date
p$a0 <- p$exit_date; p$a1 <- p$exit_date + 365
covered <- function(lag) !is.na(p$exit_date) & (p$a1 + lag <= p$data_extract_date) & (p$b0 >= p$incident_data_from)
p$eligible <- covered(0)
p$eligible_proven <- covered(183)

events <- function(types) {
  x <- inc[inc$incident_type %in% types, ]
  d <- aggregate(incident_date ~ participant_id + event_id, data = x, FUN = min)
  o <- aggregate(outcome_date ~ participant_id + event_id, data = x, FUN = min)  # drops NA
  m <- merge(d, o, by = c("participant_id", "event_id"), all.x = TRUE)
  m
}
count_in <- function(ev, start, end, proven = FALSE, lag = 0) {
  sapply(seq_len(nrow(p)), function(i) {
    e <- ev[ev$participant_id == p$participant_id[i], ]
    inwin <- e$incident_date >= start[i] & e$incident_date < end[i]
    if (proven) inwin <- inwin & !is.na(e$outcome_date) & e$outcome_date <= end[i] + lag
    sum(inwin)
  })
}
pol <- events(c("police_callout", "da_crime", "arrest"))
p$n_before <- count_in(pol, p$b0, p$b1)
p$n_after <- count_in(pol, p$a0, p$a1)
crime <- events("da_crime")
p$n_crime_before_proven <- count_in(crime, p$b0, p$b1, TRUE, 183)
p$n_crime_after_proven <- count_in(crime, p$a0, p$a1, TRUE, 183)
# time from exit to the first police event (>= exit, <= extract), censored at the extract date
first_after <- sapply(seq_len(nrow(p)), function(i) {
  e <- pol$incident_date[pol$participant_id == p$participant_id[i] & pol$incident_date >= p$exit_date[i] &
                          pol$incident_date <= p$data_extract_date[i]]
  if (length(e) == 0 || is.na(p$exit_date[i])) NA else as.numeric(min(e))
})
p$km_event <- !is.na(first_after)
p$km_days <- ifelse(p$km_event, first_after - as.numeric(p$exit_date),
                    as.numeric(p$data_extract_date - p$exit_date))
write.csv(p[order(p$participant_id), c("participant_id", "eligible", "eligible_proven", "n_before", "n_after",
                                       "n_crime_before_proven", "n_crime_after_proven", "km_days", "km_event")],
          file.path(dir, "followup_reference_persons.csv"), row.names = FALSE)

# ---- part 2a: rate ratio, Poisson with cluster-robust SE and negative binomial -----------
e <- p[p$eligible, ]
long <- data.frame(pid = rep(e$participant_id, 2), after = rep(0:1, each = nrow(e)),
                   y = c(e$n_before, e$n_after), exposure = 365 / 365.25)
fp <- glm(y ~ after + offset(log(exposure)), family = poisson, data = long,
          control = glm.control(epsilon = 1e-14, maxit = 100))
vp <- vcovCL(fp, cluster = ~pid, type = "HC1")
fn <- glm.nb(y ~ after + offset(log(exposure)), data = long, control = glm.control(epsilon = 1e-14, maxit = 100))
# both clustered by person (one person is in both windows); se_model: glm.nb's model-based SE, kept to show
# how much smaller it is (issue #31: it over-covers in simulation, 98.0%, and ignores the pairing)
vn <- vcovCL(fn, cluster = ~pid, type = "HC1")
rates <- rbind(
  data.frame(model = "poisson", term = names(coef(fp)), coef = coef(fp), se = sqrt(diag(vp)), theta = NA,
             se_model = sqrt(diag(vcov(fp)))),
  data.frame(model = "negative binomial", term = names(coef(fn)), coef = coef(fn),
             se = sqrt(diag(vn)), theta = fn$theta, se_model = sqrt(diag(vcov(fn)))))
write.csv(rates, file.path(dir, "followup_reference_rates.csv"), row.names = FALSE)

# ---- part 2b: Kaplan-Meier (exported durations), log-log intervals -----------------------
km <- read.csv(file.path(dir, "followup_export_km.csv"), stringsAsFactors = FALSE)
km$event <- tolower(as.character(km$event)) == "true"
fit <- survfit(Surv(days, event) ~ group, data = km, conf.type = "log-log")
times <- c(0, 91, 183, 274, 365, 548, 730)
s <- summary(fit, times = times, extend = TRUE)
kmr <- data.frame(group = sub("group=", "", as.character(s$strata)), days = s$time, n_at_risk = s$n.risk,
                  estimate = s$surv, ci_lower = s$lower, ci_upper = s$upper)
write.csv(kmr, file.path(dir, "followup_reference_km.csv"), row.names = FALSE)

# ---- part 2c: completers vs non-completers, Poisson with robust (HC0) SE -----------------
cc <- read.csv(file.path(dir, "followup_export_completers.csv"), stringsAsFactors = FALSE)
cc$completed <- as.numeric(cc$group == "completed")
f1 <- glm(n_police_after ~ completed + offset(log(exposure_after)), family = poisson, data = cc,
          control = glm.control(epsilon = 1e-14, maxit = 100))
f2 <- glm(n_police_after ~ completed + log1p(n_police_before) + offset(log(exposure_after)), family = poisson,
          data = cc, control = glm.control(epsilon = 1e-14, maxit = 100))
ccr <- rbind(
  data.frame(model = "unadjusted", term = names(coef(f1)), coef = coef(f1), se = sqrt(diag(vcovHC(f1, type = "HC0")))),
  data.frame(model = "adjusted", term = names(coef(f2)), coef = coef(f2), se = sqrt(diag(vcovHC(f2, type = "HC0")))))
write.csv(ccr, file.path(dir, "followup_reference_completers.csv"), row.names = FALSE)

# ---- part 2d: propensity score and 1:1 nearest-neighbour matching (MatchIt) ----------------
ps <- read.csv(file.path(dir, "followup_export_psm.csv"), check.names = FALSE, stringsAsFactors = FALSE)
X <- as.matrix(ps[, setdiff(names(ps), c("const", "treated", "participant_id", "cohort"))])
colnames(X) <- paste0("x", seq_len(ncol(X)))
dfps <- data.frame(treated = ps$treated, X)
pf <- glm(treated ~ ., family = binomial, data = dfps, control = glm.control(epsilon = 1e-14, maxit = 100))
lp <- predict(pf, type = "link")
write.csv(data.frame(participant_id = ps$participant_id, cohort = ps$cohort, logit_ps = lp),
          file.path(dir, "followup_reference_psm.csv"), row.names = FALSE)
# Greedy 1:1 nearest-neighbour matching on the logit score without replacement, treated in
# descending score order, caliper 0.2 SD of the pooled logit score, written out here in R.
# MatchIt is not used as the reference: MatchIt 4.5.1-4.5.3 (the Debian/R 4.2 build available)
# mis-matches and ignores calipers (https://github.com/kosukeimai/MatchIt/issues/163; checked: with
# a numeric distance it paired a treated unit with a control 0.34 away while a free control 0.02
# away existed, and kept pairs 4x wider than the caliper).
greedy <- function(lp, treated, width) {
  tr <- which(treated == 1); ctl <- which(treated == 0)
  free <- rep(TRUE, length(ctl)); out <- rep(NA_integer_, length(tr))
  for (k in order(-lp[tr])) {
    dd <- abs(lp[ctl] - lp[tr[k]]); dd[!free] <- Inf
    j <- which.min(dd)
    if (length(j) && dd[j] <= width) { out[k] <- ctl[j]; free[j] <- FALSE }
  }
  data.frame(t = tr, c = out)
}
pairs <- rbind(
  cbind(caliper = "0.2", greedy(lp, ps$treated, 0.2 * sd(lp))),
  cbind(caliper = "none", greedy(lp, ps$treated, Inf)))
pairs <- pairs[!is.na(pairs$c), ]
write.csv(data.frame(caliper = pairs$caliper, participant_id = ps$participant_id[pairs$t],
                     comparison_participant_id = ps$participant_id[pairs$c]),
          file.path(dir, "followup_reference_pairs.csv"), row.names = FALSE)

# ---- part 3: recurrent police contacts since exit (issue #31) ---------------------------
# From the raw incidents: every police event (records sharing event_id once) from the exit date to the
# extract date, per person followed by time_to_incident (its exported persons give the exit group).
# Mean cumulative function by group with the Lawless-Nadeau variance (reda's compute_var_ln, written out
# as in methods_reference.R, where it equals survfit(id =)'s robust SE), and LWYY: coxph on (start, stop]
# rows with cluster(id), events on one day merged into one.
mcf_ln <- function(d) {
  tj <- sort(unique(d$stop[d$event > 0]))
  Y <- sapply(tj, function(t) length(unique(d$id[d$start < t & t <= d$stop])))
  dN <- sapply(tj, function(t) sum(d$event[d$stop == t]))
  m <- dN / Y
  v <- numeric(length(tj))
  for (i in unique(d$id)) {
    di <- d[d$id == i, ]
    at <- sapply(tj, function(t) any(di$start < t & t <= di$stop))
    ni <- sapply(tj, function(t) sum(di$event[di$stop == t]))
    v <- v + cumsum(at / Y * (ni - m))^2
  }
  data.frame(time = tj, n_risk = Y, n_events = dN, mcf = cumsum(m), se = sqrt(v))
}
rp <- merge(p[, c("participant_id", "exit_date", "data_extract_date")], km[, c("participant_id", "group")],
            by = "participant_id")
rp$fu <- as.numeric(rp$data_extract_date - rp$exit_date)
rows <- do.call(rbind, lapply(seq_len(nrow(rp)), function(i) {
  d <- sort(as.numeric(pol$incident_date[pol$participant_id == rp$participant_id[i] &
                                         pol$incident_date >= rp$exit_date[i] &
                                         pol$incident_date <= rp$data_extract_date[i]] - rp$exit_date[i]))
  ud <- unique(d)
  cnt <- as.numeric(table(factor(d, levels = ud)))
  starts <- c(-1, ud); stops <- c(ud, rp$fu[i]); ev <- c(cnt, 0)
  keep <- stops > starts
  data.frame(id = rp$participant_id[i], group = rp$group[i], start = starts[keep], stop = stops[keep],
             event = ev[keep])
}))
rec <- do.call(rbind, lapply(split(rows, rows$group), function(d) cbind(group = d$group[1], mcf_ln(d))))
two <- rows[rows$group %in% c("completed", "did_not_complete"), ]
two$completed <- as.integer(two$group == "completed")
two$ev1 <- as.integer(two$event > 0)
lw <- coxph(Surv(start, stop, ev1) ~ completed + cluster(id), data = two, ties = "efron",
            control = coxph.control(eps = 1e-11, iter.max = 100))
rec <- rbind(rec, data.frame(group = "lwyy_completed", time = NA, n_risk = NA, n_events = sum(two$ev1),
                             mcf = unname(coef(lw)), se = unname(sqrt(diag(vcov(lw))))))
write.csv(rec, file.path(dir, "followup_reference_recurrent.csv"), row.names = FALSE)

writeLines(c(R.version.string, paste("MASS", packageVersion("MASS")), paste("sandwich", packageVersion("sandwich")),
             paste("survival", packageVersion("survival"))),
           file.path(dir, "followup_reference_versions.txt"))
