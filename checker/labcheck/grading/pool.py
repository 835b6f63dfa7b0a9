"""A worker pool with a time limit per task, on daemon threads; and the memory budget of the files in flight.

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


class Budget:
    """Bytes in flight, shared by the workers: a worker holds what its file may cost while it grades it.

    Memory is bounded by what is being graded, not by how many workers there are: eight small
    submissions go side by side, a huge one waits until it can run alone. A single reservation
    larger than the whole budget is let through when nothing else is held (it would never fit).
    """

    def __init__(self, limit: int):
        self.limit = max(1, int(limit))
        self.held = 0
        self.peak = 0
        self._changed = threading.Condition()

    def reserve(self, amount: int) -> "Reservation":
        reservation = Reservation(self)
        reservation.grow(amount)
        return reservation

    def _take(self, amount: int) -> None:
        with self._changed:
            while self.held and self.held + amount > self.limit:
                self._changed.wait()
            self.held += amount
            self.peak = max(self.peak, self.held)

    def _give(self, amount: int) -> None:
        with self._changed:
            self.held -= amount
            self._changed.notify_all()


class Reservation:
    def __init__(self, budget: Budget):
        self.budget = budget
        self.amount = 0

    def grow(self, amount: int) -> None:
        """Hold `amount` in all; more than now is waited for holding nothing, so two growers never deadlock."""
        amount = max(0, int(amount))
        if amount <= self.amount:
            return
        self.release()
        self.budget._take(amount)
        self.amount = amount

    def release(self) -> None:
        if self.amount:
            self.budget._give(self.amount)
            self.amount = 0

    def __enter__(self) -> "Reservation":
        return self

    def __exit__(self, *exc) -> None:
        self.release()
