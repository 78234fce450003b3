"""One thread that runs every call deadline of the process (a heap of
timers), rather than a threading.Timer (a thread) per call.

A cancelled timer lets go of its callback at once (the heap keeps only an
empty entry until its time), so a cancelled call is not kept alive by its
deadline. Callbacks run on the timer thread and must not block: they only
end calls (CallStream.cancel never waits).
"""

import heapq
import itertools
import logging
import os
import threading
import time

_log = logging.getLogger("netstructer")


class _Timers:
    def __init__(self):
        self._cv = threading.Condition(threading.Lock())
        self._heap = []  # [when, handle, callback or None]
        self._entries = {}  # handle -> its heap entry, while pending
        self._ids = itertools.count()
        self._thread = None

    def add(self, when, callback):
        """Runs ``callback()`` at monotonic time ``when``. Returns a handle
        for cancel()."""
        with self._cv:
            handle = next(self._ids)
            entry = [when, handle, callback]
            heapq.heappush(self._heap, entry)
            self._entries[handle] = entry
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, daemon=True,
                                                name="netstructer-timers")
                self._thread.start()
            self._cv.notify()
            return handle

    def cancel(self, handle):
        with self._cv:
            entry = self._entries.pop(handle, None)
            if entry is not None:
                entry[2] = None

    def _run(self):
        while True:
            with self._cv:
                while True:
                    now = time.monotonic()
                    if self._heap and self._heap[0][0] <= now:
                        _, handle, callback = heapq.heappop(self._heap)
                        self._entries.pop(handle, None)
                        if callback is None:
                            continue
                        break
                    self._cv.wait(None if not self._heap else self._heap[0][0] - now)
            try:
                callback()
            except BaseException:  # noqa: BLE001 - one deadline must not stop the others.
                _log.exception("netstructer: a deadline's action raised")


    def _after_fork_in_child(self):
        # The thread did not survive the fork; the parent's deadlines are
        # the parent's calls, which the child does not have.
        self.__init__()


TIMERS = _Timers()
os.register_at_fork(after_in_child=TIMERS._after_fork_in_child)
