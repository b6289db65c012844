"""Table 1 (patient characteristics by group), in the style of R's gtsummary / Python's tableone.

Continuous variables: median (IQR), optionally mean (SD); categorical: n (%), with % of the
patients with a known value. Missing values are their own "Missing" row, never dropped. The
p-value column names its test by a footnote marker: Wilcoxon rank-sum / Kruskal-Wallis for
continuous variables; Fisher (2x2), exact Fisher-Freeman-Halton (an expected count < 5; a Monte
Carlo p-value, footnoted with its standard error, when there are too many tables) or chi-square
for categorical ones.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Mapping, Sequence

import numpy as np
import pandas as pd

from il2lib import schema
from il2lib._work import WorkCounter
from il2lib.analyses._grouping import (ALL_PATIENTS, _value_label, concat_excluded, excluded_frame, group_categories,
                                       level_order, patient_ids, require_columns)
from il2lib.errors import InsufficientDataError
from il2lib.notes import Note
from il2lib.privacy.disclosure import NO_SUPPRESSION, CountView, Suppression
from il2lib.stats import TEST_LABELS, TestResult, compare_continuous, compare_proportions, exact_work_budget, format_p

VarType = Literal["continuous", "categorical"]
OVERALL = "Overall"
MISSING = "Missing"
DEFAULT_VARIABLES = (schema.AGE, schema.SEX, schema.DISEASE, schema.ECOG, schema.HISTOLOGY, schema.N_MET_SITES,
                     schema.BRAIN_METS, schema.LIVER_METS, schema.LUNG_METS, schema.BONE_METS, schema.BASELINE_LDH,
                     schema.LDH_CATEGORY, schema.LINE_OF_IL2, schema.PRIOR_PD1, schema.PRIOR_PD1_AGENT,
                     schema.PRIOR_CTLA4, schema.PRIOR_TARGETED, schema.BOR)
#: Integer columns better shown level by level.
CATEGORICAL_INTS = frozenset({schema.ECOG, schema.LINE_OF_IL2})
#: Columns derived from the best overall response: none is tested against a grouping by another.
RESPONSE_DEFINED = frozenset({schema.BOR, schema.OBJECTIVE_RESPONSE, schema.CLINICAL_BENEFIT, schema.DISEASE_CONTROL})
#: A rank test (Wilcoxon, Kruskal-Wallis) needs at least this many patients with a value in every group it compares.
MIN_RANK_GROUP = 2
SUPERSCRIPTS = "¹²³⁴⁵⁶⁷⁸⁹"
#: Work Table 1 may do, in patients times passes over them (see :func:`table1_work`): each variable costs
#: :data:`TABLE1_COUNT_PASSES` passes, :data:`TABLE1_TEST_PASSES` more when it is tested, and each cell (a level or the
#: Missing row in a column shown, a summary, a tested group) :data:`TABLE1_CELL_COST`, each cell of a tested
#: categorical table :data:`TABLE1_TEST_CELL_COST` more; past it the table is refused. About 10 ns of CPU a unit.
TABLE1_WORK_LIMIT = 150_000_000
#: A variable's passes when counted: its level codes or numbers, the counts by group, the group summaries.
TABLE1_COUNT_PASSES = 3
#: A tested variable's passes more: the rank tests' sort, the conditional odds ratio of a 2x2 table.
TABLE1_TEST_PASSES = 14
#: A cell's fixed cost, in patient passes: its row and its displayed text, whatever the number of patients.
TABLE1_CELL_COST = 3_000
#: A tested cell's share of a Monte Carlo p-value, in patient passes: 10,000 random tables draw the cell 10,000 times.
TABLE1_TEST_CELL_COST = 65_000
TIDY_COLUMNS = ["variable", "label", "var_type", "level", "group", "n", "N", "percent",
                "median", "q1", "q3", "mean", "sd"]


@dataclass(frozen=True)
class Table1:
    """Table 1 result.

    ``tidy``: one row per (variable, level, group) with counts / summaries (level None for the
    continuous summary, ``"Missing"`` for missing values). ``tests``: one row per variable with
    the test name and p. :meth:`display`: the formatted table for ``st.dataframe`` or a manuscript.
    ``excluded``: patients left out (missing grouping value) with the reason.
    """

    by: str | None
    groups: tuple[str, ...]
    tidy: pd.DataFrame
    tests: pd.DataFrame
    footnotes: tuple[str, ...]
    excluded: pd.DataFrame
    n_used: int
    mean_sd: bool = False
    _unmasked: pd.DataFrame | None = field(default=None, repr=False, compare=False)  # display() as built

    def to_frame(self) -> pd.DataFrame:
        return self.tidy.copy()

    @property
    def columns(self) -> list[str]:
        """The table's columns: Overall (when shown), then the groups."""
        return list(dict.fromkeys(self.tidy["group"]))

    def display(self, shown: Suppression = NO_SUPPRESSION) -> pd.DataFrame:
        """The formatted table, each count as ``shown`` says (small-cell protection, see :meth:`count_view`);
        a percentage reads "–" unless its count, the column's N and the variable's missing count are shown."""
        if shown is NO_SUPPRESSION and self._unmasked is not None:
            return self._unmasked.copy()
        return _display(self.tidy, self.tests, self.columns, self.mean_sd, self.by, shown)[0]

    def count_view(self) -> CountView:
        """Every count of the table: per column, a variable's levels and its missing count add up to the
        column's N; per row, the Overall column is the sum of the groups."""
        view = CountView()
        columns = self.columns
        sizes = self.tidy.groupby("group", sort=False)["N"].first()
        for g in columns:
            view.add(_size_key(self.by, g), sizes[g], headline=True)
        for r in self.tidy.itertuples():
            if r.var_type == "categorical" or r.level == MISSING:
                view.add(_cell_key(r.variable, r.level, r.group), r.n)
        for (variable, var_type), sub in self.tidy.groupby(["variable", "var_type"], sort=False):
            levels = list(dict.fromkeys(sub["level"].dropna()))
            if var_type == "categorical":
                for g in columns:
                    view.add_sum(_size_key(self.by, g), [_cell_key(variable, lv, g) for lv in levels])
            if OVERALL in columns and len(columns) > 1:
                for lv in levels if var_type == "categorical" else [MISSING]:
                    view.add_sum(_cell_key(variable, lv, OVERALL), [_cell_key(variable, lv, g) for g in columns[1:]])
        if OVERALL in columns and len(columns) > 1:
            view.add_sum(_size_key(self.by, OVERALL), [_size_key(self.by, g) for g in columns[1:]])
        return view


