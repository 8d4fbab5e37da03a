"""One benchmark result: a JSON object on its own line of stdout."""
from __future__ import annotations

import json


def emit(obj):
    print(json.dumps(obj))
