#!/usr/bin/env bash
# `pip install ./python` as python/README.md says, with Debian's pip and
# nothing downloaded: into a virtualenv that sees Debian's packages, with
# --no-build-isolation (setuptools from Debian builds it) --no-index (no
# package index) --no-deps (the dependencies are Debian's). The installed
# package then works from another directory: a value round trip, and a
# Bridge to a Server in one process.
set -euo pipefail
src="${TEST_SRCDIR}/netstructer/python"
work="${TEST_TMPDIR}/pip"
rm -rf "$work" && mkdir -p "$work"
# pip builds in the source tree; runfiles are read-only links, so copy.
cp -rL "$src" "$work/src"
/usr/bin/python3 -m venv --system-site-packages "$work/venv"
"$work/venv/bin/python" -m pip install --quiet --no-build-isolation --no-index \
  --no-deps "$work/src"
cd "$work"
"$work/venv/bin/python" - <<'PY'
import netstructer
assert "/venv/" in netstructer.__file__, netstructer.__file__
from netstructer import Bridge, Server, generate_key, values
value = ['hi im haytam', 128, {b'gg': 'gg'}, {1, 2, 6, 4}, (False, True)]
assert values.decode(values.encode(value)) == value
key = generate_key()
server = Server(('127.0.0.1', 0), key=key).init()
server.listen()
with Bridge.Link(('127.0.0.1', server.port), key=key) as bridge:
    bridge.SendBuffer(value)
assert server.get('127.0.0.1', timeout=10).RecvBuffer(timeout=10) == value
server.shutdown()
print("installed", netstructer.__version__, "from", netstructer.__file__)
PY