def _size_key(by: str | None, group: str) -> tuple:
    return ("n", by, group)


def _cell_key(variable: str, level: str, group: str) -> tuple:
    return ("t1", variable, level, group)


def infer_type(df: pd.DataFrame, column: str) -> VarType:
    """Continuous for numeric schema columns (ECOG and line of IL-2 excepted), categorical otherwise."""
    spec = schema.COLUMNS.get(column)
    if column in CATEGORICAL_INTS:
        return "categorical"
    if spec is not None:
        return "continuous" if spec.kind in ("number", "int") else "categorical"
    series = df[column]
    if pd.api.types.is_bool_dtype(series) or not pd.api.types.is_numeric_dtype(series):
        return "categorical"
    return "continuous" if series.nunique(dropna=True) > 10 else "categorical"


def _label(column: str) -> str:
    spec = schema.COLUMNS.get(column)
    label = schema.label(column)
    return f"{label} ({spec.unit})" if spec is not None and spec.unit else label


@dataclass(frozen=True)
class _Groups:
    """The kept patients by group: each one's group index (into ``groups``, or 0 for all patients when not
    grouped), and the patients of each group in data order (``order[starts[i]:starts[i + 1]]``)."""

    codes: np.ndarray
    order: np.ndarray
    starts: np.ndarray

    @classmethod
    def of(cls, codes: np.ndarray, n_groups: int) -> "_Groups":
        order = np.argsort(codes, kind="stable")
        starts = np.concatenate([[0], np.cumsum(np.bincount(codes, minlength=n_groups))])
        return cls(codes, order, starts)

    @property
    def n_groups(self) -> int:
        return len(self.starts) - 1

    def split(self, values: np.ndarray) -> list[np.ndarray]:
        """``values`` of each group, in data order."""
        ordered = values[self.order]
        return [ordered[a:b] for a, b in zip(self.starts[:-1], self.starts[1:])]

    def counts(self, codes: np.ndarray, n_codes: int) -> np.ndarray:
        """groups x codes table of how many patients of each group have each code (0 .. n_codes - 1)."""
        return np.bincount(self.codes * n_codes + codes, minlength=self.n_groups * n_codes).reshape(-1, n_codes)


