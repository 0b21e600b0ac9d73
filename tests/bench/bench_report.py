#!/usr/bin/env python3
"""bench_report.py: the records and the report of perftest-bench.sh.

  bench_report.py record JSONL DIR --case C --test T --size S --iters N
                  --rc CLIENT SERVER --ms MS --progress I/N
      reads one run's outputs in DIR (client.json, server.json,
      counters.before, counters.after), appends one record to JSONL and
      prints one line of progress; exits 1 if the run failed.

  bench_report.py report JSONL --out PREFIX [--title TITLE]
      writes PREFIX_table.txt (printed too), PREFIX.json, PREFIX.csv and,
      with gnuplot, PREFIX.png.

Bandwidths are perftest's BW average in MiB/s (its default unit), latencies
its typical (median) one-way latency in microseconds.  Migrations are the
pages test_hmm moved to system RAM during the run, both sides together (its
migrated_to_host counter, from perftest's HMM report); the ODP counters are
both ports' (rdma statistic), before and after the run.
"""

import argparse
import csv
import json
import os
import shutil
import subprocess
import sys

CASES = {
    "a": "host memory, pinned MR",
    "b": "host memory, ODP",
    "c": "device memory, ODP, aliases",
    "d": "device memory, ODP, switch off (migration)",
    "ec": "(c) with --hmm_remigrate=1",
    "ed": "(d) with --hmm_remigrate=1",
    "cR": "(c) over rdma_cm (-R)",
    "p": "BAR device memory, ODP, P2PDMA aliases (rxe: MMIO accessors)",
    "pd": "(p) with the switch off (migration)",
}
SHORT = {"a": "(a) host, pinned", "b": "(b) host, ODP", "c": "(c) device, aliases",
         "d": "(d) device, migration", "ec": "(ec) c + remigrate", "ed": "(ed) d + remigrate",
         "cR": "(cR) c over rdma_cm", "p": "(p) BAR, aliases", "pd": "(pd) BAR, migration"}
ORDER = ["a", "b", "c", "d", "ec", "ed", "cR", "p", "pd"]
# The ratios the issue asks for: numerator case, denominator case.
RATIOS = [("c", "b"), ("c", "d"), ("ec", "ed"), ("p", "pd")]
ODP_COUNTERS = ["odp_page_faults", "odp_page_invalidations", "odp_alias_pages",
                "odp_alias_fallbacks"]


def load_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def port_sum(path):
    """Both ports' odp_* counters, summed: {name: value}."""
    total = {}
    try:
        with open(path) as f:
            text = f.read()
    except OSError:
        return total
    dec = json.JSONDecoder()
    i = 0
    while i < len(text):
        if text[i].isspace():
            i += 1
            continue
        ports, i = dec.raw_decode(text, i)
        for port in ports:
            for k, v in port.items():
                if k.startswith("odp_") and isinstance(v, int):
                    total[k] = total.get(k, 0) + v
    return total


def hmm_side(doc):
    """(pages, pages on the device, migrated, offered, remigrations)."""
    h = (doc or {}).get("HMM_memory")
    if not h:
        return None
    e = h.get("exporter_counters", {})
    return (h.get("pages", 0), h.get("pages_at_exit", {}).get("device", 0),
            e.get("migrated_to_host", 0), e.get("alias_offered", 0),
            h.get("remigrations", 0))


