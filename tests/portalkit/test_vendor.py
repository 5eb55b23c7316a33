"""The third-party browser code the project serves (static/vendor/) is exactly the released file of the
version pinned in package-lock.json: no hand edits, no drift after an upgrade."""

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
VENDORED = {
    "static/vendor/squire/squire.js": ("squire-rte", "dist/squire.js"),
    "static/vendor/squire/LICENSE": ("squire-rte", "LICENSE"),
    "static/vendor/dompurify/purify.min.js": ("dompurify", "dist/purify.min.js"),
    "static/vendor/dompurify/LICENSE": ("dompurify", "LICENSE"),
}


@pytest.mark.parametrize("served,source", VENDORED.items())
def test_vendored_file_is_the_released_one(served, source):
    package, inner = source
    lock = json.loads((ROOT / "package-lock.json").read_text())
    assert f"node_modules/{package}" in lock["packages"], f"{package} is not pinned in package-lock.json"
    released = ROOT / "node_modules" / package / inner
    assert released.exists(), "run scripts/setup.sh --test (npm ci) first"
    installed = json.loads((ROOT / "node_modules" / package / "package.json").read_text())["version"]
    assert installed == lock["packages"][f"node_modules/{package}"]["version"]
    assert (ROOT / served).read_bytes() == released.read_bytes()
