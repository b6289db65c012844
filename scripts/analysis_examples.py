"""One example of each analysis of the "Models and further comparisons" sections (competing risks, pairwise
tests, milestones and RMST, multivariable Cox, time origin, published comparison) on the bundled combined
sample (107 synthetic patients).

Usage: .venv/bin/python scripts/analysis_examples.py
"""
from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from il2lib import load_cohort, schema  # noqa: E402
from il2lib.analyses.published import median_overlay, response_overlay  # noqa: E402
from il2lib.analyses.response import best_response_table, response_rates  # noqa: E402
from il2lib.cohort import line_groups  # noqa: E402
from il2lib.export.snippets import km_snippet  # noqa: E402
from il2lib.privacy.masking import mask_table  # noqa: E402
from il2lib.stats import format_p  # noqa: E402
from il2lib.survival.competing import cumulative_incidence, progression_competing_status  # noqa: E402
from il2lib.survival.milestones import rmst_differences, survival_differences  # noqa: E402
from il2lib.survival.multivariable import multivariable_cox  # noqa: E402
from il2lib.survival.pairwise import pairwise_fisher, pairwise_logrank  # noqa: E402
from il2lib.survival.time_origin import kaplan_meier_entry, origin_times  # noqa: E402


def main() -> None:
    df = load_cohort(ROOT / "sample_data" / "combined_synthetic.csv").data
    os_t, os_e = df[schema.OS_MONTHS], df[schema.OS_EVENT].astype("Float64")
    disease = df[schema.DISEASE].map(schema.DISEASE_LABELS)

    print("1. Multivariable Cox, OS ~ age/10 + sex + ECOG + disease (Efron):")
    m = multivariable_cox(df, "os", ["age", "sex", "ecog", "disease"])
    for r in m.table.itertuples():
        print(f"   {r.term}: HR {r.hr:.2f} ({r.hr_lower:.2f}-{r.hr_upper:.2f}), p {format_p(r.p)}")
    print(f"   {m.n_events} events / {m.n_coefficients} coefficients = {m.events_per_coefficient:.1f} per coefficient;"
          f" cox.zph violated: {', '.join(m.ph_violated) or 'none'} (GLOBAL p = "
          f"{m.ph.table['p'].iloc[-1]:.3f})")
    bad = multivariable_cox(df[df[schema.DISEASE] == schema.MELANOMA], "os", ["disease", "age"])
    print(f"   melanoma only with disease as covariate -> {bad.message}")

    print("2. Pairwise log-rank, OS by line of IL-2:")
    pw = pairwise_logrank(os_t, os_e, line_groups(df[schema.LINE_OF_IL2]))
    for r in pw.table.itertuples():
        print(f"   {r.group_a} vs {r.group_b}: p {r.p:.3f}, Holm {r.p_holm:.3f}, BH {r.p_bh:.3f}")
    rates = response_rates(df, schema.LINE_OF_IL2, "orr").rates
    pf = pairwise_fisher({g: (x, n) for g, x, n in zip(rates["group"], rates["responders"], rates["n"])})
    for r in pf.table.itertuples():
        print(f"   ORR {r.group_a} vs {r.group_b} (Fisher): p {r.p:.3f}, Holm {r.p_holm:.3f}, BH {r.p_bh:.3f}")

    print("3. Milestones and RMST, OS RCC vs melanoma:")
    ms = survival_differences(os_t, os_e, disease, [12, 24]).differences
    for r in ms.itertuples():
        print(f"   S({r.time:g}) {r.group} - {r.reference}: {100 * r.difference:+.1f} points "
              f"({100 * r.ci_lower:+.1f} to {100 * r.ci_upper:+.1f}), p {r.p:.3f}")
    rm = rmst_differences(os_t, os_e, disease)
    d = rm.differences.iloc[0]
    print(f"   RMST to {rm.tau:.1f} mo: {d.group} {d.rmst:.1f} vs {d.reference} {d.rmst_reference:.1f}; "
          f"difference {d.difference:+.1f} ({d.ci_lower:+.1f} to {d.ci_upper:+.1f}) months, p {d.p:.3f}")

    print("4. Competing risks: cumulative incidence of progression (death without progression competing):")
    t, st = progression_competing_status(df)
    cr = cumulative_incidence(t, st, disease, event_label="Progression", competing_label="Death w/o progression")
    for r in cr.at([12]).itertuples():
        print(f"   {r.group}, {r.event}, 12 mo: {100 * r.cif:.1f}% ({100 * r.ci_lower:.1f}-{100 * r.ci_upper:.1f})")
    print(f"   Gray's test: chi-square {cr.gray.statistic:.3f}, df {cr.gray.df}, p {cr.gray.pvalue:.3f}")

    print("5. Time origin: OS from the end of PD-1/PD-L1 therapy, delayed entry at IL-2 start:")
    o = origin_times(df, "os", "pd1_end")
    km = kaplan_meier_entry(o.entry, o.time, o.event)
    print(f"   {o.note}")
    print(f"   median {km.median:.1f} months ({km.median_ci[0]:.1f}-{km.median_ci[1]:.1f})")

    print("6. Published overlay (ORR by disease, PROCLAIM patients = prior PD-1 yes):")
    proclaim = df[df[schema.PRIOR_PD1].astype(bool)]
    for r in response_overlay(response_rates(proclaim, schema.DISEASE)).itertuples():
        print(f"   {r.source}, {r.group}: {r.responders}/{r.n} = {100 * r.rate:.1f}% "
              f"({100 * r.ci_lower:.1f}-{100 * r.ci_upper:.1f})")
    community = df[~df[schema.PRIOR_PD1].astype(bool)]
    for r in median_overlay(community).itertuples():
        print(f"   median OS {r.disease} {r.group}: ours {r.our_median:.1f} vs published {r.published_text}")

    print("7. Reproducible code (Python snippet for the KM table by disease):")
    print("   " + km_snippet("os", schema.DISEASE).python.replace("\n", "\n   ").rstrip())

    print("8. Small-cell protection (threshold 5) on the best-response table by prior PD-1 agent:")
    bor = best_response_table(df, schema.PRIOR_PD1_AGENT).display().reset_index()
    print("   " + mask_table(bor).iloc[:3, :4].to_string(index=False).replace("\n", "\n   "))


if __name__ == "__main__":
    main()
