#!/usr/bin/env bash
# The allocation benchmark, four builds, ratios against glibc measured in
# the same run (see libc_bench.py). Extra arguments go to it.
set -euo pipefail
cd "$(dirname "$0")/.."
exec python3 alloc/libc_bench.py alloc --json alloc/results.json "$@"