def record(a):
    client = load_json(os.path.join(a.dir, "client.json"))
    server = load_json(os.path.join(a.dir, "server.json"))
    before = port_sum(os.path.join(a.dir, "counters.before"))
    after = port_sum(os.path.join(a.dir, "counters.after"))
    rec = {"case": a.case, "test": a.test, "size": a.size, "iters": a.iters,
           "rc_client": a.rc[0], "rc_server": a.rc[1], "seconds": a.ms / 1000.0,
           "dir": a.dir}
    res = (client or {}).get("results")
    if isinstance(res, list):
        res = res[-1] if res else None
    problem = None
    if a.rc != [0, 0]:
        problem = "exit status client %d, server %d" % tuple(a.rc)
    elif not res:
        problem = "no results in %s/client.json" % a.dir
    else:
        for k, name in (("BW_average", "bw_avg"), ("BW_peak", "bw_peak"),
                        ("MsgRate", "msg_rate"), ("t_typical", "lat_typical"),
                        ("t_avg", "lat_avg"), ("percentile_99", "lat_p99")):
            if k in res:
                rec[name] = res[k]
    sides = [hmm_side(client), hmm_side(server)]
    if all(sides):
        rec["pages"] = sides[0][0] + sides[1][0]
        rec["pages_on_device"] = sides[0][1] + sides[1][1]
        rec["migrated"] = sides[0][2] + sides[1][2]
        rec["alias_offered"] = sides[0][3] + sides[1][3]
        rec["remigrations"] = sides[0][4] + sides[1][4]
    elif a.case not in ("a", "b") and not problem:
        problem = "no HMM report from both sides"
    for k in ODP_COUNTERS:
        if k in before and k in after:
            rec[k] = after[k] - before[k]
    if problem:
        rec["error"] = problem
    with open(a.jsonl, "a") as f:
        f.write(json.dumps(rec) + "\n")
    value = ("%.1f MiB/s" % rec["bw_avg"] if "bw_avg" in rec else
             "%.2f us" % rec["lat_typical"] if "lat_typical" in rec else "-")
    mig = (", %d pages migrated, %d aliases" % (rec["migrated"], rec.get("odp_alias_pages", 0))
           if "migrated" in rec else "")
    print("[%s] (%s) %-12s %8d B x %4d: %s%s (%.1f s)%s" % (
        a.progress, a.case, a.test, a.size, a.iters, value, mig, rec["seconds"],
        "  FAILED: " + problem if problem else ""), flush=True)
    return 1 if problem else 0


def fmt(v, digits=1):
    return "-" if v is None else "%.*f" % (digits, v)


def ratio(x, y):
    return x / y if x is not None and y else None


def report(a):
    with open(a.jsonl) as f:
        runs = [json.loads(line) for line in f if line.strip()]
    cases = [c for c in ORDER if any(r["case"] == c for r in runs)]
    by = {(r["case"], r["test"], r["size"]): r for r in runs}
    points = sorted({(r["test"], r["size"]) for r in runs},
                    key=lambda p: (p[0].endswith("_lat"), p[0], p[1]))

    def metric(c, t, s):
        r = by.get((c, t, s), {})
        return r.get("lat_typical" if t.endswith("_lat") else "bw_avg")

    lines = [a.title or "perftest benchmark", ""]
    lines += ["  (%s) %s" % (c, CASES[c]) for c in cases] + [""]
    ratio_cols = [(x, y) for x, y in RATIOS if x in cases and y in cases]
    head = "%-13s %8s" % ("test", "bytes") + "".join("%9s" % ("(%s)" % c) for c in cases) + \
        "".join("%10s" % ("%s/%s" % (x, y)) for x, y in ratio_cols)
    ratios = []
    for kind, unit in (("bw", "bandwidth, MiB/s (average)"),
                       ("lat", "latency, us (typical; ratios: lower is better for the numerator)")):
        pts = [p for p in points if p[0].endswith("_lat") == (kind == "lat")]
        if not pts:
            continue
        lines += [unit, head]
        for t, s in pts:
            row = "%-13s %8d" % (t, s) + "".join("%9s" % fmt(metric(c, t, s), 1 if kind == "bw" else 2)
                                                for c in cases)
            for x, y in ratio_cols:
                q = ratio(metric(x, t, s), metric(y, t, s))
                row += "%10s" % fmt(q, 2)
                ratios.append({"test": t, "size": s, "ratio": "%s/%s" % (x, y), "value": q})
            lines.append(row)
        lines.append("")
    lines.append("pages migrated to system RAM (both sides; all runs of the case) and ODP faults:")
    lines.append("%-6s %10s %10s %12s %12s %10s %9s" % ("case", "migrated", "aliases", "faults",
                                                        "fallbacks", "remigr.", "runs"))
    per_case = {}
    for c in cases:
        rs = [r for r in runs if r["case"] == c]
        tot = {k: sum(r.get(k, 0) for r in rs) for k in
               ("migrated", "odp_alias_pages", "odp_page_faults", "odp_alias_fallbacks", "remigrations")}
        hmm = any("migrated" in r for r in rs)
        tot["runs"] = len(rs)
        tot["failed"] = sum(1 for r in rs if "error" in r)
        per_case[c] = tot
        lines.append("%-6s %10s %10d %12d %12d %10s %9s" % (
            "(%s)" % c, tot["migrated"] if hmm else "-", tot["odp_alias_pages"], tot["odp_page_faults"],
            tot["odp_alias_fallbacks"], tot["remigrations"] if hmm else "-",
            "%d%s" % (len(rs), " (%d failed)" % tot["failed"] if tot["failed"] else "")))
    lines.append("")
    lines.append("%d runs in %.0f s; JSON, CSV and plot: %s.{json,csv,png}" % (
        len(runs), sum(r["seconds"] for r in runs), a.out))
    text = "\n".join(lines) + "\n"
    with open(a.out + "_table.txt", "w") as f:
        f.write(text)
    with open(a.out + ".json", "w") as f:
        json.dump({"title": a.title, "cases": {c: CASES[c] for c in cases}, "runs": runs,
                   "ratios": ratios, "per_case": per_case}, f, indent=1)
    fields = ["case", "test", "size", "iters", "bw_avg", "bw_peak", "msg_rate", "lat_typical",
              "lat_avg", "lat_p99", "pages", "pages_on_device", "migrated", "alias_offered",
              "remigrations"] + ODP_COUNTERS + ["seconds", "error"]
    with open(a.out + ".csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore")
        w.writeheader()
        for r in runs:
            w.writerow(r)
    plot(a, runs, cases)
    sys.stdout.write(text)
    return 1 if any("error" in r for r in runs) else 0