def _numbers(values: pd.Series) -> np.ndarray:
    return pd.to_numeric(values, errors="coerce").astype("float64").to_numpy()


def _summary(values: np.ndarray) -> dict:
    known = pd.Series(values[~np.isnan(values)])
    return dict(median=known.median(), q1=known.quantile(0.25), q3=known.quantile(0.75), mean=known.mean(),
                sd=known.std(ddof=1)) if len(known) else {}


def _continuous_rows(column: str, num: np.ndarray, by_group: list[np.ndarray], columns: list[str]) -> list[dict]:
    """``by_group``: the values of each group, in the order of the columns after Overall."""
    groups = iter(by_group)
    rows = []
    for g in columns:
        v = num if g == OVERALL else next(groups)
        missing = int(np.isnan(v).sum())
        summary = {"variable": column, "label": _label(column), "var_type": "continuous", "group": g, "N": len(v)}
        rows.append({**summary, "level": None, "n": len(v) - missing, "percent": np.nan, **_summary(v)})
        rows.append({**summary, "level": MISSING, "n": missing, "percent": np.nan})
    return rows


def _level_codes(column: str, values: pd.Series) -> tuple[np.ndarray, list[str]]:
    """Each patient's index into a variable's levels as rows under its heading ("Yes", not "Prior PD-1/PD-L1:
    yes"; -1 = missing), and those levels in :func:`~il2lib.analyses._grouping.level_order`'s order: the levels
    of :func:`~il2lib.analyses._grouping.level_labels`, each distinct value labelled once."""
    if column == schema.LINE_OF_IL2:
        line = _numbers(values)
        codes = np.select([line >= 3, line >= 2, line >= 1], [2, 1, 0], -1)
        names = ["1", "2", "3+"]
    else:
        codes, uniques = pd.factorize(values)
        names = [_value_label(u) for u in uniques]
        if column == schema.DISEASE:
            names = [schema.DISEASE_LABELS.get(v, v) if v is not None else None for v in names]
    used = np.bincount(codes + 1, minlength=len(names) + 1)[1:] > 0
    present = [v for v, u in zip(names, used) if u and v is not None]
    levels = level_order(column, pd.Series(present, dtype=object))
    at = {v: i for i, v in enumerate(levels)}
    recode = np.array([at.get(v, -1) for v in names] + [-1], dtype=np.intp)
    return recode[codes], levels


def _categorical_rows(column: str, levels: list[str], counts: np.ndarray, columns: list[str]) -> list[dict]:
    """``counts``: groups x (levels, Missing), the groups in the order of the columns after Overall."""
    groups = iter(counts.tolist())
    rows = []
    for g in columns:
        c = counts.sum(axis=0).tolist() if g == OVERALL else next(groups)
        known = sum(c[:-1])
        base = {"variable": column, "label": _label(column), "var_type": "categorical", "group": g, "N": sum(c)}
        for level, k in zip(levels, c):
            rows.append({**base, "level": level, "n": k, "percent": 100 * k / known if known else np.nan})
        rows.append({**base, "level": MISSING, "n": c[-1], "percent": np.nan})
    return rows


@dataclass(frozen=True)
class _Variable:
    """One variable of the kept patients: which have a value and, categorical, its counts by group (groups x
    (levels, Missing))."""

    column: str
    var_type: VarType
    known: np.ndarray
    counts: np.ndarray | None = None


def _test(variable: _Variable, by_group: list[np.ndarray] | None, exact=None) -> TestResult:
    if variable.var_type == "continuous":
        return compare_continuous(by_group)
    table = variable.counts[:, :-1]
    table = table[table.sum(axis=1) > 0][:, table.sum(axis=0) > 0]  # groups and levels without patients
    if min(table.shape) < 2:
        raise InsufficientDataError("a comparison needs at least two groups and two levels with patients.")
    return compare_proportions(table, shared=exact)


