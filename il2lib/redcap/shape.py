"""Recognise a REDCap export by its header (no pandas, no validation: cheap enough to run on any upload)."""
from __future__ import annotations

import re
from typing import Iterable, Literal

RAW_META = {"redcap_event_name": "event", "redcap_repeat_instrument": "instrument",
            "redcap_repeat_instance": "instance", "redcap_data_access_group": "dag",
            "redcap_survey_identifier": "survey"}
LABEL_META = {"event name": "event", "repeat instrument": "instrument", "repeat instance": "instance",
              "data access group": "dag", "survey identifier": "survey"}
CHOICE_HEADER = re.compile(r"^(?P<label>.*) \(choice=(?P<choice>.*)\)$", re.S)
INTEGER = re.compile(r"^-?\d+$")
CHECKED = {"checked": True, "unchecked": False, "1": True, "0": False, "": False}
Kind = Literal["raw", "labels"]


def looks_like_redcap(header: Iterable[str]) -> Kind | None:
    """``"raw"`` or ``"labels"`` when a header is recognisably a REDCap export's, else None.

    Raw: a ``redcap_*`` column, a ``*_complete`` form-status column or a ``field___code`` checkbox column.
    Labels: "Event Name", "Repeat Instrument", "Repeat Instance", "Data Access Group", "Complete?" or a
    checkbox column ``"<label> (choice=<choice>)"``.
    """
    names = [str(h).strip() for h in header]
    if any(h in RAW_META or re.fullmatch(r"[a-z][a-z0-9_]*_complete", h) or re.fullmatch(r"[a-z][a-z0-9_]*___\w+", h)
           for h in names):
        return "raw"
    if any(h.lower() in LABEL_META or h == "Complete?" or CHOICE_HEADER.match(h) for h in names):
        return "labels"
    return None
