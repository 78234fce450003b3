"""One thread that runs the user's call callbacks of the process
(``CallFuture.add_done_callback``, ``ServicerContext.add_callback``), in
the order the calls ended, as grpcio runs them off its I/O threads.

A call ends on whichever thread ends it: the connection's reader, the
timer thread, an application thread in ``cancel()`` or a handler's
return. None of them may run user code: the reader would stop reading
every call of its connection while a callback blocks (a follow-up call
that waits for credit or a connection would wait for the reader itself),
and an application thread may hold a call's locks. So callbacks are
queued here; this thread holds no lock while one runs, and a callback
may make a blocking call (its response is read by a reader thread, not
this one), but must not wait for another callback, which runs after it
on this same thread. A slow callback delays the others: hand long work to
a thread of yours.
"""

import collections
import logging
import os
import threading

_log = logging.getLogger("netstructer")


class _CallbackThread:
    def __init__(self):
        self._cv = threading.Condition(threading.Lock())
        self._queue = collections.deque()
        self._thread = None

    def submit(self, callbacks, *args):
        """Queues ``callback(*args)`` for each of ``callbacks``."""
        if not callbacks:
            return
        with self._cv:
            self._queue.extend((callback, args) for callback in callbacks)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, daemon=True,
                                                name="netstructer-callbacks")
                self._thread.start()
            self._cv.notify()

    def _run(self):
        while True:
            with self._cv:
                while not self._queue:
                    self._cv.wait()
                callback, args = self._queue.popleft()
            try:
                callback(*args)
            except BaseException:  # noqa: BLE001 - even sys.exit(): the others run.
                _log.exception("netstructer: a callback raised")

    def _after_fork_in_child(self):
        # The thread did not survive the fork; its lock may be held.
        self._cv = threading.Condition(threading.Lock())
        self._queue = collections.deque()
        self._thread = None


CALLBACKS = _CallbackThread()
os.register_at_fork(after_in_child=CALLBACKS._after_fork_in_child)
