#!/usr/bin/env python3
"""Summarises Benchmarks/compare/run.sh's runs as Markdown: medians per version, after / before."""
import csv
import datetime
import glob
import os
import platform
import re
import statistics
import sys

runs, before, after, rounds, bench_rounds, grid_rounds = sys.argv[1:7]
LABELS = ("before", "after")


def median(values):
    return statistics.median(values) if values else None


def fmt(value, digits=1):
    return "—" if value is None else f"{value:.{digits}f}"


def ratio(a, b):
    return "—" if a is None or b is None or b == 0 else f"{a / b:.3f}"


def files(part, label, suffix):
    return sorted(glob.glob(os.path.join(runs, f"{part}-{label}-*{suffix}")))


def cpu_model():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


print("# Before and after, on the same machine, interleaved")
print()
print(f"Written by `Benchmarks/compare/run.sh {before}` on {datetime.date.today().isoformat()}: "
      f"before = commit `{before}`, after = commit `{after}`; {os.cpu_count()} CPUs ({cpu_model()}). "
      "Each round runs both versions back to back, alternating which goes first; the figures are "
      "medians over the rounds. The machine is shared: read the ratios, not the absolute times.")
print()

# The default local cluster.
cluster = {label: {"job": [], "schedules": {}} for label in LABELS}
for label in LABELS:
    for path in files("cluster", label, ".txt"):
        text = open(path).read()
        found = re.search(r"job \S+ finished: (\d+) steps in ([0-9.]+) s", text)
        if found:
            cluster[label]["job"].append(float(found.group(2)))
        table = re.search(r"#schedule.*?\n(.*?)\n# target", text, re.S)
        for row in (table.group(1).splitlines() if table else []):
            fields = row.split()
            if len(fields) >= 5:
                steps, wall = int(fields[1]), float(fields[3])
                entry = cluster[label]["schedules"].setdefault(fields[0], {"ms": [], "loss": []})
                entry["ms"].append(wall / steps * 1e3)
                entry["loss"].append(float(fields[2]))
if any(cluster[label]["job"] for label in LABELS):
    print(f"## The default local cluster ({rounds} rounds)")
    print()
    print("Command: `Deploy/local-cluster.sh` (the default topology and job: 3 regions × 2 hosts × 2 devices, "
          "DDP then DiLoCo). Lower is better.")
    print()
    print("| figure | before | after | after ÷ before |")
    print("| --- | --- | --- | --- |")
    b, a = median(cluster["before"]["job"]), median(cluster["after"]["job"])
    print(f"| job wall time (s) | {fmt(b)} | {fmt(a)} | {ratio(a, b)} |")
    for name in cluster["after"]["schedules"]:
        bs = cluster["before"]["schedules"].get(name, {"ms": [], "loss": []})
        as_ = cluster["after"]["schedules"][name]
        print(f"| {name}: ms per step | {fmt(median(bs['ms']))} | {fmt(median(as_['ms']))} | "
              f"{ratio(median(as_['ms']), median(bs['ms']))} |")
        print(f"| {name}: final loss | {fmt(median(bs['loss']), 4)} | {fmt(median(as_['loss']), 4)} | |")
    print()

# straits bench allreduce.
bench = {label: {} for label in LABELS}
row = re.compile(r"^\s*(\d+)\s+\d+\s+float\s+sum\s+([0-9.]+)\s+([0-9.]+)\s+([0-9.]+)\s+(\d+)")
for label in LABELS:
    for path in files("bench", label, ".txt"):
        for line in open(path):
            found = row.match(line)
            if found:
                bench[label].setdefault(int(found.group(1)), []).append(float(found.group(2)))
if any(bench[label] for label in LABELS):
    print(f"## `straits bench allreduce` ({bench_rounds} rounds)")
    print()
    print("Command: `straits bench allreduce -b 64K -e 64M -f 4 --ranks 2` (2 worker processes over TCP; time is the "
          "median over 20 iterations of the slowest rank's time). Lower is better.")
    print()
    print("| size | before time (µs) | after time (µs) | after ÷ before |")
    print("| --- | --- | --- | --- |")
    for size in sorted(set(bench["before"]) | set(bench["after"])):
        b, a = median(bench["before"].get(size, [])), median(bench["after"].get(size, []))
        print(f"| {size} | {fmt(b)} | {fmt(a)} | {ratio(a, b)} |")
    print()

# A quarter of the fidelity grid.
grid = {label: [] for label in LABELS}
for label in LABELS:
    for path in sorted(glob.glob(os.path.join(runs, f"grid-{label}-*", "sweep.csv"))):
        grid[label].extend(csv.DictReader(open(path)))
if any(grid[label] for label in LABELS):
    print(f"## A quarter of the fidelity grid ({grid_rounds} round{'s' if grid_rounds != '1' else ''})")
    print()
    print("Command: `straits sweep --regions 3 --hosts 2 --bandwidth 200Mbps,2Gbps --latency 1ms,20ms --algo ring,hier "
          "--sizes 1M,8M,64M --iters 5 --warmup 1`. Within ±10%: the measured time against the model's; link-bound rows "
          "are those whose busiest link's time is at least 90% of the model's, and they should keep it at least 90% busy.")
    print()

    def key(r):
        return (float(r["bandwidth_bps"]), float(r["latency_s"]), r["algo"], int(r["size_bytes"]))

    def summary(rows):
        ok = [r for r in rows if r["measured_s"] and r["ratio"]]
        within = sum(1 for r in ok if abs(float(r["ratio"]) - 1) <= 0.10)
        bound = [r for r in ok if r["link_bound"] == "true"]
        busy = sum(1 for r in bound if float(r["link_utilisation"]) >= 0.90)
        return within, len(ok), busy, len(bound)

    for label in LABELS:
        within, total, busy, bound = summary(grid[label])
        print(f"- {label}: {within} of {total} rows within ±10% of the model; link-bound rows at ≥ 90%: {busy} of {bound}")
    print()
    print("| bandwidth | latency | algo | size | before (ms) | after (ms) | after ÷ before | model (ms) |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    measured = {label: {} for label in LABELS}
    model = {}
    for label in LABELS:
        for r in grid[label]:
            if r["measured_s"]:
                measured[label].setdefault(key(r), []).append(float(r["measured_s"]) * 1e3)
                model[key(r)] = float(r["predicted_s"]) * 1e3
    ratios = []
    for k in sorted(set(measured["before"]) | set(measured["after"])):
        b, a = median(measured["before"].get(k, [])), median(measured["after"].get(k, []))
        if a is not None and b:
            ratios.append(a / b)
        bw, lat, algo, size = k
        print(f"| {bw / 1e6:g} Mbps | {lat * 1e3:g} ms | {algo} | {size >> 20} MiB | {fmt(b, 2)} | {fmt(a, 2)} | "
              f"{ratio(a, b)} | {fmt(model.get(k), 2)} |")
    print()
    if ratios:
        print(f"Median of after ÷ before over the rows: {statistics.median(ratios):.3f} "
              f"(lowest {min(ratios):.3f}, highest {max(ratios):.3f}).")
        print()
