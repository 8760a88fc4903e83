#!/usr/bin/env python3
"""The example service (examples/allowlist, memory backend) under wrk, built
four ways and measured in the same run, interleaved; prints requests/s and
peak resident memory with ratios against glibc:

  glibc          the host's Rust toolchain, x86_64-unknown-linux-gnu, dynamic
  musl           muslrust-chef build --allocator musl --string-functions musl
  musl+mimalloc  the same, plus the mimalloc crate as #[global_allocator]
                 (cargo feature `mimalloc-crate`: what the reference system did)
  muslrust-chef  muslrust-chef build (default: mimalloc and fast string
                 functions inside libc.a, no source change)

and then muslrust-chef's build again under mimalloc's runtime options
(MIMALLOC_* environment variables, --knobs), to find the ones that lower
resident memory without costing throughput.

Each measurement starts a fresh server, adds one address, warms up, runs
`wrk -t2 -c64 -d10s` against `GET /{that address}`, then reads VmHWM (peak
resident set) from /proc/<pid>/status and stops the server with SIGTERM
(it must exit 0). Medians over --rounds.

usage: service_bench.py [--rounds 3] [--duration 10] [--warmup 2]
                        [--threads 2] [--connections 64]
                        [--knobs 'A=1;B=2 C=3' | --no-knobs] [--json FILE]
The tool is $MUSLRUST_CHEF, else target/debug/muslrust-chef (built if
missing). Throughput ratio above 1 means faster than glibc; memory ratio
below 1 means smaller.
"""
import argparse
import http.client
import json
import os
import platform
import re
import signal
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SERVICE = os.path.join(ROOT, "examples", "allowlist")
VARIANTS = ["glibc", "musl", "musl+mimalloc", "muslrust-chef"]
ADDRESS = "0xde0b295669a9fd93d5f28d9ec85e40f4cb697bae"

# mimalloc (v2) options tried on muslrust-chef's build, alone and together.
# Semicolons separate configurations; spaces separate variables.
DEFAULT_KNOBS = ";".join([
    "MIMALLOC_ALLOW_THP=0",
    "MIMALLOC_ARENA_EAGER_COMMIT=0",
    "MIMALLOC_PURGE_DELAY=0",
    "MIMALLOC_ALLOW_LARGE_OS_PAGES=0",
    "MIMALLOC_ARENA_RESERVE=64MiB",
    "MIMALLOC_ALLOW_THP=0 MIMALLOC_PURGE_DELAY=0",
])


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


def build():
    """The four binaries. Each non-default variant has its own cargo target
    directory (under examples/allowlist/target/bench/), so switching
    variants does not rebuild the others' dependencies."""
    env = dict(os.environ)
    for k in ["RUSTFLAGS", "CARGO_ENCODED_RUSTFLAGS", "RUSTC", "CARGO_BUILD_TARGET"]:
        env.pop(k, None)
    tdir = os.path.join(SERVICE, "target", "bench")
    out = {}
    sh(["cargo", "build", "--release", "--quiet", "--target-dir", os.path.join(tdir, "glibc")],
       cwd=SERVICE, env=env)
    out["glibc"] = os.path.join(tdir, "glibc", "release", "allowlist")
    chef = chef_path()
    stock = ["--allocator", "musl", "--string-functions", "musl"]
    for variant, extra in [
        ("musl", stock),
        ("musl+mimalloc", stock + ["--features", "mimalloc-crate"]),
        ("muslrust-chef", []),
    ]:
        name = variant.replace("+", "-")
        dest = os.path.join(tdir, "bins", name)
        # muslrust-chef's default build shares the project's own target
        # directory (as tests/allowlist.rs does).
        target_dir = ["--target-dir", os.path.join(tdir, name)] if extra else []
        sh([chef, "build", "-q", "--release", "--platform", "linux/amd64", "--out", dest]
           + target_dir + extra, cwd=SERVICE, env=env)
        out[variant] = os.path.join(dest, "allowlist")
    facts = {}
    for v in VARIANTS:
        info = subprocess.run([chef, "inspect", "--json", out[v]], capture_output=True, text=True)
        if info.returncode == 0:
            r = json.loads(info.stdout)
            facts[v] = {k: r.get(k) for k in
                        ["allocator", "rust_global_allocator", "string_functions", "is_static"]}
            print(f"{v:14} " + " ".join(f"{k}={val}" for k, val in facts[v].items()),
                  file=sys.stderr)
        else:
            print(f"{v:14} inspect failed: {info.stderr.strip()}", file=sys.stderr)
    return out, facts


