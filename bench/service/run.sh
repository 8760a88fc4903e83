#!/usr/bin/env bash
# The example service under wrk, four builds (glibc, musl, musl + mimalloc
# crate, muslrust-chef), requests/s and peak RSS with ratios against glibc
# measured in the same run, then mimalloc's runtime options on
# muslrust-chef's build (see service_bench.py). Extra arguments go to it.
set -euo pipefail
cd "$(dirname "$0")"
for tool in wrk cargo python3; do
  command -v "$tool" >/dev/null || { echo "error: $tool is missing (hint: apt-get install wrk; see scripts/bootstrap.sh)" >&2; exit 1; }
done
exec python3 service_bench.py --json results.json "$@"
