"""Protections for screen-sharing outside the care team: small-cell masking of counts in tables, figures and
text (:mod:`~il2lib.privacy.masking`), complementary suppression so that hidden counts cannot be recomputed
(:mod:`~il2lib.privacy.disclosure`), and pseudonyms for patient ids (:mod:`~il2lib.privacy.pseudonyms`)."""
