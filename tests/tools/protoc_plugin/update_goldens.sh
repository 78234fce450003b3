#!/bin/bash
# Rewrites tests/tools/protoc_plugin/golden/ from the generated files.
# Run with: bazel run //tests/tools/protoc_plugin:update_goldens
set -eu

if [[ -z "${BUILD_WORKSPACE_DIRECTORY:-}" ]]; then
  echo "run me with 'bazel run //tests/tools/protoc_plugin:update_goldens'" >&2
  exit 1
fi
golden_dir="${BUILD_WORKSPACE_DIRECTORY}/tests/tools/protoc_plugin/golden"
mkdir -p "${golden_dir}"
for file in "$@"; do
  cp "${file}" "${golden_dir}/$(basename "${file}").golden"
  chmod 644 "${golden_dir}/$(basename "${file}").golden"
  echo "updated ${golden_dir}/$(basename "${file}").golden"
done
