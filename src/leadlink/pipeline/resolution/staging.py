"""Normalising pages of records in a second process while `match` reads and writes.

Staging a source is per record Python work (``matching.prepare``: names, phones, plates...)
next to database work (reading pages, writing blocking keys) and DuckDB work. On one process
they take turns; with a helper process, page k+1 is normalised and keyed while page k is
written, so both cores work (measured at 1 M leads: benchmarks/RESULTS.md). Helpers are
started only for a source of more than ``PARALLEL_AFTER`` pages: starting one costs about a
second (it imports the matching core), which a small run would only lose.

Pages come back in the order they were read, and what is computed for a page does not depend
on where it is computed: the same records are staged with the same keys either way (tested).

Helpers die with their parent: a SIGKILLed `match` used to leave them running (re-parented,
about 215 MiB each). On Linux the kernel kills them (``PR_SET_PDEATHSIG``); everywhere, a
thread in each helper exits it when its parent process changes.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import sys
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any, TypeVar

import pyarrow as pa

from leadlink.matching import prepare
from leadlink.matching.blocking import record_keys, record_terms
from leadlink.pipeline.resolution.canonical import canonical_frame

# A pending page: (id, source_pk, data, keyed, content_hash).
Page = list[tuple[int, str, dict[str, Any], bool, str]]
Row = tuple[str, int, dict[str, Any]]  # (source, record id, data)
Prepared = tuple[pa.Table, pa.Table, pa.Table]  # prepared frame, its keys, its model terms
P = TypeVar("P")

# Sources of more pages than this are normalised in helper processes.
PARALLEL_AFTER = 4
# Helper processes, and pages read ahead of the one being written (enough to keep them busy).
# Two: normalising a page costs more than reading and storing it, so one helper left the
# main process waiting for it (40 s of 110 s at 1 M leads).
HELPERS = 2
READ_AHEAD = 3
# How often a helper checks that its parent is still there (the portable fallback).
PARENT_POLL_SECONDS = 0.5
PR_SET_PDEATHSIG = 1  # linux/prctl.h


def prepare_page(rows: list[Row]) -> Prepared:
    """Normalise one page of records and derive their blocking keys and model terms."""
    frame = prepare(canonical_frame((source, rid, data, None) for source, rid, data in rows))
    return frame, record_keys(frame), record_terms(frame)


def prepared_pages(
    pages: Iterable[P], rows_of: Callable[[P], list[Row]], *, parallel_after: int = PARALLEL_AFTER
) -> Iterator[tuple[P, Prepared]]:
    """Each page with the ``prepare_page`` result of its rows (``rows_of``), in order.

    The first ``parallel_after`` pages are prepared here; if more come, the rest go to
    ``HELPERS`` helper processes, ``READ_AHEAD`` pages ahead of the caller.
    """
    it = iter(pages)
    for _ in range(parallel_after):
        inline = next(it, None)
        if inline is None:
            return
        yield inline, prepare_page(rows_of(inline))
    first = next(it, None)
    if first is None:
        return
    # spawn, not fork: the parent holds DuckDB and database connections and their threads.
    context = multiprocessing.get_context("spawn")
    # The pool starts its helpers from this thread, which lives until the pool is shut down:
    # PR_SET_PDEATHSIG fires when the creating thread ends, so it never fires early.
    helpers = ProcessPoolExecutor(max_workers=HELPERS, mp_context=context,
                                  initializer=die_with_parent, initargs=(os.getpid(),))  # fmt: skip
    with helpers as pool:
        queued: deque[tuple[P, Future[Prepared]]] = deque()
        page: P | None = first
        while page is not None or queued:
            while page is not None and len(queued) <= READ_AHEAD:
                queued.append((page, pool.submit(prepare_page, rows_of(page))))
                page = next(it, None)
            done, future = queued.popleft()
            yield done, future.result()


def die_with_parent(parent: int) -> None:
    """A helper's initializer: exit when ``parent`` (the `match` process) is gone."""
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
        except (OSError, AttributeError):  # no prctl (an odd libc): the thread below remains
            pass
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)
    threading.Thread(target=_watch_parent, args=(parent,), name="watch-parent",
                     daemon=True).start()  # fmt: skip


def _watch_parent(parent: int) -> None:
    while True:
        threading.Event().wait(PARENT_POLL_SECONDS)
        if os.getppid() != parent:  # re-parented: nobody will ever read our results
            os._exit(1)
