#!/usr/bin/env bash
# The whole test suite, as CI runs it: installs what the tests need
# (scripts/bootstrap.sh), then the gates (fmt, clippy), the fast group
# (unit tests and integration tests that need no Docker daemon) and the
# slow group (tests/*docker*.rs: real Docker builds), one after the other.
#
#   scripts/test.sh          everything
#   scripts/test.sh fast     skip the slow Docker group
#
# MUSLRUST_CHEF_REQUIRE_ALL=1 makes a test whose component is missing fail
# instead of skipping.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/bootstrap.sh
export PATH="$HOME/.cargo/bin:$PATH"
export MUSLRUST_CHEF_REQUIRE_ALL=1
group=${1:-all}

step() { printf '\n== %s ==\n' "$*" >&2; }

step "cargo fmt --check"
cargo fmt --all -- --check
step "cargo clippy"
cargo clippy --all-targets --locked -- -D warnings

fast=() slow=()
for f in tests/*.rs; do
  name=$(basename "$f" .rs)
  case "$name" in
    common*) ;;  # helpers included by other test files
    *docker*) slow+=(--test "$name") ;;
    *) fast+=(--test "$name") ;;
  esac
done

step "examples/allowlist: clippy and unit tests (its own workspace)"
cargo clippy --locked --manifest-path examples/allowlist/Cargo.toml --all-targets -- -D warnings
cargo test --locked --manifest-path examples/allowlist/Cargo.toml

step "fast group: unit tests + ${fast[*]}"
start=$(date +%s)
cargo test --locked --lib --bins "${fast[@]}"
echo "fast group took $(( $(date +%s) - start ))s" >&2

if [ "$group" = "all" ] && [ ${#slow[@]} -gt 0 ]; then
  step "slow group (Docker): ${slow[*]}"
  start=$(date +%s)
  cargo test --locked "${slow[@]}" -- --test-threads=1
  echo "slow group took $(( $(date +%s) - start ))s" >&2
fi
step "all tests passed"
