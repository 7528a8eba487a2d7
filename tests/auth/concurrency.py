"""Race helpers: actions released together by a barrier, each in its own thread and database session."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy.orm import Session

from oaktree import db

BARRIER_TIMEOUT_SECONDS = 30


def run_together(url: str, actions: Sequence[Callable[[Session], Any]]) -> list[Any]:
    """Return what each action returned, or the exception it raised, in the order given.

    Every action gets a session of its own on `url` (as concurrent requests would) and starts
    only when all the threads are ready, so their reads and writes interleave as closely as the
    database allows.
    """
    barrier = threading.Barrier(len(actions))
    outcomes: list[Any] = [None] * len(actions)

    def run(index: int, action: Callable[[Session], Any]) -> None:
        with Session(db.engine_for(url), expire_on_commit=False) as session:
            barrier.wait(timeout=BARRIER_TIMEOUT_SECONDS)
            try:
                outcomes[index] = action(session)
            except Exception as exc:  # handed to the test, which asserts which errors are allowed
                outcomes[index] = exc

    threads = [threading.Thread(target=run, args=(index, action)) for index, action in enumerate(actions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=2 * BARRIER_TIMEOUT_SECONDS)
        assert not thread.is_alive(), "a racing action did not finish"
    return outcomes
