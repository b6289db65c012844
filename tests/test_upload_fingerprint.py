"""An upload's fingerprint (the key of its loaded data in the session) is the SHA-256 of its bytes, worked out once."""
from __future__ import annotations

import hashlib

from app_ui.data import UploadedFile


def test_fingerprint_is_the_sha256_of_the_bytes_kept_for_later_reruns():
    data = b"patient_id,disease\nP1,melanoma\n"
    upload = UploadedFile("cohort.csv", data)
    assert upload.sha256 == hashlib.sha256(data).hexdigest()
    assert upload.sha256 is upload.sha256  # kept: a rerun with the same upload does not hash it again
    assert upload == UploadedFile("cohort.csv", data)  # still equal by name and bytes only
    assert UploadedFile("cohort.csv", data + b"P2,rcc\n").sha256 != upload.sha256
