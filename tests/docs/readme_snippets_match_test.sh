#!/usr/bin/env bash
# Runs readme_snippets_match_test.py with Debian's python3 (see the .py).
exec python3 "$@"