def table1(df: pd.DataFrame, by: str | None = None, variables: Sequence[str] | None = None, *,
           types: Mapping[str, VarType] | None = None, mean_sd: bool = False, overall: bool = True,
           tests: bool = True, work_limit: int | None = None, order: Sequence[str] | None = None) -> Table1:
    """Patient characteristics overall and by group, with p-values and the tests named.

    Parameters
    ----------
    df : DataFrame
        One row per patient.
    by : str, optional
        Grouping column; patients with a missing value are left out and listed in ``excluded``.
    variables : sequence of str, optional
        Columns to summarise (default: :data:`DEFAULT_VARIABLES` present in ``df``, minus ``by``).
    types : mapping, optional
        Override the inferred ``"continuous"`` / ``"categorical"`` type of a column.
    mean_sd : bool
        Add "mean (SD)" under "median (IQR)" for continuous variables.
    work_limit : int, optional
        Work allowed (default :data:`TABLE1_WORK_LIMIT`, :func:`table1_work`): the least the table can need is
        checked first, then each variable is counted before it is summarised; past the limit
        :class:`~il2lib.errors.WorkLimitExceeded` is raised. The exact tests of all variables share
        :data:`il2lib.stats.FFH_ANALYSIS_WORK_LIMIT` (then Monte Carlo p-values).
    order : sequence of str, optional
        Groups to put first, in that order (see :func:`~il2lib.analyses._grouping.level_order`).

    Notes
    -----
    Quartiles are pandas' linear interpolation (R's type 7, the default of ``quantile`` and
    gtsummary). Tests use the patients with a known value; missing values are excluded from the
    test and shown as their own row.
    """
    if variables is None:
        variables = [v for v in DEFAULT_VARIABLES if v in df.columns and v != by]
    else:
        variables = list(variables)
        require_columns(df, *variables)
    labels = group_categories(df, by)
    keep = labels.cat.codes.to_numpy() >= 0
    excluded = excluded_frame(df, ~keep, f"{schema.label(by)} missing") if by else concat_excluded([])
    n = int(keep.sum())
    if n == 0:
        raise InsufficientDataError("No patient to describe in Table 1.")
    groups = level_order(by, labels, order) if by else []
    position = np.array([groups.index(g) if by else 0 for g in labels.cat.categories], dtype=np.intp)
    split = _Groups.of(position[labels.cat.codes.to_numpy()[keep]], max(len(groups), 1))
    kept = (lambda series: series) if n == len(df) else (lambda series: series[keep])
    columns = ([OVERALL] if overall or not by else []) + groups
    rows, test_rows, test_notes = [], [], []
    tested_groups = len(groups) if tests and len(groups) >= 2 else 0
    what = f"Table 1 of {n:,} patients in {len(columns)} column{'s' if len(columns) > 1 else ''}"
    limit = TABLE1_WORK_LIMIT if work_limit is None else work_limit
    advice = "narrow the filters or group by a column with fewer values"
    types_of = {column: (types or {}).get(column) or infer_type(df, column) for column in variables}
    least = sum(table1_work(n, len(columns), tested_groups, None if t == "continuous" else 0)
                for t in types_of.values())
    WorkCounter(what, limit, advice).charge(least)  # before any level is counted
    work, exact = WorkCounter(what, limit, advice), exact_work_budget("Table 1")
    ids = _LazyIds(df, keep)
    for column in variables:
        var_type = types_of[column]
        if var_type == "continuous":
            work.charge(table1_work(n, len(columns), tested_groups, None))
            num = _numbers(kept(df[column]))
            variable, by_group = _Variable(column, var_type, ~np.isnan(num)), split.split(num) if groups else []
            rows += _continuous_rows(column, num, by_group, columns)
        else:
            codes, levels = _level_codes(column, kept(df[column]))
            work.charge(table1_work(n, len(columns), tested_groups, len(levels)))
            counts = split.counts(np.where(codes < 0, len(levels), codes), len(levels) + 1)
            variable, by_group = _Variable(column, var_type, codes >= 0, counts), None
            rows += _categorical_rows(column, levels, counts, columns)
        if tested_groups:
            row, note = _test_row(variable, by_group, split.codes, groups, by, ids, exact)
            test_rows.append(row)
            test_notes += [note] if note else []
            if row["test"] == "fisher_freeman_halton_mc":
                test_notes.append(f"{_label(column)}: p-value by the {row['test_label']}, because there are too "
                                  "many possible tables for the exact test.")
    tidy = pd.DataFrame(rows).reindex(columns=TIDY_COLUMNS)
    test_frame = pd.DataFrame(test_rows, columns=["variable", "test", "test_label", "statistic", "pvalue", "note"])
    display, footnotes = _display(tidy, test_frame, columns, mean_sd, by)
    footnotes = (f"Patients used: {n} of {len(df)}"
                 + (f"; {len(excluded)} left out ({schema.label(by)} missing)." if len(excluded) else "."),
                 *footnotes, *test_notes)
    if by in (schema.PRIOR_PD1, schema.PRIOR_PD1_AGENT) and len(groups) >= 2:
        footnotes = (*footnotes, schema.ERA_CAVEAT)
    return Table1(by, tuple(groups), tidy, test_frame, footnotes, excluded, n, mean_sd, display)


