"""A worker pool with a time limit per task, on daemon threads.

Grading is waiting (API calls, commands in Pods), so threads fit. A task that
overruns its limit is given up: its slot goes to the next learner at once and
whatever it returns later is dropped. Its thread is a daemon, so a cluster that
never answers cannot keep the command from ending (every API call and command
has its own timeout besides, so such a thread ends by itself too).
"""

from __future__ import annotations

import itertools
import math
import queue
import threading
import time
from collections import deque
from typing import Callable, Iterable, Sequence, TypeVar

T = TypeVar("T")
R = TypeVar("R")


def run_pool(tasks: Iterable[T], work: Callable[[T], R], *, jobs: int, timeout: float | None,
             on_result: Callable[[T, R], None], on_timeout: Callable[[T, float], R],
             on_crash: Callable[[T, Exception], R]) -> None:
    """Run `work` on every task, at most `jobs` at once; `on_result` is called here, in this thread, in
    the order results arrive (so whatever it writes needs no lock)."""
    pending = deque(tasks)
    done: queue.Queue = queue.Queue()
    running: dict[int, tuple[T, float]] = {}
    ids = itertools.count()

    def launch(task: T) -> None:
        number = next(ids)

        def body() -> None:
            try:
                result = work(task)
            except Exception as exc:  # a bug must cost one learner, not the batch
                result = on_crash(task, exc)
            done.put((number, result))

        running[number] = (task, time.monotonic() + timeout if timeout else math.inf)
        threading.Thread(target=body, name=f"labcheck-grade-{number}", daemon=True).start()

    while pending or running:
        while pending and len(running) < jobs:
            launch(pending.popleft())
        nearest = min(deadline for _task, deadline in running.values())
        wait = None if nearest == math.inf else max(0.0, nearest - time.monotonic())
        try:
            number, result = done.get(timeout=wait)
        except queue.Empty:
            now = time.monotonic()
            for number, (task, deadline) in list(running.items()):
                if deadline <= now:
                    del running[number]
                    on_result(task, on_timeout(task, timeout or 0.0))
            continue
        if number in running:  # else: the late answer of a task already given up
            task, _deadline = running.pop(number)
            on_result(task, result)


def parallel_map(function: Callable[[T], R], items: Sequence[T], threads: int) -> list[R]:
    """function(item) for every item, up to `threads` at once, results in order; the first exception is raised."""
    if threads <= 1 or len(items) <= 1:
        return [function(item) for item in items]
    results: list = [None] * len(items)
    errors: list[BaseException] = []
    indexes = iter(range(len(items)))
    lock = threading.Lock()

    def worker() -> None:
        while True:
            with lock:
                index = next(indexes, None)
            if index is None or errors:
                return
            try:
                results[index] = function(items[index])
            except BaseException as exc:  # handed to the caller below
                errors.append(exc)

    workers = [threading.Thread(target=worker, daemon=True) for _ in range(min(threads, len(items)))]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    if errors:
        raise errors[0]
    return results
