"""Survival engine: Kaplan-Meier, log-rank, Cox, landmark analysis and response as a time-dependent covariate
(Mantel-Byar, Simon-Makuch), exact to R's ``survival``.

Pure numpy/pandas/scipy. Missing time/event/group/covariate values are excluded and counted on
every result; invalid values (negative or infinite time, event not 0/1) raise
:class:`il2lib.errors.SurvivalInputError`. Times within R's tolerance of each other are ties, as R's
default ``timefix = TRUE`` makes them (:mod:`il2lib.survival.timefix`).
"""
from il2lib.survival.km import GroupedKaplanMeier, KaplanMeierResult, RMSTResult, format_months, kaplan_meier

__all__ = ["GroupedKaplanMeier", "KaplanMeierResult", "RMSTResult", "format_months", "kaplan_meier"]
from il2lib.survival.logrank import LogRankResult, hazard_ratio_allowed, logrank_test  # noqa: E402

__all__ += ["LogRankResult", "hazard_ratio_allowed", "logrank_test"]
from il2lib.survival.cox import CoxResult, cox_ph, grouped_hazard_ratios, hazard_ratio_table  # noqa: E402
from il2lib.survival.cox_diagnostics import PHTestResult  # noqa: E402

__all__ += ["CoxResult", "PHTestResult", "cox_ph", "grouped_hazard_ratios", "hazard_ratio_table"]
from il2lib.survival.clinical import (FollowUpResult, LandmarkResult, default_landmark, landmark,  # noqa: E402
                                      median_followup, status_time_months, survival_at_times)

__all__ += ["FollowUpResult", "LandmarkResult", "default_landmark", "landmark", "median_followup",
            "status_time_months", "survival_at_times"]
from il2lib.survival.time_dependent import (CountingProcessRows, MantelByarResult, SimonMakuchResult,  # noqa: E402
                                            TimeDependentCoxResult, TimeDependentResponseResult, mantel_byar,
                                            response_rows, response_time_dependent, simon_makuch, time_dependent_cox)

__all__ += ["CountingProcessRows", "MantelByarResult", "SimonMakuchResult", "TimeDependentCoxResult",
            "TimeDependentResponseResult", "mantel_byar", "response_rows", "response_time_dependent", "simon_makuch",
            "time_dependent_cox"]
