"""How long work reports progress: services call ``progress(label, done, total)``; the CLI draws
it as a bar on a terminal (``cli.console.progress``) and passes None when output is piped."""

from __future__ import annotations

from collections.abc import Callable

ProgressFn = Callable[[str, int, int], None]
