"""Session files as an older version of the app wrote them: a config key it did not know yet."""
from __future__ import annotations

import json
import zipfile
from pathlib import Path


def without_config_key(path: Path, key: str, out: Path) -> Path:
    """A copy of the session at `path` whose experiment config lacks `key`, written to `out`."""
    with zipfile.ZipFile(path) as zf:
        content = {i.filename: zf.read(i) for i in zf.infolist()}
    doc = json.loads(content["session.json"])
    del doc["experiment"]["config"][key]
    content["session.json"] = json.dumps(doc).encode()
    with zipfile.ZipFile(out, "w") as zf:
        for name, raw in content.items():
            zf.writestr(name, raw)
    return out
