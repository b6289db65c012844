"""Combined cohort, byte-stable CSV writing and the ``python -m il2lib.sample [OUTDIR]`` entry point."""
from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

from il2lib import schema
from il2lib.errors import Il2libError
from il2lib.sample._common import DECIMALS
from il2lib.sample.adverse_events import adverse_events
from il2lib.sample.community import COMMUNITY_SEED, community_cohort
from il2lib.sample.proclaim import PROCLAIM_SEED, proclaim_cohort
from il2lib.sample.tumour_assessments import tumour_assessments

DEFAULT_OUTDIR = Path(__file__).resolve().parents[2] / "sample_data"
SAMPLE_FILES = ("proclaim_synthetic", "community_synthetic", "combined_synthetic")
AE_SUFFIX = "_adverse_events"
TUMOUR_SUFFIX = "_tumour_assessments"


def combined_cohort(proclaim_seed: int = PROCLAIM_SEED,
                    community_seed: int = COMMUNITY_SEED) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Both synthetic cohorts stacked (PROCLAIM first) with their combined AE table.

    The ``source`` column ("PROCLAIM (synthetic)" / "Community (synthetic)") and the id prefixes
    (``PRO-``/``COM-``) keep ids unique. Comparisons of prior PD-1 vs none in this frame are
    confounded by era and site (``schema.ERA_CAVEAT``).

    Returns
    -------
    (patients, adverse_events) : tuple of pandas.DataFrame
    """
    parts = [proclaim_cohort(proclaim_seed), community_cohort(community_seed)]
    events = [adverse_events(parts[0], proclaim_seed), adverse_events(parts[1], community_seed)]
    return pd.concat(parts, ignore_index=True), pd.concat(events, ignore_index=True)


def to_csv_bytes(frame: pd.DataFrame) -> bytes:
    """CSV bytes with fixed float decimals, empty cells for missing values, ``\\n`` endings, UTF-8."""
    out = frame.copy()
    for name, decimals in DECIMALS.items():
        if name in out:
            out[name] = [None if pd.isna(v) else f"{v:.{decimals}f}" for v in out[name]]
    return out.to_csv(index=False, lineterminator="\n", na_rep="").encode("utf-8")


def sample_frames() -> dict[str, pd.DataFrame]:
    """File stem -> frame for every bundled sample file."""
    proclaim, community = proclaim_cohort(), community_cohort()
    proclaim_ae, community_ae = adverse_events(proclaim, PROCLAIM_SEED), adverse_events(community, COMMUNITY_SEED)
    frames = {
        "proclaim_synthetic": proclaim, "community_synthetic": community,
        "combined_synthetic": pd.concat([proclaim, community], ignore_index=True),
        "proclaim_synthetic" + AE_SUFFIX: proclaim_ae, "community_synthetic" + AE_SUFFIX: community_ae,
        "combined_synthetic" + AE_SUFFIX: pd.concat([proclaim_ae, community_ae], ignore_index=True),
    }
    proclaim_ta = tumour_assessments(proclaim, PROCLAIM_SEED)
    community_ta = tumour_assessments(community, COMMUNITY_SEED)
    frames.update({"proclaim_synthetic" + TUMOUR_SUFFIX: proclaim_ta,
                   "community_synthetic" + TUMOUR_SUFFIX: community_ta,
                   "combined_synthetic" + TUMOUR_SUFFIX: pd.concat([proclaim_ta, community_ta], ignore_index=True)})
    if not frames["combined_synthetic"][schema.PATIENT_ID].is_unique:
        raise Il2libError("combined sample has duplicate patient ids")
    return frames


def write_samples(outdir: str | Path = DEFAULT_OUTDIR) -> list[Path]:
    """(Re)write the bundled CSV files (patients, adverse events, tumour assessments) into ``outdir`` and return
    their paths."""
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    paths = []
    for stem, frame in sample_frames().items():
        path = outdir / f"{stem}.csv"
        path.write_bytes(to_csv_bytes(frame))
        paths.append(path)
    return paths


def main(argv: list[str] | None = None) -> int:
    """Command line: ``python -m il2lib.sample [OUTDIR]`` (default: the repository's sample_data/)."""
    args = sys.argv[1:] if argv is None else argv
    usage = "usage: python -m il2lib.sample [OUTDIR]   (rewrites the synthetic sample CSV files)"
    if args and args[0] in ("-h", "--help"):
        print(usage)
        return 0
    if len(args) > 1:
        print(usage, file=sys.stderr)
        return 2
    for path in write_samples(args[0] if args else DEFAULT_OUTDIR):
        print(path)
    return 0
