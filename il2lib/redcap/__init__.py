"""REDCap as an input format: exports ("CSV (raw data)", "CSV (labels)"), data dictionaries, the registry's
project template and a dictionary checker.

``load_redcap(export, dictionary=None)`` (:mod:`il2lib.redcap.export`) gives the patient cohort, the AE
table and the tumour assessments, validated as CSV files are; :mod:`il2lib.redcap.template` builds the
template in ``redcap/``; ``python -m il2lib.redcap check FILE`` runs :func:`check_dictionary`.
"""
from il2lib.redcap.checker import check_dictionary
from il2lib.redcap.dictionary import DataDictionary, Field, parse_choices, read_dictionary
from il2lib.redcap.export import DEFAULT_MISSING_CODES, RedcapLoad, load_redcap
from il2lib.redcap.shape import looks_like_redcap
from il2lib.redcap.template import project_xml, template_dictionary, write_template

__all__ = ["DEFAULT_MISSING_CODES", "DataDictionary", "Field", "RedcapLoad", "check_dictionary", "load_redcap",
           "looks_like_redcap", "parse_choices", "project_xml", "read_dictionary", "template_dictionary",
           "write_template"]
