"""The package as a user gets it: `python -m build`, then the wheel alone in a fresh venv.

The checkout is never on the path of the installed program: it runs from a scratch folder,
with the checkout's environment variables (PYTHONPATH, LEADLINK_*) removed, so `init`
(migrations), `demo` and `serve` (templates, static files) only work if the wheel carries
everything. The dependencies come from the package index pip is configured with (or its
cache); without network this test fails and says so, it is not skipped.

It uses no database fixture, so it runs once per suite, not once per backend. About 50 s,
most of it pip installing the dependencies into the new venv.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import venv
from pathlib import Path

import pytest

import leadlink

ROOT = Path(__file__).resolve().parents[1]
PACKAGE_DATA = (
    "leadlink/store/migrations/env.py",
    "leadlink/web/templates/base.html",
    "leadlink/web/static/leadlink.css",
)


def _run(argv: list[str], *, cwd: Path, env: dict[str, str], timeout: float,
         what: str) -> subprocess.CompletedProcess[str]:  # fmt: skip
    try:
        done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True,
                              timeout=timeout)  # fmt: skip
    except subprocess.TimeoutExpired:
        pytest.fail(f"{what}: no answer after {timeout:.0f} s ({' '.join(argv)})")
    if done.returncode != 0:
        pytest.fail(f"{what} exited {done.returncode} ({' '.join(argv)}):\n"
                    f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}")  # fmt: skip
    return done


def _clean_env() -> dict[str, str]:
    """The environment without anything that could point the program at the checkout."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("LEADLINK_", "PYTHON", "VIRTUAL_ENV"))}  # fmt: skip
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep)
                                  if not p.startswith(str(ROOT)))  # fmt: skip
    return env


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(url: str, token: str | None = None) -> tuple[int, str]:
    request = urllib.request.Request(url)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read().decode("utf-8")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode("utf-8", errors="replace")


def test_the_wheel_installs_alone_and_runs_init_demo_and_serve(tmp_path: Path) -> None:
    env = _clean_env()
    dist = tmp_path / "dist"
    # The default build makes the sdist and builds the wheel from it, away from the checkout:
    # the wheel is complete only if the sdist was too.
    _run([sys.executable, "-m", "build", "--outdir", str(dist), str(ROOT)],
         cwd=tmp_path, env=env, timeout=300, what="python -m build")  # fmt: skip
    wheels = list(dist.glob("leadlink-*.whl"))
    assert len(wheels) == 1, f"expected one wheel in {dist}: {sorted(dist.iterdir())}"
    wheel = wheels[0]
    assert wheel.name.startswith(f"leadlink-{leadlink.__version__}-"), wheel.name
    import zipfile

    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    missing = [n for n in PACKAGE_DATA if n not in names]
    assert not missing, f"the wheel lacks {missing}"
    assert any(n.startswith("leadlink/store/migrations/versions/0001") for n in names)

    target = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True, clear=True).create(target)
    bin_dir = target / "bin"
    began = time.monotonic()
    _run([str(bin_dir / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
          str(wheel)], cwd=tmp_path, env=env, timeout=900,
         what="pip install of the wheel into a fresh venv (needs the package index or pip's "
              "cache for the dependencies)")  # fmt: skip
    install_s = time.monotonic() - began

    work = tmp_path / "work"
    work.mkdir()
    leadlink_bin = str(bin_dir / "leadlink")
    where = _run([str(bin_dir / "python"), "-c", "import leadlink; print(leadlink.__file__)"],
                 cwd=work, env=env, timeout=60, what="import leadlink").stdout.strip()  # fmt: skip
    assert where.startswith(str(target)), f"leadlink imported from {where}, not the new venv"

    version = _run([leadlink_bin, "--version"], cwd=work, env=env, timeout=60, what="--version")
    assert version.stdout.strip() == f"leadlink {leadlink.__version__}"

    db = ["--db", "sqlite:///store.db"]
    _run([leadlink_bin, *db, "init"], cwd=work, env=env, timeout=120, what="leadlink init")
    demo = _run([leadlink_bin, *db, "demo", "--leads", "150", "--data-dir", "data", "--json"],
                cwd=work, env=env, timeout=300, what="leadlink demo")  # fmt: skip
    assert json.loads(demo.stdout)["match"]["processed"] > 0
    token = json.loads(
        _run(
            [leadlink_bin, *db, "token", "create", "--role", "viewer", "--json"],
            cwd=work,
            env=env,
            timeout=60,
            what="token create",
        ).stdout
    )["token"]

    port = _free_port()
    log = (work / "serve.log").open("w")
    server = subprocess.Popen([leadlink_bin, *db, "serve", "--port", str(port)], cwd=work,
                              env=env, stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                status, body = _get(f"{base}/healthz")
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    log.flush()
                    pytest.fail(f"leadlink serve did not answer on {base}:\n"
                                f"{(work / 'serve.log').read_text()[-3000:]}")  # fmt: skip
                time.sleep(0.2)
        assert status == 200, body
        health = json.loads(body)
        assert health["version"] == leadlink.__version__
        assert health["migrations"]["at_head"] is True
        status, page = _get(f"{base}/", token)
        assert status == 200, page[:500]
        assert "<html" in page.lower() and "/static/leadlink.css" in page
        # The words come from the wheel's compiled catalogs (web/locale/*/LC_MESSAGES/*.mo).
        assert "Embudo de leads" in page and 'data-testid="lang-en"' in page, page[:2000]
        status, css = _get(f"{base}/static/leadlink.css")
        assert status == 200 and re.search(r"[{};]", css)
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=20)
        log.close()
    print(f"pip install into the fresh venv: {install_s:.1f} s")
