"""Work done after the response (sending mail), so that its cost reveals nothing."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Any

from flask import Flask, current_app


class Jobs:
    """A small thread pool that runs callables inside the app's context."""

    def __init__(self, workers: int = 2) -> None:
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="job")
        self._pending: set[Future[None]] = set()

    def init_app(self, app: Flask) -> None:
        """Register on the app."""
        app.extensions["jobs"] = self

    def submit(self, job: Callable[..., None], *args: Any) -> None:
        """Run ``job(*args)`` in the background with an app context; failures are logged."""
        app = current_app._get_current_object()  # type: ignore[attr-defined]
        future = self._executor.submit(_run, app, job, args)
        self._pending.add(future)
        future.add_done_callback(self._pending.discard)

    def wait(self, timeout: float = 10.0) -> None:
        """Block until every submitted job has finished (tests, and orderly shutdown)."""
        wait(list(self._pending), timeout=timeout)


def _run(app: Flask, job: Callable[..., None], args: tuple[Any, ...]) -> None:
    with app.app_context():
        try:
            job(*args)
        except Exception:
            app.logger.exception("background job %s failed", job.__name__)
