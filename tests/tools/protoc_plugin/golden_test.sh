#!/bin/bash
# Compares protoc-gen-netstructer's output byte for byte with the goldens.
# Usage: golden_test.sh GOLDEN_FILE GENERATED_FILE...
# (the first golden names the golden directory; every generated file F must
# have golden/F.golden, and every golden must have been generated).
set -u

golden_dir="$(dirname "$1")"
shift

regenerate="bazel run //tests/tools/protoc_plugin:update_goldens"
failed=0
declare -A generated=()
for file in "$@"; do
  name="$(basename "${file}")"
  generated["${name}.golden"]=1
  golden="${golden_dir}/${name}.golden"
  if [[ ! -f "${golden}" ]]; then
    echo "FAIL: no golden for ${name} (expected ${golden})"
    failed=1
  elif ! diff -u "${golden}" "${file}"; then
    echo "FAIL: ${name} differs from ${golden} (diff above: golden, generated)"
    failed=1
  else
    echo "ok: ${name}"
  fi
done
for golden in "${golden_dir}"/*.golden; do
  if [[ -z "${generated[$(basename "${golden}")]:-}" ]]; then
    echo "FAIL: ${golden} matches no generated file; delete it"
    failed=1
  fi
done
if (( failed )); then
  echo
  echo "If the change is intended, regenerate the goldens and review the diff:"
  echo "  ${regenerate}"
  exit 1
fi
