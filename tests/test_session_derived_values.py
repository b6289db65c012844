"""Values a session derives from an object (app_ui.session_cache.derived) stay in that session and go with it,
also when the object is shared by every session (the bundled sample's data)."""
from __future__ import annotations

import gc
import weakref

from app_ui.session_cache import DERIVED
from support.apptest import open_app


def test_a_sessions_derived_values_go_with_the_session_not_with_the_shared_sample():
    at = open_app()  # the Data page of the default sample: its findings are derived in the session
    held = at.session_state[DERIVED]
    values = [v for _, named in held.values() for v in named.values()]
    assert values, "the Data page derived nothing: the check below would prove nothing"
    ref, options = next((ref, v) for ref, named in held.values() for name, v in named.items()
                        if name.startswith("filter options"))
    probe = weakref.ref(options)  # the sidebar's filter options of the sample, held only by this session
    shared = ref()
    assert shared is not None  # the sample's data lives on in the process-wide cache
    del at, held, values, options, ref
    gc.collect()
    assert probe() is None
