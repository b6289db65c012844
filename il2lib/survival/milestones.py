"""Milestone survival and RMST per group, and their between-group differences with CIs.

The alternative to a hazard ratio when hazards are not proportional: survival at a fixed time
and the restricted mean survival time (area under the curve up to tau) are interpretable whatever
the shape of the hazards.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from il2lib.errors import InsufficientDataError
from il2lib.stats.distributions import norm_ppf, norm_sf
from il2lib.survival.km import ConfType, GroupedKaplanMeier, kaplan_meier, too_few_at_risk

MILESTONE_COLUMNS = ("time", "group", "reference", "survival", "survival_reference", "difference", "se",
                     "ci_lower", "ci_upper", "p")
RMST_COLUMNS = ("group", "reference", "tau", "rmst", "rmst_reference", "difference", "se", "ci_lower", "ci_upper",
                "p")


@dataclass(frozen=True)
class MilestoneResult:
    """Survival per group at each time (``per_group``) and differences vs the reference (``differences``)."""

    per_group: pd.DataFrame  # time, group, survival, std_err, ci_lower, ci_upper, n_risk
    differences: pd.DataFrame  # MILESTONE_COLUMNS
    reference: str
    conf_level: float

    def to_frame(self) -> pd.DataFrame:
        """``per_group`` with each group's difference from the reference at that time (NaN on the reference)."""
        return _with_differences(self.per_group, self.differences, ["time", "group"], self.reference)

    def too_few_at_risk(self, small_cell_threshold: int | None) -> tuple[np.ndarray, np.ndarray]:
        """Small-cell protection (:func:`il2lib.survival.km.too_few_at_risk`): the rows of ``per_group``, and of
        ``differences`` (either group), at a time where fewer than ``small_cell_threshold`` patients remain at
        risk; their estimates are not shown. All False without a threshold."""
        few = too_few_at_risk(self.per_group["n_risk"], small_cell_threshold)
        small = {(t, g) for t, g, f in zip(self.per_group["time"], self.per_group["group"], few) if f}
        diff = self.differences
        return few, np.array([(t, g) in small or (t, r) in small
                              for t, g, r in zip(diff["time"], diff["group"], diff["reference"])], dtype=bool)


@dataclass(frozen=True)
class RMSTComparison:
    """RMST per group up to ``tau`` (``per_group``) and each group minus the reference (``differences``)."""

    per_group: pd.DataFrame  # group, tau, rmst, se, ci_lower, ci_upper
    differences: pd.DataFrame  # RMST_COLUMNS
    tau: float
    reference: str
    conf_level: float

    def to_frame(self) -> pd.DataFrame:
        """``per_group`` with each group's difference from the reference (NaN on the reference)."""
        return _with_differences(self.per_group, self.differences, ["group"], self.reference)


def _with_differences(per_group: pd.DataFrame, differences: pd.DataFrame, keys: list[str],
                      reference) -> pd.DataFrame:
    """One row per group (and time): its own estimate, then reference, difference, difference_se,
    difference_lower, difference_upper and p of the difference."""
    diff = differences[keys + ["difference", "se", "ci_lower", "ci_upper", "p"]].rename(
        columns={"se": "difference_se", "ci_lower": "difference_lower", "ci_upper": "difference_upper"})
    out = per_group.merge(diff, on=keys, how="left")
    out.insert(len(per_group.columns), "reference", [reference] * len(out))
    return out


def _curves(time, event, group, conf_type: ConfType, conf_level: float) -> GroupedKaplanMeier:
    km = kaplan_meier(time, event, conf_level, conf_type, by=group)
    if len(km) < 2:
        raise InsufficientDataError(f"A between-group difference needs at least two groups with patients; "
                                    f"found {len(km)}.")
    return km


def _reference(km: GroupedKaplanMeier, reference) -> str:
    if reference is None:
        return km.groups[0]
    if reference not in km.groups:
        raise ValueError(f"reference group {reference!r} is not one of {', '.join(map(str, km.groups))}.")
    return reference


