"""Helpers of the Python tests: the C++ programs they run, keys, and a main
that writes each test case to Bazel's XML_OUTPUT_FILE (so CI counts test
cases, not files)."""

import faulthandler
import os
import re
import select
import stat
import subprocess
import sys
import tempfile
import time
import unittest
from xml.sax.saxutils import quoteattr, escape

import netstructer


def runfile(path):
    """A file of the workspace's runfiles (a C++ binary, a .proto)."""
    manifest = os.environ.get("RUNFILES_MANIFEST_FILE", "")  # bazel run
    roots = [os.environ.get("TEST_SRCDIR"), os.environ.get("RUNFILES_DIR"),
             manifest[:-len("_manifest")] if manifest.endswith(".runfiles_manifest")
             else None]
    for root in roots:
        if root:
            candidate = os.path.join(root, "netstructer", path)
            if os.path.exists(candidate):
                return candidate
    here = os.path.dirname(os.path.abspath(__file__))
    return os.path.join(here, "..", "..", path)


NETSTRUCTER = "tools/netstructer"
ECHO_PEER = "tests/python/echo_peer"
GREETER_SERVER = "examples/greeter/server"
GREETER_CLIENT = "examples/greeter/client"


def write_key_file(directory, keys=None):
    """A chmod-600 key file of ``keys`` (fresh ones by default): its path
    and its primary key's text."""
    keys = keys or [netstructer.generate_key()]
    fd, path = tempfile.mkstemp(dir=directory, suffix=".key")
    with os.fdopen(fd, "w") as f:
        f.write("\n".join(keys) + "\n")
    os.chmod(path, stat.S_IRUSR | stat.S_IWUSR)
    return path, keys[0]


def accept_one_handshake(test, key, options=None):
    """Listens on 127.0.0.1 and answers one client's handshake on a thread.
    Returns (port, accepted): ``accepted()`` waits for the handshake and
    gives the server Connection, not started (a peer that reads nothing
    until the test says so); the test's cleanup aborts it."""
    import socket
    import threading
    from netstructer import handshake_io
    from netstructer.keys import parse_key
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    test.addCleanup(listener.close)
    held = []
    test.addCleanup(lambda: [c.abort() for c in held])

    def accept():
        sock, peer = listener.accept()
        held.append(handshake_io.serve_handshake(
            sock, peer, [parse_key(key)], time.monotonic() + 10, options=options))
    thread = threading.Thread(target=accept, daemon=True)
    thread.start()

    def accepted():
        thread.join(20)
        test.assertTrue(held, "the handshake did not complete")
        return held[0]
    return listener.getsockname()[1], accepted


class RecordingConnection:
    """What a CallStream writes, without a socket (a Connection's sending
    half). ``during_write`` runs in the middle of the first write: another
    thread's action, forced there."""

    def __init__(self, during_write=None):
        from netstructer.connection import ConnectionOptions
        self.options = ConnectionOptions()
        self.frames = []
        self.during_write = during_write

    def write_frames(self, frames, deadline=None, wait_for_room=True):
        hook, self.during_write = self.during_write, None
        if hook is not None:
            hook()
        self.frames.extend(frames)

    def queue_control(self, frame):
        self.frames.append(frame)

    def note_activity(self):
        pass

    def send_failure(self):
        return None  # Its writes never fail.


