#!/usr/bin/env bash
# Image benchmark (issue 4). Prints, measured in this run:
#  1. the built-in base layer's compressed size against chainguard/static
#     (~480 KB) and distroless/static (~780 KB), the reference sizes from
#     the issue (those images cannot be pulled here: no registry access);
#  2. the time `muslrust-chef image` takes to assemble and write an OCI
#     layout around a 10 MB static binary (cargo's up-to-date check timed
#     separately and subtracted), against two peers handling the same
#     layout in the same run: `umoci insert` (adds the same binary as a new
#     tar+gzip layer: the closest equivalent) and `skopeo copy` (reads,
#     verifies and rewrites the layout, no recompression).
# Usage: bench/image/run.sh [RUNS]   (needs the musl toolchain, umoci, skopeo)
set -euo pipefail
RUNS=${1:-5}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
CHEF=${CHEF:-$ROOT/target/release/muslrust-chef}
if [ ! -x "$CHEF" ]; then
  (cd "$ROOT" && cargo build --release --bin muslrust-chef >&2)
fi
for t in umoci skopeo; do command -v $t >/dev/null || { echo "missing $t (apt-get install $t)" >&2; exit 1; }; done
WORK=$(mktemp -d /tmp/muslrust-chef-bench-image.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

# A project whose binary carries 10 MB of incompressible data.
mkdir -p "$WORK/big/src"
cat > "$WORK/big/Cargo.toml" <<'TOML'
[package]
name = "big"
version = "0.1.0"
edition = "2021"
[workspace]
TOML
head -c 10000000 /dev/urandom > "$WORK/big/src/blob.bin"
cat > "$WORK/big/src/main.rs" <<'RS'
static BLOB: &[u8] = include_bytes!("blob.bin");
fn main() { println!("{}", std::hint::black_box(BLOB)[12345]); }
RS
cd "$WORK/big"
# Warm-up build (not timed).
"$CHEF" -q image --release --platform linux/amd64 --output "oci:$WORK/warm" >/dev/null
BIN=target/muslrust-chef/release/big
ls -l "$BIN" | awk '{printf "binary: %d bytes\n", $5}'

now() { date +%s.%N; }
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
time_it() { # command... -> seconds
  local s e; s=$(now); "$@" >/dev/null 2>&1; e=$(now); echo "$e - $s" | bc -l; }

# cargo's up-to-date check alone (what `image` runs before assembling).
cargo_t=$(for i in $(seq "$RUNS"); do
  time_it "$CHEF" -q build --release --platform linux/amd64 --strip; done | median)
chef_t=$(for i in $(seq "$RUNS"); do
  rm -rf "$WORK/out"; time_it "$CHEF" -q image --release --platform linux/amd64 --output "oci:$WORK/out"; done | median)
assemble_t=$(echo "$chef_t - $cargo_t" | bc -l)

# Peers on the same layout: a copy of our base-only layout gets the binary.
# umoci needs a base layout: take ours (base layer + app), insert again.
umoci_t=$(for i in $(seq "$RUNS"); do
  rm -rf "$WORK/u"; cp -r "$WORK/warm" "$WORK/u"
  time_it umoci insert --rootless --image "$WORK/u:big:latest" "$BIN" /usr/local/bin/big2; done | median)
skopeo_t=$(for i in $(seq "$RUNS"); do
  rm -rf "$WORK/s"; time_it skopeo copy "oci:$WORK/warm:big:latest" "oci:$WORK/s:big"; done | median)

# Base layer size: the first layer of the image.
base=$("$CHEF" inspect --json "oci:$WORK/warm" | python3 -c 'import json,sys; print(json.load(sys.stdin)["images"][0]["layers"][0]["size"])')
python3 - "$base" "$cargo_t" "$chef_t" "$assemble_t" "$umoci_t" "$skopeo_t" <<'PY'
import sys
base, cargo, chef, asm, umoci, skopeo = map(float, sys.argv[1:])
print(f"base layer (compressed): {int(base)} bytes")
print(f"  vs chainguard/static ~480000 bytes: {base/480000:.2f}x")
print(f"  vs distroless/static ~780000 bytes: {base/780000:.2f}x")
print(f"image around a 10 MB binary (median): command {chef:.3f}s, of which cargo up-to-date check {cargo:.3f}s, assembly+write {asm:.3f}s")
print(f"  umoci insert of the same binary: {umoci:.3f}s -> ours/umoci = {asm/umoci:.2f}x")
print(f"  skopeo copy of the same layout:  {skopeo:.3f}s -> ours/skopeo = {asm/skopeo:.2f}x")
PY
