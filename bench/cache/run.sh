#!/usr/bin/env bash
# Cache benchmark for `prepare`/`cook` (issue 3). Prints ratios against
# peers measured in the same run:
#  1. cold `build --release` of a realistic project (default: the example
#     service) vs. a rebuild after a source-only change in a directory
#     where the recipe was cooked (as a Docker build with a cached cook
#     layer does), and the number of external crates compiled again (must
#     be 0);
#  2. `prepare`'s own run time on a generated workspace of N members
#     against cargo-chef's `prepare` (skipped when `cargo chef` is not
#     installed: `cargo install cargo-chef`).
# Usage: bench/cache/run.sh [PROJECT_DIR]
# env: MEMBERS=40, RUNS=10, CHEF=path, PART=all|cache|prepare
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
project=$(cd "${1:-$here/examples/allowlist}" && pwd)
members=${MEMBERS:-40}
runs=${RUNS:-10}
if [[ -z "${CHEF:-}" ]]; then
  (cd "$here" && cargo build --release --quiet)
  CHEF=$here/target/release/muslrust-chef
fi
work=$(mktemp -d /tmp/muslrust-chef-bench-cache.XXXXXX)
trap 'rm -rf "$work"' EXIT
now() { date +%s.%N; }
secs() { echo "$2 - $1" | bc -l; }

copy_project() { # SRC DEST: the project without target/ or recipe.json
  mkdir -p "$2"
  (cd "$1" && tar --exclude=./target --exclude=./recipe.json -cf - .) | (cd "$2" && tar -xf -)
}

if [[ "${PART:-all}" != prepare ]]; then
echo "== cache: $project"
copy_project "$project" "$work/cold"
t0=$(now); "$CHEF" -q build --release --path "$work/cold" >/dev/null; t1=$(now)
cold=$(secs "$t0" "$t1")

copy_project "$project" "$work/plan"
"$CHEF" -q prepare --release --path "$work/plan" --recipe-path "$work/recipe.json" >/dev/null
mkdir -p "$work/cook"
cp "$work/recipe.json" "$work/cook/recipe.json"
t0=$(now); "$CHEF" -q cook --path "$work/cook" --recipe-path "$work/cook/recipe.json"; t1=$(now)
cook=$(secs "$t0" "$t1")
# COPY . . after the cooked layer, with a source-only change.
copy_project "$project" "$work/cook"
main=$(cd "$work/cook" && ls src/main.rs 2>/dev/null || find . -name '*.rs' -path '*src*' | sort | head -1)
printf '\n// benchmark edit %s\n' "$(date +%s%N)" >> "$work/cook/$main"
t0=$(now)
"$CHEF" build --release --path "$work/cook" >/dev/null 2>"$work/rebuild.log"
t1=$(now)
rebuild=$(secs "$t0" "$t1")
locals=$(python3 - "$work/recipe.json" <<'PY'
import json,sys
r=json.load(open(sys.argv[1]))
print(" ".join(sorted({p["name"] for p in r["skeleton"]["packages"].values()})))
PY
)
recompiled=0
while read -r name; do
  [[ " $locals " == *" $name "* ]] || recompiled=$((recompiled + 1))
done < <(grep -oE '^ *Compiling [^ ]+' "$work/rebuild.log" | awk '{print $2}')
printf 'cold build --release:              %8.2f s\n' "$cold"
printf 'cook (deps only, cached layer):    %8.2f s\n' "$cook"
printf 'rebuild after source-only change:  %8.2f s\n' "$rebuild"
printf 'cold / rebuild ratio:              %8.1fx\n' "$(echo "$cold / $rebuild" | bc -l)"
printf 'external crates recompiled:        %8d (must be 0)\n' "$recompiled"
[[ $recompiled -eq 0 ]] || { cat "$work/rebuild.log"; echo "FAIL: external crates recompiled" >&2; exit 1; }
fi
[[ "${PART:-all}" != cache ]] || exit 0

echo "== prepare on a generated workspace of $members members ($runs runs each)"
ws=$work/ws
mkdir -p "$ws"
{
  echo '[workspace]'; echo 'members = ["crates/*", "app"]'; echo 'resolver = "2"'
  echo '[workspace.package]'; echo 'version = "1.0.0"'; echo 'edition = "2021"'
  echo '[workspace.dependencies]'; echo 'itoa = "1"'; echo 'cfg-if = "1"'
} > "$ws/Cargo.toml"
mkdir -p "$ws/app/src"
{
  echo '[package]'; echo 'name = "app"'; echo 'version.workspace = true'; echo 'edition.workspace = true'
  echo '[dependencies]'
  for i in $(seq 1 "$members"); do echo "m$i = { path = \"../crates/m$i\" }"; done
} > "$ws/app/Cargo.toml"
echo 'fn main() {}' > "$ws/app/src/main.rs"
for i in $(seq 1 "$members"); do
  d=$ws/crates/m$i; mkdir -p "$d/src" "$d/tests"
  {
    echo '[package]'; echo "name = \"m$i\""; echo 'version.workspace = true'; echo 'edition.workspace = true'
    echo '[dependencies]'; echo 'itoa = { workspace = true }'
    [[ $i -gt 1 ]] && echo "m$((i - 1)) = { path = \"../m$((i - 1))\" }"
    echo '[dev-dependencies]'; echo 'cfg-if = { workspace = true }'
  } > "$d/Cargo.toml"
  echo 'pub fn f() {}' > "$d/src/lib.rs"
  echo '#[test] fn t() {}' > "$d/tests/it.rs"
done
(cd "$ws" && cargo generate-lockfile -q)

time_runs() { # CMD...: mean seconds over $runs runs, after one warm-up
  "$@" >/dev/null 2>&1
  local t0 t1
  t0=$(now)
  for _ in $(seq 1 "$runs"); do "$@" >/dev/null 2>&1; done
  t1=$(now)
  echo "$(secs "$t0" "$t1") / $runs" | bc -l
}
ours=$(cd "$ws" && time_runs "$CHEF" -q prepare --recipe-path "$work/ours.json")
printf 'muslrust-chef prepare:             %8.3f s\n' "$ours"
if cargo chef --version >/dev/null 2>&1; then
  theirs=$(cd "$ws" && time_runs cargo chef prepare --recipe-path "$work/theirs.json")
  printf 'cargo-chef prepare (%s): %8.3f s\n' "$(cargo chef --version | awk '{print $2}')" "$theirs"
  printf 'cargo-chef / muslrust-chef ratio:  %8.2fx\n' "$(echo "$theirs / $ours" | bc -l)"
else
  echo "cargo-chef prepare: not installed (cargo install cargo-chef), no ratio"
fi
