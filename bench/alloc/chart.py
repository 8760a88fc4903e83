#!/usr/bin/env python3
"""Draws docs/benchmarks-libc.png from the JSON that libc_bench.py writes
(bench/alloc/results.json and bench/strings/results.json): throughput
ratio against glibc per thread count, one bar per build.

usage: chart.py OUT.png alloc.json [strings.json]
"""
import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

VARIANTS = ["glibc", "musl", "musl+mimalloc", "muslrust-chef"]
COLORS = ["#4c72b0", "#c44e52", "#dd8452", "#55a868"]


def main():
    out, files = sys.argv[1], sys.argv[2:]
    data = [json.load(open(f)) for f in files]
    fig, axes = plt.subplots(1, len(data), figsize=(6 * len(data), 4), squeeze=False)
    for ax, d in zip(axes[0], data):
        threads = list(d["results"].keys())
        width = 0.8 / len(VARIANTS)
        for i, v in enumerate(VARIANTS):
            ys = [d["results"][t]["ratio_vs_glibc"][v] for t in threads]
            xs = [j + (i - 1.5) * width for j in range(len(threads))]
            bars = ax.bar(xs, ys, width, label=v, color=COLORS[i])
            for x, y in zip(xs, ys):
                ax.text(x, y + 0.02, f"{y:.2f}", ha="center", va="bottom", fontsize=7)
        ax.axhline(1.0, color="black", linewidth=0.8, linestyle="--")
        ax.set_xticks(range(len(threads)))
        ax.set_xticklabels([f"{t} thr" for t in threads])
        ax.set_ylabel("throughput vs glibc (higher is better)")
        ax.set_title(f"{d['bench']} benchmark (median of {d['runs']})")
        ax.legend(fontsize=8)
    fig.suptitle(data[0]["machine"], fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=110)


if __name__ == "__main__":
    main()
