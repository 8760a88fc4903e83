#!/usr/bin/env bash
# The string/format benchmark, four builds, ratios against glibc measured in
# the same run (see ../alloc/libc_bench.py). Extra arguments go to it.
set -euo pipefail
cd "$(dirname "$0")/.."
exec python3 alloc/libc_bench.py strings --json strings/results.json "$@"
