# Edge cases for the survival estimators (tests/test_estimators.py), from cmprsk and survival.
#     Rscript tests/reference/estimators_edge_reference.R
# Data "z" (estimators_edge_data.csv): events of both causes at time 0, tied times with both exit
# types and censorings, and a group C in which everybody is censored.
# Output: estimators_edge_curves.csv (cuminc corners by group and cause),
#         estimators_edge_tests.csv (Gray's test), estimators_edge_km.csv (survfit, events at time 0)

suppressPackageStartupMessages({library(cmprsk); library(survival)})
dir <- "tests/reference"
z <- data.frame(
  time  = c(0, 0, 0, 1, 1, 1, 2, 2, 3, 3, 3, 4, 5, 5, 6, 7, 8, 8, 9, 10,
            0, 1, 1, 2, 2, 2, 3, 4, 4, 5, 6, 6, 7, 9, 11,
            1, 2, 3, 5, 8),
  cause = c(1, 2, 0, 1, 2, 0, 1, 1, 2, 0, 1, 2, 1, 0, 1, 0, 1, 2, 0, 1,
            2, 1, 1, 2, 0, 1, 2, 1, 0, 1, 2, 0, 1, 1, 0,
            0, 0, 0, 0, 0),
  group = c(rep("A", 20), rep("B", 15), rep("C", 5)))
write.csv(z, file.path(dir, "estimators_edge_data.csv"), row.names = FALSE)

ci <- cuminc(z$time, z$cause, z$group, cencode = 0)
curves <- do.call(rbind, lapply(setdiff(names(ci), "Tests"), function(nm) {
  parts <- strsplit(nm, " ")[[1]]
  data.frame(group = parts[1], cause = as.integer(parts[2]), time = ci[[nm]]$time,
             est = ci[[nm]]$est, var = ci[[nm]]$var)
}))
write.csv(curves, file.path(dir, "estimators_edge_curves.csv"), row.names = FALSE)
t <- ci$Tests
write.csv(data.frame(cause = as.integer(rownames(t)), stat = t[, "stat"], p_value = t[, "pv"], df = t[, "df"]),
          file.path(dir, "estimators_edge_tests.csv"), row.names = FALSE)

km <- survfit(Surv(time, cause > 0) ~ 1, data = z, conf.type = "log-log")
write.csv(data.frame(time = km$time, n_risk = km$n.risk, n_event = km$n.event, surv = km$surv,
                     std_err = km$std.err, lower = km$lower, upper = km$upper),
          file.path(dir, "estimators_edge_km.csv"), row.names = FALSE)
