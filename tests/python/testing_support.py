"""Helpers of the Python tests: the C++ programs they run, keys, and a main
that writes each test case to Bazel's XML_OUTPUT_FILE (so CI counts test
cases, not files)."""

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


class Process:
    """A child process whose first line saying "listening on HOST:PORT"
    gives its port; killed (SIGTERM, then SIGKILL) at close()."""

    def __init__(self, args, listening_on_stderr=False, timeout=20.0):
        self.args = args
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        stream = self.proc.stderr if listening_on_stderr else self.proc.stdout
        self.port = None
        deadline = time.monotonic() + timeout
        seen = []
        while self.port is None:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([stream], [], [], remaining)[0]:
                self.close()
                raise AssertionError(f"{args[0]} did not say where it listens: {seen}")
            line = stream.readline()
            if not line:
                self.close()
                raise AssertionError(f"{args[0]} exited: {seen} "
                                     f"{self.proc.stderr.read() if stream is self.proc.stdout else ''}")
            seen.append(line)
            match = re.search(r"listening on \S*:(\d+)", line)
            if match:
                self.port = int(match.group(1))

    def close(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        out, err = self.proc.communicate()
        return out, err


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
    module = sys.modules["__main__"]
    suite = unittest.defaultTestLoader.loadTestsFromModule(module)
    runner = unittest.TextTestRunner(verbosity=2, resultclass=_XmlResult)
    result = runner.run(suite)
    path = os.environ.get("XML_OUTPUT_FILE")
    if path:
        _write_xml(path, os.path.basename(module.__file__), result)
    sys.exit(0 if result.wasSuccessful() and result.testsRun > 0 else 1)
