#!/usr/bin/env python3
"""bench_report_test.py BENCH_REPORT: the report of `make run` from made-up
runs, on the host.  Prints TAP; exits 1 if a check failed.

Each run directory is written as perftest and perftest-bench.sh write it
(client.json and server.json with an "HMM_memory" member for the device
cases, `rdma -j statistic` output before and after); the checks read what
bench_report.py makes of them: the progress line, a failed run's status,
the ratios in the table, JSON and CSV, the migration totals, the plot.
"""

import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile

TOOL = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "bench_report.py")
checks = []


def check(name, ok, diag=""):
    checks.append((name, bool(ok), diag))


def write_run(root, case, test, size, value, migrated=0, aliases=0, faults=0, rc=(0, 0),
              hmm=True, results=True):
    d = os.path.join(root, "%s-%s-%d" % (case, test, size))
    os.makedirs(d)
    lat = test.endswith("_lat")
    res = ({"MsgSize": size, "n_iterations": 10, "t_min": 1.0, "t_max": 9.0,
            "t_typical": value, "t_avg": value + 0.5} if lat else
           {"MsgSize": size, "n_iterations": 10, "BW_peak": value + 1, "BW_average": value,
            "MsgRate": value / size})
    for side, share in (("client", migrated - migrated // 2), ("server", migrated // 2)):
        doc = {"test_info": {"test": test}}
        if results:
            doc["results"] = res
        if hmm:
            doc["HMM_memory"] = {
                "device": "test_hmm:0", "pages": 16,
                "pages_at_exit": {"none": 0, "host": 0, "device": 16},
                "exporter_counters": {"migrated_to_host": share, "alias_offered": 16,
                                      "alias_refused": 0},
                "odp_counters": {}, "remigrate_every": 0, "remigrations": 3,
                "remigrations_short": 0}
        with open(os.path.join(d, side + ".json"), "w") as f:
            json.dump(doc, f)
    for name, extra in (("counters.before", 0), ("counters.after", 1)):
        with open(os.path.join(d, name), "w") as f:
            for dev in ("rxe_a", "rxe_b"):
                port = {"ifname": dev, "port": 1, "sent_pkts": 5,
                        "odp_page_faults": 100 + extra * (faults - faults // 2 if dev == "rxe_a" else faults // 2),
                        "odp_alias_pages": 7 + extra * (aliases if dev == "rxe_a" else 0),
                        "odp_alias_fallbacks": 0, "odp_page_invalidations": 1}
                f.write(json.dumps([port]) + "\n")
    return d


def record(jsonl, d, case, test, size, rc=(0, 0)):
    p = subprocess.run([sys.executable, TOOL, "record", jsonl, d, "--case", case, "--test", test,
                        "--size", str(size), "--iters", "10", "--rc", str(rc[0]), str(rc[1]),
                        "--ms", "1500", "--progress", "1/9"],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return p.returncode, p.stdout


def main():
    tmp = tempfile.mkdtemp()
    try:
        jsonl = os.path.join(tmp, "runs.jsonl")
        # bandwidth at 65536: b = 20, c = 19 (c/b 0.95), d = 10 (c/d 1.9);
        # ec = 18, ed = 6 (ec/ed 3); latency: b 4.0 us, c 4.4 (c/b 1.1).
        runs = [("a", "ib_write_bw", 65536, 21.0, 0, 0, 0, False),
                ("b", "ib_write_bw", 65536, 20.0, 0, 0, 16, False),
                ("c", "ib_write_bw", 65536, 19.0, 0, 32, 32, True),
                ("d", "ib_write_bw", 65536, 10.0, 33, 0, 33, True),
                ("ec", "ib_write_bw", 65536, 18.0, 0, 32, 32, True),
                ("ed", "ib_write_bw", 65536, 6.0, 500, 0, 400, True),
                ("b", "ib_write_lat", 4096, 4.0, 0, 0, 2, False),
                ("c", "ib_write_lat", 4096, 4.4, 2, 2, 2, True)]
        for case, test, size, value, mig, al, faults, hmm in runs:
            d = write_run(tmp, case, test, size, value, mig, al, faults, hmm=hmm)
            rc, out = record(jsonl, d, case, test, size)
            if case == "ed":
                check("record prints one progress line with the migrations",
                      rc == 0 and out.startswith("[1/9] (ed) ib_write_bw") and
                      "500 pages migrated" in out and "6.0 MiB/s" in out, out)
        # A failed run and a device run without its HMM report: recorded, exit 1
        d = write_run(tmp, "cR", "ib_write_bw", 65536, 1.0, rc=(1, 0))
        rc, out = record(jsonl, d, "cR", "ib_write_bw", 65536, rc=(1, 0))
        check("a failed run exits 1 and says why", rc == 1 and "FAILED: exit status client 1" in out, out)
        d = write_run(tmp, "cR", "ib_write_bw", 4096, 1.0, hmm=False)
        rc, out = record(jsonl, d, "cR", "ib_write_bw", 4096)
        check("a device run without an HMM report fails", rc == 1 and "no HMM report" in out, out)

        prefix = os.path.join(tmp, "perftest")
        p = subprocess.run([sys.executable, TOOL, "report", jsonl, "--out", prefix, "--title", "t"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        check("report exits 1 when a run failed", p.returncode == 1, p.stdout)
        table = open(prefix + "_table.txt").read() if os.path.exists(prefix + "_table.txt") else ""
        check("the table is printed and written", table and table in p.stdout, p.stdout)
        row = next((l for l in table.splitlines() if l.startswith("ib_write_bw") and " 65536 " in l), "")
        check("bandwidth row: c/b 0.95, c/d 1.90, ec/ed 3.00",
              row.split()[-3:] == ["0.95", "1.90", "3.00"], row)
        lat = next((l for l in table.splitlines() if l.startswith("ib_write_lat")), "")
        check("latency row: c/b 1.10", lat.split()[-3:-2] == ["1.10"], lat)
        doc = json.load(open(prefix + ".json"))
        ratios = {(r["test"], r["size"], r["ratio"]): r["value"] for r in doc["ratios"]}
        check("JSON ratios", abs(ratios[("ib_write_bw", 65536, "c/b")] - 0.95) < 1e-9 and
              abs(ratios[("ib_write_bw", 65536, "ec/ed")] - 3.0) < 1e-9, json.dumps(doc["ratios"]))
        pc = doc["per_case"]
        check("migrations per case (both sides summed): c 2, d 33, ed 500",
              pc["c"]["migrated"] == 2 and pc["d"]["migrated"] == 33 and pc["ed"]["migrated"] == 500, pc)
        check("ODP counters per case, both ports: ed 400 faults, c 34 alias pages",
              pc["ed"]["odp_page_faults"] == 400 and pc["c"]["odp_alias_pages"] == 34, pc)
        check("failed runs counted per case", pc["cR"]["failed"] == 2 and pc["cR"]["runs"] == 2, pc)
        rows = list(csv.DictReader(open(prefix + ".csv")))
        check("CSV: one row per run, the failure kept",
              len(rows) == len(runs) + 2 and sum(1 for r in rows if r["error"]) == 2, len(rows))
        if shutil.which("gnuplot"):
            png = prefix + ".png"
            check("PNG plot", os.path.exists(png) and open(png, "rb").read(8) == b"\x89PNG\r\n\x1a\n", png)
        else:
            check("PNG plot # SKIP no gnuplot", True)
    finally:
        shutil.rmtree(tmp)

    print("TAP version 13")
    print("1..%d" % len(checks))
    for i, (name, ok, diag) in enumerate(checks, 1):
        print("%s %d %s" % ("ok" if ok else "not ok", i, name))
        if not ok:
            for line in str(diag).splitlines() or [""]:
                print("# " + line)
    return 0 if all(ok for _, ok, _ in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
