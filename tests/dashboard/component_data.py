"""The data a Streamlit v2 component (the viewer, its maps, the gallery) was mounted with in
an AppTest run, read from the element's JSON."""
from __future__ import annotations

import json


def component_data(at, name: str) -> dict | None:
    """The data of the component `name` (e.g. 'prunelens_viewer'); None: not mounted."""
    for e in at.get("bidi_component"):
        if e.proto.component_name == name:
            return json.loads(e.proto.json)
    return None
