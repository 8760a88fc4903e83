#!/usr/bin/env python3
"""Builds one bench program (bench/alloc or bench/strings) four ways and
times them in the same run, interleaved, printing medians and throughput
ratios against glibc:

  glibc          the host's Rust toolchain, x86_64-unknown-linux-gnu, dynamic
  musl           muslrust-chef build --allocator musl --string-functions musl
  musl+mimalloc  the same, plus the mimalloc crate as #[global_allocator]
                 (cargo feature `mimalloc`: what the reference system did)
  muslrust-chef  muslrust-chef build (default: mimalloc and fast string
                 functions inside libc.a, no source change)

usage: libc_bench.py alloc|strings [--threads 1,2,4,8] [--runs 5]
                     [--iters N] [--json FILE]
The tool is $MUSLRUST_CHEF, else target/debug/muslrust-chef (built if
missing). A ratio above 1 means faster than glibc.
"""
import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VARIANTS = ["glibc", "musl", "musl+mimalloc", "muslrust-chef"]


def sh(cmd, cwd=None, env=None):
    print("+ " + " ".join(cmd), file=sys.stderr)
    subprocess.run(cmd, cwd=cwd, env=env, check=True, stdout=sys.stderr)


def chef_path():
    p = os.environ.get("MUSLRUST_CHEF")
    if p:
        return p
    p = os.path.join(ROOT, "target", "debug", "muslrust-chef")
    if not os.path.exists(p):
        sh(["cargo", "build", "--quiet"], cwd=ROOT)
    return p


def build(bench):
    src = os.path.join(ROOT, "bench", bench)
    name = bench + "-bench"
    bins = os.path.join(src, "target", "bins")
    os.makedirs(bins, exist_ok=True)
    env = dict(os.environ)
    for k in ["RUSTFLAGS", "CARGO_ENCODED_RUSTFLAGS", "RUSTC"]:
        env.pop(k, None)
    out = {}
    sh(["cargo", "build", "--release", "--quiet", "--target-dir", "target/glibc"], cwd=src, env=env)
    out["glibc"] = os.path.join(src, "target", "glibc", "release", name)
    chef = chef_path()
    stock = ["--allocator", "musl", "--string-functions", "musl"]
    for variant, extra in [
        ("musl", stock),
        ("musl+mimalloc", stock + ["--features", "mimalloc"]),
        ("muslrust-chef", []),
    ]:
        dest = os.path.join(bins, variant.replace("+", "-"))
        sh([chef, "build", "-q", "--release", "--platform", "linux/amd64", "--out", dest] + extra, cwd=src, env=env)
        out[variant] = os.path.join(dest, name)
    for v in VARIANTS:
        info = subprocess.run([chef, "inspect", "--json", out[v]], capture_output=True, text=True)
        if info.returncode == 0:
            r = json.loads(info.stdout)
            print(f"{v:14} allocator={r['allocator']} rust_global_allocator={r['rust_global_allocator']} "
                  f"string_functions={r['string_functions']} static={r['is_static']}", file=sys.stderr)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("bench", choices=["alloc", "strings"])
    ap.add_argument("--threads", default="1,2,4,8")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--iters", type=int, default=None)
    ap.add_argument("--json", default=None)
    a = ap.parse_args()
    bins = build(a.bench)
    threads = [int(t) for t in a.threads.split(",")]
    results = {}
    for t in threads:
        times = {v: [] for v in VARIANTS}
        for r in range(a.runs):
            # Interleave the variants so background load hits all alike.
            order = VARIANTS[r % 4:] + VARIANTS[:r % 4]
            for v in order:
                cmd = [bins[v], str(t)] + ([str(a.iters)] if a.iters else [])
                ms = float(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip())
                times[v].append(ms)
        med = {v: statistics.median(times[v]) for v in VARIANTS}
        results[t] = {"median_ms": med, "runs_ms": times,
                      "ratio_vs_glibc": {v: med["glibc"] / med[v] for v in VARIANTS}}
        row = " | ".join(f"{med[v]:8.1f} ms ({med['glibc'] / med[v]:.2f}x)" for v in VARIANTS)
        print(f"{a.bench} threads={t}: {row}", file=sys.stderr)
    print(f"\n{a.bench} benchmark, median of {a.runs} runs, throughput ratio vs glibc (higher is better)\n")
    print("| threads | " + " | ".join(VARIANTS) + " |")
    print("|---|" + "---|" * len(VARIANTS))
    for t in threads:
        med = results[t]["median_ms"]
        cells = [f"{med[v]:.0f} ms ({results[t]['ratio_vs_glibc'][v]:.2f}x)" for v in VARIANTS]
        print(f"| {t} | " + " | ".join(cells) + " |")
    if a.json:
        meta = {
            "bench": a.bench,
            "runs": a.runs,
            "iters": a.iters,
            "machine": f"{platform.machine()}, {os.cpu_count()} cpus, "
                       + cpu_model() + f", {platform.system()} {platform.release()}",
            "date": time.strftime("%Y-%m-%d"),
            "results": {str(t): results[t] for t in threads},
        }
        with open(a.json + ".tmp", "w") as f:
            json.dump(meta, f, indent=1)
        os.replace(a.json + ".tmp", a.json)


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown cpu"


if __name__ == "__main__":
    main()
