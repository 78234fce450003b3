"""The README's Python: the original module's client of README.md ("From
Python") against `netstructer serve`, and python/README.md's client and
server, each block run as written with only its address and key replaced."""

import os
import re
import subprocess
import sys
import tempfile
import unittest

import netstructer

import testing_support as ts

README_LINES = [
    "['hi im haytam', 128, {b'gg': 'gg'}, {1, 2, 4, 6}, (False, True)]",
    "'support us on https://www.buymeacoffee.com/Arcade.m7'",
]


def python_blocks(path, heading):
    """The ```python blocks of the section that starts with ``heading``."""
    with open(ts.runfile(path), encoding="utf-8") as f:
        text = f.read()
    start = text.index(heading)
    end = text.find("\n## ", start + len(heading))
    section = text[start:end if end >= 0 else len(text)]
    return re.findall(r"```python\n(.*?)```", section, re.S)


def run_python(code, timeout=60):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    return subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)


class ReadmeExamples(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp()
        self.key_file, self.key = ts.write_key_file(self.dir)

    def substitute(self, code, old_address, port):
        self.assertIn(old_address, code)
        code = code.replace(old_address, f"('127.0.0.1', {port})")
        code, n = re.subn(r"^KEY = '[^']*'$", f"KEY = {self.key!r}", code, flags=re.M)
        self.assertEqual(n, 1, "the block has one KEY line")
        return code

    def test_the_original_client_against_netstructer_serve(self):
        block = python_blocks("README.md", "## From Python")[0]
        self.assertTrue(block.startswith("from netstructer import Bridge\n"))
        serve = ts.Process([ts.runfile(ts.NETSTRUCTER), "serve", "--listen",
                            "127.0.0.1:0", "--key-file", self.key_file],
                           listening_on_stderr=True)
        self.addCleanup(serve.close)
        client = run_python(self.substitute(block, "('192.168.1.5',5000)", serve.port))
        out, err = client.communicate(timeout=60)
        self.assertEqual(client.returncode, 0, err)
        self.assertEqual(serve.read_lines(2), [f"127.0.0.1 {v}" for v in README_LINES])

    def test_the_packages_readme_client_and_server(self):
        client_block, server_block = python_blocks("python/README.md",
                                                   "## The original module's programs")[:2]
        import socket
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
        probe.close()
        server = run_python(self.substitute(server_block, "('127.0.0.1', 5000)", port))
        self.addCleanup(server.kill)
        # The server block waits for the client (get with a timeout).
        client = None
        for _ in range(50):
            client = run_python(self.substitute(client_block, "('127.0.0.1', 5000)", port))
            if client.wait(60) == 0:
                break
            _, err = client.communicate()
            self.assertIn("UNAVAILABLE", err)  # The server is not listening yet.
            if server.poll() is not None:
                self.fail(f"the server block ended: {server.communicate()}")
            import select
            select.select([], [], [], 0.1)
        self.assertEqual(client.returncode, 0, client.communicate()[1])
        out, err = server.communicate(timeout=60)
        self.assertEqual(server.returncode, 0, err)
        self.assertEqual(out.splitlines(), [v for v in (
            "['hi im haytam', 128, {b'gg': 'gg'}, {1, 2, 4, 6}, (False, True)]",
            "support us on https://www.buymeacoffee.com/Arcade.m7")])


if __name__ == "__main__":
    ts.main()
