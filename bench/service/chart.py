#!/usr/bin/env python3
"""Draws the example service's chart from the JSON that service_bench.py
writes (bench/service/results.json): requests/s and peak resident memory,
each as a ratio against glibc, one bar per build (the four builds, plus the
muslrust-chef rows with mimalloc options given with --rows).

usage: chart.py OUT.png results.json [ROW ...]
"""
import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

BUILDS = ["glibc", "musl", "musl+mimalloc", "muslrust-chef"]
COLORS = ["#4c72b0", "#c44e52", "#dd8452", "#55a868", "#8172b3", "#937860"]


def main():
    out, path, extra = sys.argv[1], sys.argv[2], sys.argv[3:]
    d = json.load(open(path))
    rows = BUILDS + [r for r in extra if r in d["results"]]
    names = [r.replace("muslrust-chef MIMALLOC_", "muslrust-chef\nMIMALLOC_").replace(" MIMALLOC_", "\nMIMALLOC_")
             .replace("MIMALLOC_", "") for r in rows]
    fig, axes = plt.subplots(1, 2, figsize=(3 + 1.75 * len(rows), 4.4))
    for ax, key, title in [
        (axes[0], "rps_vs_glibc", "requests/s vs glibc (higher is better)"),
        (axes[1], "peak_vs_glibc", "peak RSS vs glibc (lower is better)"),
    ]:
        ys = [d["results"][r][key] for r in rows]
        bars = ax.bar(range(len(rows)), ys, color=COLORS[: len(rows)] + COLORS[-1:] * max(0, len(rows) - len(COLORS)))
        for b, y in zip(bars, ys):
            ax.annotate(f"{y:.2f}x", (b.get_x() + b.get_width() / 2, y), ha="center", va="bottom", fontsize=8)
        ax.axhline(1.0, color="black", linewidth=0.8)
        if key == "peak_vs_glibc":
            ax.axhline(1.5, color="grey", linewidth=0.8, linestyle="--")
        ax.set_xticks(range(len(rows)))
        ax.set_xticklabels(names, fontsize=7, rotation=20, ha="right")
        ax.set_title(title, fontsize=10)
    fig.suptitle(f"example service under {d['command']} ({d['machine']})", fontsize=9)
    fig.tight_layout()
    fig.savefig(out, dpi=110)


if __name__ == "__main__":
    main()