class Process:
    """A child process whose first line saying "listening on HOST:PORT"
    gives its port; killed (SIGTERM, then SIGKILL) at close(). Its output is
    read with os.read and select, never through a buffered file object
    (whose buffer select cannot see)."""

    def __init__(self, args, listening_on_stderr=False, timeout=20.0):
        self.args = args
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, bufsize=0)
        self._out_fd = self.proc.stdout.fileno()
        self._err_fd = self.proc.stderr.fileno()
        self._buffers = {self._out_fd: b"", self._err_fd: b""}
        stream = self.proc.stderr if listening_on_stderr else self.proc.stdout
        self.port = None
        deadline = time.monotonic() + timeout
        seen = []
        while self.port is None:
            line = self._readline(stream.fileno(), deadline)
            if line is None:
                out, err = self.close()
                raise AssertionError(f"{args[0]} did not say where it listens: "
                                     f"{seen} {err}")
            seen.append(line)
            match = re.search(r"listening on \S*:(\d+)", line)
            if match:
                self.port = int(match.group(1))

    def _readline(self, fd, deadline):
        """The next line of ``fd`` without its newline; None at the deadline
        or at the end of the stream."""
        while b"\n" not in self._buffers[fd]:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
                return None
            chunk = os.read(fd, 65536)
            if not chunk:
                return None
            self._buffers[fd] += chunk
        line, _, self._buffers[fd] = self._buffers[fd].partition(b"\n")
        return line.decode("utf-8", "replace")

    def read_lines(self, n, timeout=30.0):
        """The next ``n`` lines of stdout, waiting up to ``timeout`` for them
        (a line is printed once the program has handled what it reports)."""
        deadline = time.monotonic() + timeout
        lines = []
        while len(lines) < n:
            line = self._readline(self._out_fd, deadline)
            if line is None:
                raise AssertionError(f"{self.args[0]} printed {lines}, not {n} lines")
            lines.append(line)
        return lines

    def close(self):
        """Stops the process; (stdout, stderr) not yet read, as text."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        out, err = self.proc.communicate()
        out = self._buffers[self._out_fd] + (out or b"")
        err = self._buffers[self._err_fd] + (err or b"")
        self._buffers = {self._out_fd: b"", self._err_fd: b""}
        return out.decode("utf-8", "replace"), err.decode("utf-8", "replace")


class _XmlResult(unittest.TextTestResult):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.cases = []
        self._started = {}

    def startTest(self, test):
        self._started[test.id()] = time.monotonic()
        super().startTest(test)

    def _record(self, test, kind=None, text=""):
        elapsed = time.monotonic() - self._started.get(test.id(), time.monotonic())
        self.cases.append((test.id(), elapsed, kind, text))

    def addSuccess(self, test):
        super().addSuccess(test)
        self._record(test)

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._record(test, "failure", self._exc_info_to_string(err, test))

    def addError(self, test, err):
        super().addError(test, err)
        self._record(test, "error", self._exc_info_to_string(err, test))

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        self._record(test, "skipped", reason)


def _write_xml(path, name, result):
    failures = sum(1 for c in result.cases if c[2] == "failure")
    errors = sum(1 for c in result.cases if c[2] == "error")
    lines = [f'<?xml version="1.0" encoding="UTF-8"?>',
             f'<testsuites><testsuite name={quoteattr(name)} tests="{len(result.cases)}" '
             f'failures="{failures}" errors="{errors}">']
    for test_id, elapsed, kind, text in result.cases:
        cls, _, method = test_id.rpartition(".")
        lines.append(f'<testcase classname={quoteattr(cls)} name={quoteattr(method)} '
                     f'time="{elapsed:.3f}">')
        if kind in ("failure", "error"):
            lines.append(f'<{kind} message={quoteattr(text.splitlines()[-1] if text else kind)}>'
                         f'{escape(text)}</{kind}>')
        elif kind == "skipped":
            lines.append(f'<skipped message={quoteattr(text)}/>')
        lines.append("</testcase>")
    lines.append("</testsuite></testsuites>")
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines))


def main():
    """unittest.main, plus the XML Bazel reads when it asks for one."""
    # A hang shows where every thread is, before Bazel kills the test.
    budget = float(os.environ.get("TEST_TIMEOUT", "0") or 0)
    if budget > 10:
        faulthandler.dump_traceback_later(budget - 5, exit=True)
    module = sys.modules["__main__"]
    suite = unittest.defaultTestLoader.loadTestsFromModule(module)
    runner = unittest.TextTestRunner(verbosity=2, resultclass=_XmlResult)
    result = runner.run(suite)
    path = os.environ.get("XML_OUTPUT_FILE")
    if path:
        _write_xml(path, os.path.basename(module.__file__), result)
    sys.exit(0 if result.wasSuccessful() and result.testsRun > 0 else 1)
