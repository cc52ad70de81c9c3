"""Refresh the dashboard screenshots of the docs (docs/img/) from the browser tests.

    python scripts/docs_screenshots.py           # run tests/web/browser, then copy
    python scripts/docs_screenshots.py --no-run  # copy what the last run left in tests/artifacts/

The browser tests save every page they visit (`Tab.shot(name)` -> tests/artifacts/<name>.png);
SHOTS says which of them the docs show, under which file name. tests/test_docs_site.py holds
SHOTS to the tests' shot names, so a renamed shot fails there rather than leaving an old image.
Needs Chromium at /usr/bin/chromium (scripts/test.sh installs it).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "tests" / "artifacts"
IMG = ROOT / "docs" / "img"

# docs/img/<key>.png <- tests/artifacts/<value>.png. `dashboard` is the README's name for the
# overview; /jobs and /alerts are shown as an operator sees them (their forms, after using
# them); the others keep the shot's name.
SHOTS = {
    "dashboard": "overview",
    "backlog": "backlog",
    "gap": "gap",
    "jobs": "jobs-operator",
    "claims": "claims",
    "review": "review",
    "person": "person-split",
    "alerts": "alerts-operator",
    "activity": "activity",
    "search": "search",
    "model": "model",
    "lead": "lead",
    "login": "login",
    "overview-en": "overview-en",
}


def main(argv: list[str]) -> int:
    started = time.time()
    if "--no-run" not in argv:
        # No Chromium must fail here, not skip: a skipped run would copy nothing new.
        env = {**os.environ, "LEADLINK_REQUIRE_BROWSER": "1"}
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                   "tests/web/browser"]  # fmt: skip
        if subprocess.run(command, cwd=ROOT, env=env).returncode != 0:
            print("the browser tests failed: docs/img/ left as it was", file=sys.stderr)
            return 1
    missing = [s for s in SHOTS.values() if not (ARTIFACTS / f"{s}.png").exists()]
    stale = [s for s in SHOTS.values() if s not in missing and "--no-run" not in argv
             and (ARTIFACTS / f"{s}.png").stat().st_mtime < started]  # fmt: skip
    if missing or stale:
        print(f"not taken by the browser tests: {', '.join(missing + stale)}", file=sys.stderr)
        return 1
    IMG.mkdir(parents=True, exist_ok=True)
    for image, shot in sorted(SHOTS.items()):
        shutil.copyfile(ARTIFACTS / f"{shot}.png", IMG / f"{image}.png")
        print(f"docs/img/{image}.png <- tests/artifacts/{shot}.png")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