def survival_differences(time, event, group, times, *, reference=None, conf_level: float = 0.95,
                         conf_type: ConfType = "log-log") -> MilestoneResult:
    """Survival at each milestone per group and the difference (group - reference) with a Wald CI.

    Notes
    -----
    S_g(t) by Kaplan-Meier with Greenwood SE (R's ``summary(survfit, times=)`` ``std.err``);
    difference D = S_g(t) - S_ref(t), SE = sqrt(se_g^2 + se_ref^2) (independent groups),
    CI D -+ z SE, p = 2 (1 - Phi(|D| / SE)). NaN beyond a group's last observed time.

    References
    ----------
    Klein JP, Logan B, Harhoff M, Andersen PK (2007). Analyzing survival curves at a fixed point
    in time. Stat Med 26:4505-4519.
    """
    km = _curves(time, event, group, conf_type, conf_level)
    ref = _reference(km, reference)
    times = np.atleast_1d(np.asarray(times, dtype=float))
    per = pd.concat([r.survival_at(times).assign(group=g, std_err=_se_at(r, times)) for g, r in km.items()],
                    ignore_index=True)
    z = norm_ppf(0.5 + conf_level / 2)
    rows = []
    base = per[per["group"] == ref].set_index("time")
    for g in km.groups:
        if g == ref:
            continue
        cur = per[per["group"] == g].set_index("time")
        for t in times:
            d = cur.at[t, "survival"] - base.at[t, "survival"]
            se = float(np.hypot(cur.at[t, "std_err"], base.at[t, "std_err"]))
            p = 2 * norm_sf(abs(d) / se) if se > 0 else np.nan
            rows.append({"time": t, "group": g, "reference": ref, "survival": cur.at[t, "survival"],
                         "survival_reference": base.at[t, "survival"], "difference": d, "se": se,
                         "ci_lower": d - z * se, "ci_upper": d + z * se, "p": p})
    per = per[["time", "group", "survival", "std_err", "ci_lower", "ci_upper", "n_risk"]]
    return MilestoneResult(per, pd.DataFrame(rows, columns=list(MILESTONE_COLUMNS)), ref, conf_level)


def _se_at(result, times: np.ndarray) -> np.ndarray:
    """Greenwood SE of S at each time (0 before the first time, NaN after the last)."""
    tab = result.table
    idx = np.searchsorted(tab["time"].to_numpy(), times, side="right") - 1
    se = np.concatenate([[0.0], tab["std_err"].to_numpy(dtype=float)])[idx + 1]
    return np.where(times > tab["time"].iloc[-1], np.nan, se)


def rmst_differences(time, event, group, tau: float | None = None, *, reference=None, conf_level: float = 0.95,
                     tau_rule: Literal["min_last_time"] = "min_last_time") -> RMSTComparison:
    """Restricted mean survival time per group up to ``tau`` and the difference vs the reference.

    Parameters
    ----------
    tau : float, optional
        Truncation time. Default (``tau_rule="min_last_time"``): the smallest of the groups' last
        observed times, so that every curve is estimated up to tau. A tau beyond a group's last
        time is refused.

    Notes
    -----
    RMST_g = integral_0^tau S_g(t) dt with R's standard error (``print(survfit, rmean=tau)``);
    difference = RMST_g - RMST_ref, SE = sqrt(se_g^2 + se_ref^2), Wald CI and p.

    References
    ----------
    Royston P, Parmar MKB (2013). BMC Med Res Methodol 13:152. Uno H et al. (2014). J Clin Oncol
    32:2380-2385.
    """
    km = _curves(time, event, group, "log-log", conf_level)
    ref = _reference(km, reference)
    last = {g: float(r.table["time"].iloc[-1]) for g, r in km.items()}
    if tau is None:
        tau = min(last.values())
    tau = float(tau)
    too_short = [g for g, t in last.items() if t < tau]
    if not np.isfinite(tau) or tau <= 0:
        raise ValueError(f"tau must be a positive finite time, got {tau!r}.")
    if too_short:
        raise InsufficientDataError(f"RMST up to {tau:g} is not estimable for {', '.join(map(str, too_short))}: "
                                    f"follow-up ends earlier ({', '.join(f'{last[g]:g}' for g in too_short)}). "
                                    f"Choose tau <= {min(last.values()):g}.")
    res = {g: r.rmst(tau) for g, r in km.items()}
    per = pd.DataFrame([{"group": g, "tau": tau, "rmst": r.rmst, "se": r.se, "ci_lower": r.ci[0],
                         "ci_upper": r.ci[1]} for g, r in res.items()])
    z = norm_ppf(0.5 + conf_level / 2)
    rows = []
    for g, r in res.items():
        if g == ref:
            continue
        d, se = r.rmst - res[ref].rmst, float(np.hypot(r.se, res[ref].se))
        rows.append({"group": g, "reference": ref, "tau": tau, "rmst": r.rmst, "rmst_reference": res[ref].rmst,
                     "difference": d, "se": se, "ci_lower": d - z * se, "ci_upper": d + z * se,
                     "p": 2 * norm_sf(abs(d) / se) if se > 0 else np.nan})
    return RMSTComparison(per, pd.DataFrame(rows, columns=list(RMST_COLUMNS)), tau, ref, conf_level)
