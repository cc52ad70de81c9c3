"""A folder nobody can write, root included, for the read-only store tests.

The tests run as root, for whom permission bits stop nothing; a tmpfs remounted read-only
refuses root too (EROFS), the way a read-only volume or snapshot does. Without the right to
mount (no root, no CAP_SYS_ADMIN) permission bits do the job for an ordinary user. Where
neither makes the folder unwritable the test is skipped and says why.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


@contextmanager
def frozen_folder(folder: Path, files: dict[str, Path]) -> Iterator[Path]:
    """``folder`` holding copies of ``files`` (name -> source), read-only while in the block."""
    folder.mkdir(parents=True)
    mounted = os.geteuid() == 0 and _mount(["-t", "tmpfs", "-o", "size=64m", "tmpfs"], folder)
    try:
        for name, source in files.items():
            shutil.copyfile(source, folder / name)
        if mounted:
            if not _mount(["-o", "remount,ro"], folder):
                pytest.skip("cannot remount a tmpfs read-only here")
        else:
            folder.chmod(0o555)
        if os.access(folder, os.W_OK):
            pytest.skip("cannot make a folder read-only here (root without the right to mount)")
        yield folder
    finally:
        if mounted:
            # Lazy: a connection a failed test still holds must not leave the mount behind.
            subprocess.run(["umount", "--lazy", str(folder)], check=True)  # noqa: S603, S607
        else:
            folder.chmod(0o755)


def _mount(args: list[str], folder: Path) -> bool:
    done = subprocess.run(["mount", *args, str(folder)], capture_output=True, check=False)  # noqa: S603, S607
    return done.returncode == 0
