#!/usr/bin/env python3
"""Chart of bench/results/failover.json: per heartbeat setting, box plots of the time until the
VIP is on the successor and of the observer's ping outage, per case, systems side by side.

Usage: python3 bench/plot.py bench/results/failover.json bench/results/failover.png
(bench/failover.ts calls it with Debian's /usr/bin/python3, where python3-matplotlib is.)
"""
import json
import sys

import matplotlib

matplotlib.use("Agg")  # no display: write the file only
import matplotlib.pyplot as plt  # noqa: E402

SYSTEMS = [("vippy", "tab:green"), ("keepalived", "tab:blue"), ("ucarp", "tab:orange")]
CASES = ["crash", "freeze", "graceful", "linkdown", "drain"]
METRICS = [("vipMs", "VIP on successor (ms)"), ("outageMs", "observer ping outage (ms)")]
SETTINGS = [("tuned", "fast heartbeats (vippy 0.1/0.3, keepalived 0.1 v3, ucarp -r 1)"),
            ("default", "defaults (vippy 1/3, keepalived 1, ucarp -r 3)")]


def main(source, target):
    with open(source) as f:
        cells = json.load(f)["failover"]["cells"]
    fig, axes = plt.subplots(len(SETTINGS), len(METRICS), figsize=(13, 8.5), squeeze=False)
    for row, (setting, title) in enumerate(SETTINGS):
        for col, (metric, label) in enumerate(METRICS):
            ax = axes[row][col]
            width = 0.8 / len(SYSTEMS)
            for k, (system, colour) in enumerate(SYSTEMS):
                for i, case in enumerate(CASES):
                    cell = next((c for c in cells if c["system"] == system and c["setting"] == setting and c["case"] == case), None)
                    samples = [r[metric] for r in cell["runs"] if r[metric] is not None] if cell else []
                    if not samples:
                        continue
                    ax.boxplot([samples], positions=[i + (k - 1) * width], widths=width * 0.9, patch_artist=True,
                               boxprops={"facecolor": colour, "alpha": 0.6}, medianprops={"color": "black"},
                               flierprops={"markersize": 3}, whis=(5, 95))
            ax.set_yscale("log")
            ax.set_xticks(range(len(CASES)), CASES)
            ax.set_ylabel(label)
            ax.set_title(title, fontsize=9)
            ax.grid(axis="y", which="both", alpha=0.3)
    handles = [plt.Rectangle((0, 0), 1, 1, color=c, alpha=0.6) for _, c in SYSTEMS]
    fig.legend(handles, [s for s, _ in SYSTEMS], loc="lower center", ncol=len(SYSTEMS))
    fig.suptitle("Fail-over latency (whiskers p5-p95), one fresh namespace segment per run", y=0.995, fontsize=11)
    fig.tight_layout(rect=(0, 0.04, 1, 0.97))
    fig.savefig(target, dpi=110)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: plot.py RESULTS.json CHART.png")
    main(sys.argv[1], sys.argv[2])
