"""The single source of truth for column names, types, units, allowed values and synonyms.

Every other module imports the constants defined here (``schema.OS_MONTHS``) instead of
retyping ``"os_months"``. The data dictionary follows ``docs/domain.md`` section 3:
one row per patient, plus an optional long-format adverse-event (AE) table.

Name and value matching is case-, spacing- and punctuation-insensitive: see :func:`norm`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal, NamedTuple

Kind = Literal["string", "category", "number", "int", "bool", "date"]
Required = Literal["required", "optional", "conditional"]

DAYS_PER_MONTH = 30.4375
CB_SD_MONTHS_DEFAULT = 6.0
#: Assessment window W (days): an SD duration meets a threshold of X when, in whole days, it is >= X - W.
ASSESSMENT_WINDOW_DAYS_DEFAULT = 7
#: RECIST 1.1 minimum time on study (from IL-2 start) for SD to count as disease control.
SD_MINIMUM_WEEKS_DEFAULT = 6
MIN_YEAR = 1980

#: Tokens that mean "missing" in any column (compared after :func:`norm`).
MISSING_TOKENS = frozenset({"", "na", "n/a", "nan", ".", "unknown", "unk", "none", "null", "missing", "-"})
BOOL_TRUE = frozenset({"1", "y", "yes", "true", "t", "1.0"})
BOOL_FALSE = frozenset({"0", "n", "no", "false", "f", "0.0"})


def norm(text: object) -> str:
    """Normalise a column name or category value for matching.

    Lower-cases, strips, and folds runs of spaces, underscores, hyphens and dots into one
    space: ``"Clear_Cell  RCC"`` and ``"clear-cell rcc"`` both become ``"clear cell rcc"``.
    A slash is kept (``n/a``), as is ``+``.
    """
    s = str(text).replace("\ufeff", "").strip().lower()
    s = re.sub(r"[\s_\-\.]+", " ", s)
    return s.strip()


@dataclass(frozen=True)
class ColumnSpec:
    """One column of the data dictionary."""

    name: str
    kind: Kind
    label: str
    required: Required = "optional"
    unit: str = ""
    allowed: tuple[str, ...] = ()
    synonyms: tuple[str, ...] = ()
    #: raw value (normalised with :func:`norm`) -> canonical allowed value
    value_synonyms: dict[str, str] = field(default_factory=dict)
    #: plausible range; outside it is a warning, the value is kept as entered
    plausible: tuple[float, float] | None = None
    #: hard range; outside it is a row-level error
    hard: tuple[float, float] | None = None
    description: str = ""


# --------------------------------------------------------------------------------------
# Column names: patient file (input)
# --------------------------------------------------------------------------------------
PATIENT_ID = "patient_id"
DISEASE = "disease"
SOURCE = "source"
AGE = "age_at_il2"
SEX = "sex"
ECOG = "ecog"
HISTOLOGY = "histology"
IMDC_RISK = "imdc_risk"
BRAF = "braf_v600"
N_MET_SITES = "n_met_sites"
BRAIN_METS = "brain_mets"
LIVER_METS = "liver_mets"
LUNG_METS = "lung_mets"
BONE_METS = "bone_mets"
PRIOR_LINES = "prior_systemic_lines"
PRIOR_PD1 = "prior_pd1_pdl1"
PRIOR_PD1_AGENT = "prior_pd1_agent"
PRIOR_CTLA4 = "prior_ctla4"
PRIOR_TARGETED = "prior_targeted"
PRIOR_PD1_BOR = "prior_pd1_best_response"
DATE_LAST_PD1 = "date_last_pd1"
PD1_RESISTANCE = "pd1_resistance"
RESPONSE_CRITERIA = "response_criteria"
RESPONSE_CONFIRMED = "response_confirmed"
AJCC_M = "ajcc_m_category"
DATA_CUTOFF = "data_cutoff_date"
DATE_IL2_START = "date_il2_start"
N_COURSES = "n_courses"
N_CYCLES = "n_cycles"
DOSES_C1 = "doses_c1"
DOSES_C2 = "doses_c2"
TOTAL_DOSES = "total_doses"
BOR = "bor"
DATE_FIRST_RESPONSE = "date_first_response"
SD_DURATION = "sd_duration_months"
PROGRESSED = "progressed"
DATE_PROGRESSION = "date_progression"
DATE_LAST_ASSESSMENT = "date_last_assessment"
DIED = "died"
DATE_DEATH = "date_death"
DATE_LAST_FOLLOWUP = "date_last_followup"
BASELINE_LDH = "baseline_ldh"
LDH_ULN = "ldh_uln"
BASELINE_PLATELETS = "baseline_platelets"
PLATELET_NADIR = "platelet_nadir"
BASELINE_ALC = "baseline_alc"
PEAK_ALC = "peak_alc"
PEAK_TEMP = "peak_temp_c"
AUTOIMMUNE = "autoimmune_phenomena"
AUTOIMMUNE_TYPE = "autoimmune_type"
MAX_CTCAE = "max_ctcae_grade"
STEROIDS_IRAE = "steroids_for_irae"
ICU_TRANSFER = "icu_transfer"
TREATMENT_DEATH = "treatment_related_death"

# Month columns accepted directly when the dates are absent (an export that already has times).
OS_MONTHS = "os_months"
PFS_MONTHS = "pfs_months"
PFS_EVENT = "pfs_event"
DOR_MONTHS = "dor_months"
DOR_EVENT = "dor_event"
# Optional extra columns read by il2lib.survival.time_origin when present (kept as unmapped extras by the loader).
DATE_DIAGNOSIS = "date_diagnosis"
DATE_REGISTRY_ENTRY = "date_registry_entry"

# --------------------------------------------------------------------------------------
# Column names: derived by il2lib (never trusted from input, except the month columns above
# when no dates are given)
# --------------------------------------------------------------------------------------
FILE_ROW = "file_row"  # line number in the uploaded file (header = line 1), for traceability
LINE_OF_IL2 = "line_of_il2"  # prior_systemic_lines + 1
FIRST_LINE = "first_line"  # line_of_il2 == 1
OBJECTIVE_RESPONSE = "objective_response"  # bor in {CR, PR}
CLINICAL_BENEFIT = "clinical_benefit"  # CR/PR, or SD lasting >= cb_sd_months; NA if SD without duration
DISEASE_CONTROL = "disease_control"  # CR/PR/SD, after the RECIST 1.1 rules of il2lib.validation.recist
#: the iRECIST category ``bor`` was recorded as (iCR/iPR/iSD/iCPD/iUPD); present only when a file has one
BOR_IRECIST = "bor_irecist"
OS_EVENT = "os_event"  # = died
LDH_X_ULN = "ldh_x_uln"
LDH_CATEGORY = "ldh_category"  # "<=1x ULN", "1-2x ULN", ">2x ULN"
#: computed by il2lib.analyses.biomarkers (not by the loader): mean of doses_c1/doses_c2 that are known
MEAN_DOSES_PER_CYCLE = "mean_doses_per_cycle"

# --------------------------------------------------------------------------------------
# Allowed values
# --------------------------------------------------------------------------------------
MELANOMA, RCC = "melanoma", "rcc"
DISEASES = (MELANOMA, RCC)
DISEASE_LABELS = {MELANOMA: "Melanoma", RCC: "RCC"}
BOR_LEVELS = ("CR", "PR", "SD", "PD", "NE")
BOR_LABELS = {
    "CR": "Complete response",
    "PR": "Partial response",
    "SD": "Stable disease",
    "PD": "Progressive disease",
    "NE": "Not evaluable",
}
#: Best overall responses that count as objective response (RECIST 1.1), and as disease control.
RESPONDERS = ("CR", "PR")
DISEASE_CONTROL_LEVELS = ("CR", "PR", "SD")

#: Columns whose groups the Response page and the meeting report compare ("Compare groups").
COMPARISON_GROUPINGS = (DISEASE, PRIOR_PD1, PRIOR_PD1_AGENT, LINE_OF_IL2, SOURCE, SEX)
PD1_AGENTS = ("nivolumab", "pembrolizumab", "atezolizumab", "avelumab", "durvalumab", "cemiplimab", "other")
PDL1_AGENTS = ("atezolizumab", "avelumab", "durvalumab")
LDH_CATEGORIES = ("<=1x ULN", "1-2x ULN", ">2x ULN")

_BOR_SYNONYMS = {
    "cr": "CR", "complete": "CR", "complete response": "CR", "crr": "CR",
    "pr": "PR", "partial": "PR", "partial response": "PR",
    "sd": "SD", "stable": "SD", "stable disease": "SD",
    "pd": "PD", "progression": "PD", "progressive disease": "PD", "pod": "PD", "progressive": "PD",
    "ne": "NE", "not evaluable": "NE", "nonevaluable": "NE", "non evaluable": "NE", "unk": "NE",
    "inevaluable": "NE",
    # iRECIST (Seymour 2017) -> RECIST 1.1 counterpart; iUPD (unconfirmed progression) is also a load warning
    "icr": "CR", "ipr": "PR", "isd": "SD", "icpd": "PD", "iupd": "PD",
    "i cr": "CR", "i pr": "PR", "i sd": "SD", "i cpd": "PD", "i upd": "PD",
}

# --------------------------------------------------------------------------------------
# The patient-file dictionary
# --------------------------------------------------------------------------------------
def _bool(name: str, label: str, *synonyms: str, required: Required = "optional", **kw) -> ColumnSpec:
    return ColumnSpec(name, "bool", label, required, synonyms=synonyms, **kw)


PATIENT_COLUMNS: tuple[ColumnSpec, ...] = (
    ColumnSpec(PATIENT_ID, "string", "Patient ID", "required",
               synonyms=("id", "subject_id", "pt_id", "study_id", "record_id", "subject", "patient"),
               description="Unique study/registry id; never a medical record number."),
    ColumnSpec(DISEASE, "category", "Disease", "required", allowed=DISEASES,
               synonyms=("cancer_type", "tumor_type", "tumour_type", "diagnosis", "primary_cancer", "cancer"),
               value_synonyms={
                   "melanoma": MELANOMA, "mm": MELANOMA, "mel": MELANOMA, "metastatic melanoma": MELANOMA,
                   "cutaneous melanoma": MELANOMA, "skcm": MELANOMA, "malignant melanoma": MELANOMA,
                   "rcc": RCC, "mrcc": RCC, "renal": RCC, "renal cell": RCC, "renal cell carcinoma": RCC,
                   "kidney": RCC, "kidney cancer": RCC, "ccrcc": RCC, "clear cell rcc": RCC,
                   "metastatic rcc": RCC, "metastatic renal cell carcinoma": RCC,
                   "clear cell renal cell carcinoma": RCC,
               }),
    ColumnSpec(SOURCE, "string", "Source", synonyms=("cohort", "site", "registry")),
    ColumnSpec(AGE, "number", "Age at IL-2", unit="years", synonyms=("age", "age_years"),
               plausible=(18, 100), hard=(0, 120)),
    ColumnSpec(SEX, "category", "Sex", allowed=("M", "F"), synonyms=("gender",),
               value_synonyms={"m": "M", "male": "M", "1": "M", "man": "M",
                               "f": "F", "female": "F", "2": "F", "woman": "F"}),
    ColumnSpec(ECOG, "int", "ECOG PS", synonyms=("ecog_ps", "ps", "performance_status"), hard=(0, 4)),
    ColumnSpec(HISTOLOGY, "string", "Histology", synonyms=("subtype",)),
    ColumnSpec(IMDC_RISK, "category", "IMDC risk", allowed=("favorable", "intermediate", "poor"),
               synonyms=("imdc", "heng_risk", "mskcc_risk"),
               value_synonyms={"favorable": "favorable", "favourable": "favorable", "good": "favorable",
                               "intermediate": "intermediate", "int": "intermediate", "poor": "poor"}),
    ColumnSpec(BRAF, "category", "BRAF V600", allowed=("mutant", "wild-type", "unknown"), synonyms=("braf",),
               value_synonyms={"mutant": "mutant", "mut": "mutant", "v600e": "mutant", "v600k": "mutant",
                               "positive": "mutant", "wild type": "wild-type", "wt": "wild-type",
                               "wildtype": "wild-type", "negative": "wild-type"}),
    ColumnSpec(N_MET_SITES, "int", "Metastatic sites", synonyms=("metastatic_sites", "num_sites"), hard=(0, 50)),
    _bool(BRAIN_METS, "Brain metastases", "cns_mets", "brain_metastases"),
    _bool(LIVER_METS, "Liver metastases", "liver_metastases"),
    _bool(LUNG_METS, "Lung metastases", "lung_metastases"),
    _bool(BONE_METS, "Bone metastases", "bone_metastases"),
    ColumnSpec(PRIOR_LINES, "int", "Prior systemic lines", "conditional",
               synonyms=("prior_lines", "lines_prior", "n_prior_lines"), hard=(0, 20)),
    _bool(PRIOR_PD1, "Prior PD-1/PD-L1", "prior_pd1", "prior_io", "prior_checkpoint", "anti_pd1",
          "anti_pd_1", "prior_pd_1", required="required"),
    ColumnSpec(PRIOR_PD1_AGENT, "category", "Prior PD-1/PD-L1 agent", allowed=PD1_AGENTS,
               synonyms=("prior_agent", "pd1_agent"),
               value_synonyms={**{a: a for a in PD1_AGENTS}, "nivo": "nivolumab", "opdivo": "nivolumab",
                               "pembro": "pembrolizumab", "keytruda": "pembrolizumab",
                               "atezo": "atezolizumab", "tecentriq": "atezolizumab",
                               "bavencio": "avelumab", "imfinzi": "durvalumab", "libtayo": "cemiplimab"}),
    _bool(PRIOR_CTLA4, "Prior CTLA-4", "prior_ipi", "prior_ipilimumab"),
    _bool(PRIOR_TARGETED, "Prior targeted therapy", "prior_tki"),
    ColumnSpec(PRIOR_PD1_BOR, "category", "Best response to prior PD-1/PD-L1", allowed=BOR_LEVELS,
               synonyms=("response_to_pd1",), value_synonyms=_BOR_SYNONYMS),
    ColumnSpec(DATE_LAST_PD1, "date", "Date of last PD-1/PD-L1 dose", synonyms=("last_checkpoint_date",)),
    ColumnSpec(PD1_RESISTANCE, "category", "PD-1 resistance", allowed=("primary", "acquired", "not_applicable"),
               synonyms=("resistance_type",),
               value_synonyms={"primary": "primary", "acquired": "acquired", "secondary": "acquired",
                               "not applicable": "not_applicable", "n/a": "not_applicable"}),
    ColumnSpec(RESPONSE_CRITERIA, "category", "Response criteria",
               allowed=("RECIST1.1", "irRC", "iRECIST", "WHO", "clinical"), synonyms=("criteria",),
               value_synonyms={"recist1 1": "RECIST1.1", "recist 1 1": "RECIST1.1", "recist": "RECIST1.1",
                               "irrc": "irRC", "irecist": "iRECIST", "who": "WHO", "clinical": "clinical"}),
    _bool(RESPONSE_CONFIRMED, "Response confirmed", "confirmed"),
    ColumnSpec(AJCC_M, "category", "AJCC M category", allowed=("M1a", "M1b", "M1c", "M1d"),
               synonyms=("m_stage", "ajcc_m"),
               value_synonyms={"m1a": "M1a", "m1b": "M1b", "m1c": "M1c", "m1d": "M1d"}),
    ColumnSpec(DATA_CUTOFF, "date", "Data cut-off", synonyms=("cutoff_date", "data_lock")),
    ColumnSpec(DATE_IL2_START, "date", "IL-2 start date", "required", synonyms=("il2_start", "start_date", "tx_start")),
    ColumnSpec(N_COURSES, "int", "Courses", synonyms=("courses",), hard=(1, 50)),
    ColumnSpec(N_CYCLES, "int", "Cycles", synonyms=("cycles",), hard=(1, 100)),
    ColumnSpec(DOSES_C1, "int", "Doses, cycle 1", synonyms=("doses_cycle1", "doses_per_cycle"),
               plausible=(0, 14), hard=(0, 15)),
    ColumnSpec(DOSES_C2, "int", "Doses, cycle 2", synonyms=("doses_cycle2",), plausible=(0, 14), hard=(0, 15)),
    ColumnSpec(TOTAL_DOSES, "int", "Total doses", synonyms=("doses_total",), hard=(0, 500)),
    ColumnSpec(BOR, "category", "Best overall response", "required", allowed=BOR_LEVELS,
               synonyms=("best_response", "best_overall_response", "response"), value_synonyms=_BOR_SYNONYMS),
    ColumnSpec(DATE_FIRST_RESPONSE, "date", "Date of first response", "conditional", synonyms=("response_date",)),
    ColumnSpec(SD_DURATION, "number", "SD duration", unit="months", synonyms=("duration_sd", "sd_duration"),
               hard=(0, 600)),
    _bool(PROGRESSED, "Progressed", "pd_flag", "progression"),
    ColumnSpec(DATE_PROGRESSION, "date", "Date of progression", "conditional",
               synonyms=("pd_date", "progression_date")),
    ColumnSpec(DATE_LAST_ASSESSMENT, "date", "Date of last tumour assessment", synonyms=("last_scan",)),
    ColumnSpec(DIED, "bool", "Died", "required", synonyms=("death", "vital_status", "dead", "deceased"),
               value_synonyms={"dead": "true", "deceased": "true", "died": "true", "alive": "false",
                               "living": "false"}),
    ColumnSpec(DATE_DEATH, "date", "Date of death", "conditional", synonyms=("dod", "death_date")),
    ColumnSpec(DATE_LAST_FOLLOWUP, "date", "Date of last follow-up", "conditional",
               synonyms=("dlfu", "last_contact", "last_followup", "date_last_fu")),
    ColumnSpec(BASELINE_LDH, "number", "Baseline LDH", unit="U/L", synonyms=("ldh",), plausible=(50, 10_000)),
    ColumnSpec(LDH_ULN, "number", "LDH ULN", unit="U/L", synonyms=("ldh_uln",), plausible=(50, 1_000)),
    ColumnSpec(BASELINE_PLATELETS, "number", "Baseline platelets", unit="x10^3/uL", synonyms=("plt",),
               plausible=(0, 1500)),
    ColumnSpec(PLATELET_NADIR, "number", "Platelet nadir", unit="x10^3/uL",
               synonyms=("plt_nadir", "platelets_min"), plausible=(0, 1500)),
    ColumnSpec(BASELINE_ALC, "number", "Baseline ALC", unit="x10^3/uL", synonyms=("alc", "lymphocytes_abs"),
               plausible=(0, 50)),
    ColumnSpec(PEAK_ALC, "number", "Highest ALC", unit="x10^3/uL", synonyms=("alc_max", "highest_alc"),
               plausible=(0, 50)),
    ColumnSpec(PEAK_TEMP, "number", "Peak temperature", unit="degC", synonyms=("peak_fever", "tmax"),
               plausible=(35, 43)),
    _bool(AUTOIMMUNE, "Autoimmune phenomena", "autoimmunity", "irae_any"),
    ColumnSpec(AUTOIMMUNE_TYPE, "string", "Autoimmune type"),
    ColumnSpec(MAX_CTCAE, "int", "Worst CTCAE grade", synonyms=("worst_grade",), hard=(0, 5)),
    _bool(STEROIDS_IRAE, "Steroids for irAE", "steroids"),
    _bool(ICU_TRANSFER, "ICU transfer"),
    _bool(TREATMENT_DEATH, "Treatment-related death"),
    ColumnSpec(OS_MONTHS, "number", "OS (months, given)", hard=(0, 1200),
               description="Used only when date_il2_start/death/follow-up dates cannot give OS."),
    ColumnSpec(PFS_MONTHS, "number", "PFS (months, given)", hard=(0, 1200)),
    _bool(PFS_EVENT, "PFS event (given)"),
    ColumnSpec(DOR_MONTHS, "number", "DoR (months, given)", hard=(0, 1200)),
    _bool(DOR_EVENT, "DoR event (given)"),
)

COLUMNS: dict[str, ColumnSpec] = {c.name: c for c in PATIENT_COLUMNS}
REQUIRED_COLUMNS = tuple(c.name for c in PATIENT_COLUMNS if c.required == "required")
DATE_COLUMNS = tuple(c.name for c in PATIENT_COLUMNS if c.kind == "date")

#: Derived columns the loader adds to ``Cohort.data`` (besides the input columns).
DERIVED_COLUMNS = (FILE_ROW, LINE_OF_IL2, FIRST_LINE, OBJECTIVE_RESPONSE, CLINICAL_BENEFIT, DISEASE_CONTROL,
                   OS_MONTHS, OS_EVENT, PFS_MONTHS, PFS_EVENT, DOR_MONTHS, DOR_EVENT, LDH_X_ULN, LDH_CATEGORY,
                   BOR_IRECIST)

#: Column names that look like direct identifiers (normalised substrings / exact names).
IDENTIFIER_PATTERNS = (
    r"\bmrn\b", r"medical record", r"\bname\b", r"first name", r"last name", r"surname", r"given name",
    r"patient name", r"\bdob\b", r"date of birth", r"birth ?date", r"birthdate", r"address", r"street",
    r"zip", r"postcode", r"postal", r"phone", r"telephone", r"mobile", r"e ?mail", r"\bssn\b",
    r"social security", r"\bnhs\b", r"insurance",
)

# --------------------------------------------------------------------------------------
# Survival endpoints (derived columns used by the survival pages)
# --------------------------------------------------------------------------------------
class Endpoint(NamedTuple):
    """A survival endpoint: its time column (months), its event column and its display label."""
    time: str
    event: str
    label: str


ENDPOINTS = {
    "os": Endpoint(OS_MONTHS, OS_EVENT, "Overall survival"),
    "pfs": Endpoint(PFS_MONTHS, PFS_EVENT, "Progression-free survival"),
    "dor": Endpoint(DOR_MONTHS, DOR_EVENT, "Duration of response"),
}

# --------------------------------------------------------------------------------------
# Adverse-event table (long format, optional)
# --------------------------------------------------------------------------------------
AE_PATIENT_ID = PATIENT_ID
AE_TERM = "ae_term"
AE_GRADE = "ctcae_grade"
AE_CYCLE = "cycle"
AE_ONSET = "onset_date"
AE_IMMUNE = "immune_related"
AE_STEROIDS = "steroids"
AE_SERIOUS = "serious"
AE_ATTRIBUTION = "attribution"
#: Derived AE column: the term as typed, kept when the vocabulary respelled it (see il2lib.validation.ae_vocabulary).
AE_TERM_ENTERED = "ae_term_as_entered"

#: CTCAE v5.0 terms of the HD IL-2 toxicities and immune-related AEs (docs/domain.md 1C, 2.5 and the AE table),
#: spelled as in CTCAE v5.0 (NCI, 2017). AE terms are matched to them ignoring case, spaces and punctuation.
CTCAE_V5_TERMS = (
    # vascular, renal, general (capillary leak, hypotension, oliguria/creatinine rise, fever/rigors)
    "Capillary leak syndrome", "Hypotension", "Acute kidney injury", "Creatinine increased", "Fever", "Chills",
    "Fatigue", "Edema limbs", "Flu like symptoms", "Weight gain", "Disease progression", "Death NOS",
    # laboratory and metabolic (thrombocytopenia, hyperbilirubinaemia, metabolic acidosis)
    "Platelet count decreased", "Blood bilirubin increased", "Aspartate aminotransferase increased",
    "Alanine aminotransferase increased", "Lymphocyte count decreased", "Anemia", "Acidosis", "Hypoalbuminemia",
    "Hypocalcemia", "Hypokalemia", "Hypomagnesemia", "Hypophosphatemia", "Anorexia",
    # arrhythmias and other cardiac
    "Atrial fibrillation", "Atrial flutter", "Sinus tachycardia", "Supraventricular tachycardia",
    "Ventricular tachycardia", "Ventricular arrhythmia", "Myocarditis",
    # neuropsychiatric, respiratory, gastrointestinal, infection
    "Confusion", "Agitation", "Somnolence", "Hypoxia", "Dyspnea", "Pulmonary edema", "Pneumonitis", "Colitis",
    "Diarrhea", "Nausea", "Vomiting", "Mucositis oral", "Sepsis",
    # skin and immune-related
    "Rash maculo-papular", "Pruritus", "Skin hypopigmentation", "Hypothyroidism", "Hyperthyroidism",
    "Hypophysitis", "Adrenal insufficiency", "Autoimmune disorder", "Arthritis", "Uveitis",
)
#: Non-CTCAE terms and their CTCAE v5 term (keys compared like terms: case, spaces and punctuation ignored).
AE_TERM_SYNONYMS = {"vitiligo": "Skin hypopigmentation"}
IMMUNE_RELATED_TERMS = ("Pneumonitis", "Colitis", "Hepatitis", "Hypothyroidism", "Hyperthyroidism",
                        "Thyroiditis", "Skin hypopigmentation", "Arthritis", "Myocarditis",
                        "Adrenal insufficiency", "Nephritis", "Uveitis", "Hypophysitis", "Autoimmune disorder")
#: CTEP attribution scale -> related / unrelated (keys as :func:`norm` gives them); blank or "unknown" = unknown.
ATTRIBUTION_RELATED, ATTRIBUTION_UNRELATED = "related", "unrelated"
ATTRIBUTION_SCALE = {"definite": "related", "probable": "related", "possible": "related", "related": "related",
                     "unlikely": "unrelated", "unrelated": "unrelated", "not related": "unrelated"}
#: ``ae_complete`` entry that declares the AE file complete for every patient, whatever their source.
AE_COMPLETE_ALL = "*"

AE_COLUMNS: tuple[ColumnSpec, ...] = (
    ColumnSpec(AE_PATIENT_ID, "string", "Patient ID", "required",
               synonyms=("id", "subject_id", "pt_id", "study_id", "record_id")),
    ColumnSpec(AE_TERM, "string", "AE term (CTCAE v5)", "required", synonyms=("term", "adverse_event", "ae")),
    ColumnSpec(AE_GRADE, "int", "CTCAE grade", "required", synonyms=("grade", "ae_grade"), hard=(1, 5)),
    ColumnSpec(AE_CYCLE, "int", "Cycle", synonyms=("cycle_number",), hard=(1, 100)),
    ColumnSpec(AE_ONSET, "date", "Onset date", synonyms=("ae_onset", "start_date_ae")),
    _bool(AE_IMMUNE, "Immune-related", "irae"),
    _bool(AE_STEROIDS, "Steroids given", "steroid"),
    _bool(AE_SERIOUS, "Serious", "sae"),
    ColumnSpec(AE_ATTRIBUTION, "string", "Attribution (CTEP)", allowed=("related", "unrelated", "unknown"),
               synonyms=("relatedness", "causality", "relationship", "ae_attribution"),
               value_synonyms=ATTRIBUTION_SCALE,
               description="CTEP scale: definite/probable/possible = related; unlikely/unrelated = unrelated"),
)
AE_COLUMN_SPECS: dict[str, ColumnSpec] = {c.name: c for c in AE_COLUMNS}
AE_REQUIRED_COLUMNS = tuple(c.name for c in AE_COLUMNS if c.required == "required")

# --------------------------------------------------------------------------------------
# Tumour-assessment table (long format, optional; docs/domain.md "Optional tumour-burden data")
# --------------------------------------------------------------------------------------
TA_PATIENT_ID = PATIENT_ID
ASSESSMENT_DATE = "assessment_date"
TARGET_SUM = "target_sum_mm"  # sum of target-lesion diameters (RECIST 1.1), >= 0
NEW_LESIONS = "new_lesions"
#: Per-patient column of the patient file, used when there is no assessment table (read from its extra columns).
BEST_PCT_CHANGE = "best_pct_change"
#: Derived by il2lib.analyses.tumour_burden.
PCT_CHANGE = "pct_change"  # (sum - baseline) / baseline, in %
MONTHS_SINCE_IL2 = "months_since_il2"
BASELINE_DATE = "baseline_date"
BASELINE_SUM = "baseline_sum_mm"
#: Days before date_il2_start beyond which a baseline assessment is a warning.
BASELINE_MAX_DAYS = 28

TUMOUR_COLUMNS: tuple[ColumnSpec, ...] = (
    ColumnSpec(TA_PATIENT_ID, "string", "Patient ID", "required",
               synonyms=("id", "subject_id", "pt_id", "study_id", "record_id")),
    ColumnSpec(ASSESSMENT_DATE, "date", "Assessment date", "required",
               synonyms=("scan_date", "date_assessment", "tumour_assessment_date", "tumor_assessment_date",
                         "imaging_date", "date_of_scan")),
    ColumnSpec(TARGET_SUM, "number", "Sum of target lesions", "required", unit="mm",
               synonyms=("target_sum", "sum_target_lesions", "sum_of_diameters", "sum_diameters", "sld",
                         "target_lesion_sum", "tumour_burden_mm", "tumor_burden_mm"), plausible=(0, 1000)),
    _bool(NEW_LESIONS, "New lesions", "new_lesion", "any_new_lesion", "new_lesions_yn"),
)
TUMOUR_COLUMN_SPECS: dict[str, ColumnSpec] = {c.name: c for c in TUMOUR_COLUMNS}
TUMOUR_REQUIRED_COLUMNS = tuple(c.name for c in TUMOUR_COLUMNS if c.required == "required")
BEST_PCT_CHANGE_SPEC = ColumnSpec(BEST_PCT_CHANGE, "number", "Best change in target lesions", unit="%",
                                  synonyms=("best_change", "best_percent_change", "best_pct", "best_change_pct",
                                            "max_pct_change", "best_tumour_change", "best_tumor_change"),
                                  hard=(-100, 10_000),
                                  description="Most negative post-baseline change of the target sum, in % "
                                              "(-100 = complete disappearance).")

# --------------------------------------------------------------------------------------
# Filters (names are the schema's column names: the CLI flags and URL parameters use them)
# --------------------------------------------------------------------------------------
FILTER_COLUMNS = (DISEASE, PRIOR_PD1, PRIOR_PD1_AGENT, LINE_OF_IL2, SEX, AGE, ECOG, SOURCE)
ERA_CAVEAT = ("Prior PD-1/PD-L1 groups in the combined sample differ by era (community series 2004-2012, "
              "PROCLAIM 2015-2018) and by site, so any difference between them is confounded: "
              "read it as descriptive, not causal.")
SYNTHETIC_NOTE = "Synthetic, illustrative data calibrated to published summaries; not real patients."


def label(column: str) -> str:
    """Human label of a column (derived ones included) for tables and figures."""
    if column in COLUMNS:
        return COLUMNS[column].label
    return _DERIVED_LABELS.get(column, column)


_DERIVED_LABELS = {
    FILE_ROW: "File row", LINE_OF_IL2: "Line of IL-2", FIRST_LINE: "First-line IL-2",
    OBJECTIVE_RESPONSE: "Objective response", CLINICAL_BENEFIT: "Clinical benefit",
    DISEASE_CONTROL: "Disease control", OS_EVENT: "Died", LDH_X_ULN: "LDH x ULN", LDH_CATEGORY: "LDH category",
    MEAN_DOSES_PER_CYCLE: "IL-2 doses per cycle (mean)", BOR_IRECIST: "BOR as recorded (iRECIST)",
}
_DERIVED_LABELS.update({c.name: c.label for c in (*TUMOUR_COLUMNS, BEST_PCT_CHANGE_SPEC) if c.name != PATIENT_ID})
_DERIVED_LABELS.update({PCT_CHANGE: "Change from baseline (%)", MONTHS_SINCE_IL2: "Months since IL-2 start",
                        BASELINE_DATE: "Baseline assessment date", BASELINE_SUM: "Baseline sum of target lesions"})