def table1_work(patients: int, columns: int, tested_groups: int, levels: int | None) -> int:
    """Work of one variable (:data:`TABLE1_WORK_LIMIT`). A categorical variable has its ``levels`` and Missing in
    each column, and per tested group its known count and a cell per level, tested; a continuous one (``levels``
    None) a summary and Missing in each column and the values of each tested group."""
    passes = TABLE1_COUNT_PASSES + (TABLE1_TEST_PASSES if tested_groups else 0)
    if levels is None:
        return patients * passes + (columns * 2 + tested_groups) * TABLE1_CELL_COST
    tested_cells = tested_groups * levels
    return (patients * passes + (columns * (levels + 1) + tested_groups) * TABLE1_CELL_COST
            + tested_cells * TABLE1_TEST_CELL_COST)


def _test_row(variable: _Variable, by_group: list[np.ndarray] | None, codes: np.ndarray, groups: list[str],
              by: str | None, ids: "_LazyIds", exact=None) -> tuple[dict, Note | None]:
    """The test of one variable across ``groups`` (``codes``: each patient's group) and the note it needs under
    the table (or None).

    No test when the variable and the grouping both derive from the best overall response; groups
    without any value drop out (named in the note); no rank test when a group it compares has fewer
    than :data:`MIN_RANK_GROUP` patients with a value.
    """
    column, var_type = variable.column, variable.var_type
    untested = {"variable": column, "test": None, "test_label": None, "statistic": None, "pvalue": np.nan}
    name = _label(column)
    if by in RESPONSE_DEFINED and column in RESPONSE_DEFINED:
        why = f"it and the grouping ({schema.label(by)}) are both defined by the best overall response"
        return ({**untested, "note": f"not tested: {why}"},
                Note(f"{name}: no p-value, because {why}; a test would compare the response with itself.",
                     kind="table1_defines_groups"))
    known = variable.known
    n_known = dict(zip(groups, np.bincount(codes[known], minlength=len(groups)).tolist()))
    tested = [g for g in groups if n_known[g] > 0]
    small = [g for g in tested if n_known[g] < MIN_RANK_GROUP] if var_type == "continuous" else []
    if len(tested) >= 2 and small:
        in_small = known & _in_groups(codes, groups, small)
        why = (f"{_groups_text(small)} {'has' if len(small) == 1 else 'have'} fewer than {MIN_RANK_GROUP} patients "
               f"with a value (n = {', '.join(str(n_known[g]) for g in small)}); a rank test needs at least "
               f"{MIN_RANK_GROUP} per group")
        return ({**untested, "note": f"not tested: {why}"},
                Note(f"{name}: no p-value, because {why}.", count=int(in_small.sum()), patient_ids=ids[in_small],
                     kind="table1_group_too_small"))
    try:
        res = _test(variable, by_group, exact)
    except InsufficientDataError as err:
        return {**untested, "note": f"not tested: {err}"}, None
    row = {"variable": column, "test": res.test, "test_label": res.label, "statistic": res.statistic,
           "pvalue": res.pvalue, "note": res.note}
    left_out = [g for g in groups if n_known[g] == 0]
    if not left_out:
        return row, None
    in_left_out = _in_groups(codes, groups, left_out)
    n_out, one = int(in_left_out.sum()), len(left_out) == 1
    text = (f"{name}: {_groups_text(left_out)} ({n_out} patient{'' if n_out == 1 else 's'}) "
            f"{'has' if one else 'have'} no known value and {'is' if one else 'are'} left out of the test, "
            f"which compares {_groups_text(tested)} only ({res.label}).")
    row["note"] = f"{res.note.rstrip('.')}. {text}" if res.note else text
    return row, Note(text, count=n_out, patient_ids=ids[in_left_out], kind="table1_group_left_out")


def _in_groups(codes: np.ndarray, groups: list[str], some: list[str]) -> np.ndarray:
    return np.isin(codes, [groups.index(g) for g in some])


