#!/usr/bin/env bash
# python/netstructer/_generated/ holds protoc's Python modules of
# proto/value.proto and rpc/rpc.proto, checked in so that the package works
# without protoc (pip install ./python, PYTHONPATH=python). This test fails
# when they are not what protoc writes from today's .proto files; to
# regenerate them, from the repository root:
#   protoc -I . --python_out=python/netstructer/_generated proto/value.proto rpc/rpc.proto
set -euo pipefail
cd "${TEST_SRCDIR}/netstructer"
out="${TEST_TMPDIR}/generated"
mkdir -p "$out"
/usr/bin/protoc -I . --python_out="$out" proto/value.proto rpc/rpc.proto
status=0
for f in proto/value_pb2.py rpc/rpc_pb2.py; do
  if ! diff -u "python/netstructer/_generated/$f" "$out/$f"; then
    echo "python/netstructer/_generated/$f is stale: regenerate it (see this script's header)" >&2
    status=1
  fi
done
[[ $status == 0 ]] && echo "both generated modules are current"
exit $status