def human(n):
    for unit, div in (("M", 1 << 20), ("K", 1 << 10)):
        if n >= div and n % div == 0:
            return "%d%s" % (n // div, unit)
    return str(n)


def plot(a, runs, cases):
    gnuplot = shutil.which("gnuplot")
    if not gnuplot:
        print("bench_report: no gnuplot: no %s.png" % a.out, file=sys.stderr)
        return
    tests = sorted({r["test"] for r in runs if "bw_avg" in r})
    data = a.out + ".dat"
    # One gnuplot index per (test, case): size and bandwidth.
    blocks = []
    with open(data, "w") as f:
        for t in tests:
            for c in cases:
                pts = sorted((r["size"], r["bw_avg"]) for r in runs
                             if r["test"] == t and r["case"] == c and "bw_avg" in r)
                f.write("# %s %s\n" % (t, c))
                for s, v in pts:
                    f.write("%d %f\n" % (s, v))
                f.write("\n\n")
                blocks.append((t, c))
    sizes = sorted({r["size"] for r in runs if "bw_avg" in r})
    tics = ", ".join("'%s' %d" % (human(s), s) for s in sizes)
    cmds = ["set terminal pngcairo noenhanced size %d,560 font 'sans,9'" % (600 * max(1, len(tests))),
            "set output '%s.png'" % a.out,
            "set logscale x 2", "set xtics (%s)" % tics, "set xlabel 'message size (bytes)'",
            "set ylabel 'MiB/s (perftest BW average)'", "set key outside bottom center horizontal maxcols 3",
            "set grid", "set yrange [0:*]",
            "set multiplot layout 1,%d title \"%s\" font ',10'" % (max(1, len(tests)),
                                                                   (a.title or "").replace('"', "'"))]
    for t in tests:
        parts = ["'%s' index %d using 1:2 with linespoints lw 2 title '%s'" % (
            data, i, SHORT[c]) for i, (bt, c) in enumerate(blocks) if bt == t]
        cmds += ["set title '%s'" % t, "plot " + ", ".join(parts)]
    cmds.append("unset multiplot")
    p = subprocess.run([gnuplot], input="\n".join(cmds) + "\n", text=True,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if p.returncode:
        print("bench_report: gnuplot failed:\n" + p.stdout, file=sys.stderr)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("record")
    r.add_argument("jsonl")
    r.add_argument("dir")
    r.add_argument("--case", required=True, choices=ORDER)
    r.add_argument("--test", required=True)
    r.add_argument("--size", required=True, type=int)
    r.add_argument("--iters", required=True, type=int)
    r.add_argument("--rc", required=True, type=int, nargs=2)
    r.add_argument("--ms", required=True, type=int)
    r.add_argument("--progress", default="")
    p = sub.add_parser("report")
    p.add_argument("jsonl")
    p.add_argument("--out", required=True)
    p.add_argument("--title", default="")
    a = ap.parse_args()
    return record(a) if a.cmd == "record" else report(a)


if __name__ == "__main__":
    sys.exit(main())
