"""One thread that runs every call deadline of the process (a heap of
timers), rather than a threading.Timer (a thread) per call."""

import heapq
import itertools
import threading
import time


class _Timers:
    def __init__(self):
        self._cv = threading.Condition(threading.Lock())
        self._heap = []
        self._ids = itertools.count()
        self._cancelled = set()
        self._thread = None

    def add(self, when, callback):
        """Runs ``callback()`` at monotonic time ``when`` (on the timer
        thread: keep it short). Returns a handle for cancel()."""
        with self._cv:
            handle = next(self._ids)
            heapq.heappush(self._heap, (when, handle, callback))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, daemon=True,
                                                name="netstructer-timers")
                self._thread.start()
            self._cv.notify()
            return handle

    def cancel(self, handle):
        with self._cv:
            self._cancelled.add(handle)

    def _run(self):
        while True:
            with self._cv:
                while True:
                    now = time.monotonic()
                    if self._heap and self._heap[0][0] <= now:
                        _, handle, callback = heapq.heappop(self._heap)
                        if handle in self._cancelled:
                            self._cancelled.discard(handle)
                            continue
                        break
                    self._cv.wait(None if not self._heap else self._heap[0][0] - now)
            try:
                callback()
            except Exception:  # A deadline's action must not kill the others.
                pass


TIMERS = _Timers()