class _LazyIds:
    """The kept patients' ids (:func:`~il2lib.analyses._grouping.patient_ids`), made when a note first names some."""

    def __init__(self, df: pd.DataFrame, keep: np.ndarray):
        self._df, self._keep, self._ids = df, keep, None

    def __getitem__(self, mask: np.ndarray) -> pd.Series:
        if self._ids is None:
            self._ids = patient_ids(self._df)[self._keep]
        return self._ids[mask]


def _groups_text(groups: list[str]) -> str:
    words = [f"group {groups[0]}" if len(groups) == 1 else "groups " + groups[0], *groups[1:]]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + f" and {words[-1]}"


def _fmt_num(x: float) -> str:
    return "—" if pd.isna(x) else (f"{x:.0f}" if abs(x) >= 100 else f"{x:.1f}" if abs(x) >= 10 else f"{x:.2g}"
                                   if abs(x) < 1 else f"{x:.1f}")


def _count_pct(count: str, percent) -> str:
    return count if pd.isna(percent) else f"{count} ({percent:.0f}%)"


def _display(tidy: pd.DataFrame, tests: pd.DataFrame, columns: list[str], mean_sd: bool, by: str | None,
             shown: Suppression = NO_SUPPRESSION):
    sizes = tidy.groupby("group", sort=False)["N"].first()
    headers = {g: f"{g if g != OVERALL or by else ALL_PATIENTS} (N={shown.text(_size_key(by, g), sizes[g])})"
               for g in columns}

    def count_pct(variable: str, level: str, g: str, n, percent) -> str:
        key = _cell_key(variable, level, g)
        visible = n == 0 or shown.shows(key, _size_key(by, g), _cell_key(variable, MISSING, g))
        return _count_pct(shown.text(key, n), percent if visible else np.nan) + ("" if visible else " (–)")

    used_tests = [t for t in TEST_LABELS if t in set(tests["test"].dropna())]
    marker = {t: SUPERSCRIPTS[i] for i, t in enumerate(used_tests)}
    p_of = {r.variable: (format_p(r.pvalue) + marker.get(r.test, "")) if r.test else "—" for r in tests.itertuples()}
    out = []
    for column, sub in tidy.groupby("variable", sort=False):
        var_type = sub["var_type"].iloc[0]
        head = {"Characteristic": sub["label"].iloc[0]}
        cells = {(None if pd.isna(r.level) else r.level, r.group): r for r in sub.itertuples(index=False)}
        if var_type == "continuous":
            head.update({headers[g]: f"{_fmt_num(cells[None, g].median)} ({_fmt_num(cells[None, g].q1)}, "
                                     f"{_fmt_num(cells[None, g].q3)})" for g in columns})
            if p_of:
                head["p-value"] = p_of.get(column, "")
            out.append(head)
            if mean_sd:
                out.append({"Characteristic": "    Mean (SD)", **{headers[g]: f"{_fmt_num(cells[None, g].mean)} "
                            f"({_fmt_num(cells[None, g].sd)})" for g in columns}})
            levels = [MISSING]
        else:
            if p_of:
                head["p-value"] = p_of.get(column, "")
            out.append(head)
            levels = list(dict.fromkeys(sub["level"]))
        for level in levels:
            if level == MISSING and sum(cells[level, g].n for g in columns) == 0:
                continue
            out.append({"Characteristic": f"    {level}", **{headers[g]: (
                shown.text(_cell_key(column, MISSING, g), cells[level, g].n) if level == MISSING
                else count_pct(column, level, g, cells[level, g].n, cells[level, g].percent)) for g in columns}})
    display = pd.DataFrame(out).fillna("")
    notes = ["Continuous: median (Q1, Q3)" + ("; mean (SD)" if mean_sd else "") + ". Categorical: n (% of known).",
             "Missing values are shown as their own row and left out of the percentages and tests."]
    notes += [f"{marker[t]} {TEST_LABELS[t]}" for t in used_tests]
    if used_tests:
        notes.append("Categorical tests: Fisher's exact for 2x2; for larger tables exact Fisher-Freeman-Halton when "
                     "any expected count is < 5, otherwise chi-square."
                     + (" When there are too many possible tables to list, the Fisher-Freeman-Halton p-value is a "
                        "Monte Carlo estimate from random tables with the same row and column totals."
                        if "fisher_freeman_halton_mc" in used_tests else ""))
    return display, tuple(notes)