def status_kb(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/{pid}/status")


def start(exe, knobs):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("MIMALLOC_") and k != "REDIS_URL"}
    env.update({"BIND": "127.0.0.1", "PORT": "0"})
    env.update(knobs)
    proc = subprocess.Popen([exe], env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    line = proc.stderr.readline()
    m = re.search(r"listening on http://(\S+):(\d+)", line)
    if not m:
        proc.kill()
        raise RuntimeError(f"{exe} did not start: {line!r} {proc.stderr.read()!r}")
    return proc, int(m.group(2))


def request(port, method, path):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.request(method, path)
    r = c.getresponse()
    r.read()
    c.close()
    return r.status


def wrk(port, a, duration):
    cmd = ["wrk", f"-t{a.threads}", f"-c{a.connections}", f"-d{duration}s",
           f"http://127.0.0.1:{port}/{ADDRESS}"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if not m:
        raise RuntimeError(f"no Requests/sec in wrk output:\n{out}")
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors:.*", out)
    if bad:
        raise RuntimeError(f"wrk saw {bad.group(1)} error responses:\n{out}")
    if errors:
        print(f"  wrk: {errors.group(0)}", file=sys.stderr)
    return float(m.group(1))


def measure(exe, knobs, a):
    proc, port = start(exe, knobs)
    try:
        assert request(port, "POST", "/" + ADDRESS.upper().replace("0X", "0x")) == 201
        assert request(port, "GET", "/" + ADDRESS) == 200
        start_rss = status_kb(proc.pid, "VmRSS")
        if a.warmup > 0:
            wrk(port, a, a.warmup)
        rps = wrk(port, a, a.duration)
        peak = status_kb(proc.pid, "VmHWM")
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(timeout=10)
        if rc != 0:
            raise RuntimeError(f"{exe} exited {rc} after SIGTERM")
        return {"rps": rps, "peak_kb": peak, "start_kb": start_rss}
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def parse_knobs(text):
    configs = []
    for part in filter(None, (p.strip() for p in text.split(";"))):
        configs.append(dict(kv.split("=", 1) for kv in part.split()))
    return configs


def label(knobs):
    return " ".join(f"{k}={v}" for k, v in knobs.items())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--knobs", default=DEFAULT_KNOBS)
    ap.add_argument("--no-knobs", action="store_true")
    ap.add_argument("--json", default=None)
    a = ap.parse_args()
    bins, facts = build()

    # Rows: the four builds, then muslrust-chef's build under each knob set.
    rows = [(v, bins[v], {}) for v in VARIANTS]
    if not a.no_knobs:
        rows += [("muslrust-chef " + label(k), bins["muslrust-chef"], k)
                 for k in parse_knobs(a.knobs)]
    runs = {name: [] for name, _, _ in rows}
    for r in range(a.rounds):
        # Rotate the order so background load hits every row alike.
        order = rows[r % len(rows):] + rows[:r % len(rows)]
        for name, exe, knobs in order:
            m = measure(exe, knobs, a)
            runs[name].append(m)
            print(f"round {r + 1}: {name:60} {m['rps']:10.0f} req/s  peak {m['peak_kb'] / 1024:6.1f} MiB",
                  file=sys.stderr)

    med = {name: {k: statistics.median(x[k] for x in runs[name]) for k in ["rps", "peak_kb", "start_kb"]}
           for name in runs}
    g = med["glibc"]
    # Throughput against the glibc run of the same round, then the median:
    # steadier than a ratio of medians when background load drifts.
    paired = {name: statistics.median(x["rps"] / y["rps"] for x, y in zip(runs[name], runs["glibc"]))
              for name in runs}
    print(f"\nexample service (memory backend), wrk -t{a.threads} -c{a.connections} -d{a.duration}s, "
          f"median of {a.rounds} rounds; ratios vs glibc in the same run\n")
    print("| build | requests/s | (min-max) | vs glibc | vs glibc, same round | peak RSS (MiB) | vs glibc | RSS at start (MiB) |")
    print("|---|---|---|---|---|---|---|---|")
    for name, _, _ in rows:
        m = med[name]
        lo = min(x["rps"] for x in runs[name])
        hi = max(x["rps"] for x in runs[name])
        print(f"| {name} | {m['rps']:.0f} | {lo:.0f}-{hi:.0f} | {m['rps'] / g['rps']:.2f}x | {paired[name]:.2f}x | "
              f"{m['peak_kb'] / 1024:.1f} | {m['peak_kb'] / g['peak_kb']:.2f}x | {m['start_kb'] / 1024:.1f} |")
    if a.json:
        meta = {
            "bench": "service",
            "command": f"wrk -t{a.threads} -c{a.connections} -d{a.duration}s",
            "rounds": a.rounds,
            "machine": f"{platform.machine()}, {os.cpu_count()} cpus, {cpu_model()}, "
                       f"{platform.system()} {platform.release()}",
            "date": time.strftime("%Y-%m-%d"),
            "load_average": os.getloadavg(),
            "linked": facts,
            "results": {name: {"median": med[name], "runs": runs[name],
                               "rps_vs_glibc": med[name]["rps"] / g["rps"],
                               "rps_vs_glibc_same_round": paired[name],
                               "peak_vs_glibc": med[name]["peak_kb"] / g["peak_kb"]}
                        for name in runs},
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
