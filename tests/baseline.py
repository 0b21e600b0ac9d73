#!/usr/bin/python3
"""The upstream suites on pristine upstream: record them, compare against them.

  baseline.py record DIR OUT.tsv --upstream TEXT --seconds N --suite SUITE...
      Write OUT.tsv from the JUnit files DIR/SUITE.xml of a baseline run
      (make test-baseline): a header saying what ran on what (--upstream:
      the upstream tarballs), then one line per test,
      "SUITE<TAB>STATUS<TAB>NAME", sorted by suite and name.  Refuses an
      incomplete run (a suite without results, killed at its timeout, or
      failed as a whole: its tests would bind nothing), and a suite with
      two results under one name.
  baseline.py compare BASELINE.tsv DIR OUT.xml --upstream TEXT
                      [--suite SUITE[=BASELINE_SUITE]]...
      Compare the series' results DIR/SUITE.xml (make test) with the
      baseline's BASELINE_SUITE (default: the same name), suite by suite
      (the SUITEs given, else every suite of the baseline that DIR has).  A
      test that passed on the baseline and failed, skipped or is missing
      with the series is a regression.  Prints, per suite, how many of the
      baseline's passes still pass, the regressions, and what only one side
      has; writes one JUnit case per suite to OUT.xml ("baseline" in make
      test's summary).  Fails if a suite regressed, if a SUITE given has no
      results, or if the baseline was recorded on other upstream tarballs
      than --upstream names (stale: record it again, make test-baseline).

Exit status: 0 on success, 1 on a regression or a stale baseline, 2 on
bad usage or unreadable input.
"""
import argparse
import os
import sys
import time
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import report  # noqa: E402  (tests/report.py: read_junit, write_junit)

HEADER = "# odp-p2p baseline:"
STATUSES = ("passed", "failed", "skipped")


# What pyverbs_run.py and report.py status write for a run that did not
# complete: its tests bind nothing, so such a run is no baseline.
INCOMPLETE = ("the suite was terminated (timeout)", "it did not run")


class Refused(Exception):
    """Input that cannot be used: exit status 2."""


def read_suite(path):
    """{name: status} of one JUnit file; Refused if it is unreadable, or
    names one test twice with different outcomes."""
    try:
        cases = report.read_junit(path)
    except (OSError, ET.ParseError) as e:
        raise Refused(f"{path}: {e}")
    results = {}
    for name, status, detail in cases:
        if name in results and results[name] != status:
            raise Refused(f"{path}: '{name}' is both {results[name]} and {status}")
        results[name] = status
    return results, cases


def record(args):
    results = {}
    for suite in args.suites:
        path = os.path.join(args.dir, f"{suite}.xml")
        if not os.path.exists(path):
            raise Refused(f"{suite}: no results ({path}): the run is incomplete")
        results[suite], cases = read_suite(path)
        if not cases:
            raise Refused(f"{suite}: no test in {path}")
        for name, status, detail in cases:
            if name.endswith("(the suite itself)") or any(w in detail for w in INCOMPLETE):
                raise Refused(f"{suite}: the run is incomplete ({name}: {detail.strip()})")
            if "\t" in name or "\n" in name:
                raise Refused(f"{suite}: a test name with a tab or newline: {name!r}")
    result_lines = [f"{suite}\t{status}\t{name}" for suite in sorted(results)
                    for name, status in sorted(results[suite].items())]
    lines = [
        f"{HEADER} {args.upstream}",
        "# The upstream suites on pristine upstream, as `make test-baseline` ran them",
        f"# ({time.strftime('%Y-%m-%d', time.gmtime())}, {args.seconds} s in the VM);"
        " `make test` fails on a test passed here",
        "# that fails, skips or is missing with the series.  Do not edit: record again.",
    ]
    for suite in sorted(results):
        c = {s: sum(1 for v in results[suite].values() if v == s) for s in STATUSES}
        lines.append(f"# {report.line(suite, c)}")
    lines.append("# suite\tstatus\ttest")
    previous = None
    if os.path.exists(args.out):
        with open(args.out) as f:
            previous = [x for x in f.read().splitlines() if x and not x.startswith("#")]
    tmp = args.out + ".tmp"
    with open(tmp, "w") as f:
        f.write("\n".join(lines + result_lines) + "\n")
    os.replace(tmp, args.out)
    for line in lines[4:-1]:
        print(line[2:])
    print(f"recorded {len(result_lines)} results in {args.out}"
          + ("" if previous is None else
             " (the same results as before)" if previous == result_lines else
             " (results differ from the previous recording: review the diff)"))
    return 0


def read_baseline(path):
    """(upstream text, {suite: {name: status}}) of a recorded baseline."""
    upstream = None
    suites = {}
    with open(path) as f:
        for n, text in enumerate(f, 1):
            text = text.rstrip("\n")
            if text.startswith(HEADER):
                upstream = text[len(HEADER):].strip()
            if not text or text.startswith("#"):
                continue
            fields = text.split("\t")
            if len(fields) != 3 or fields[1] not in STATUSES:
                raise ValueError(f"{path}:{n}: not 'SUITE<TAB>STATUS<TAB>NAME': {text!r}")
            suites.setdefault(fields[0], {})[fields[2]] = fields[1]
    if upstream is None:
        raise ValueError(f"{path}: no '{HEADER}' line")
    return upstream, suites


def compare_suite(suite, base, series, most=20):
    """Prints the comparison of one suite; returns its regressions as
    (name, 'passed on the baseline, STATUS with the series') pairs."""
    passes = [n for n, s in base.items() if s == "passed"]
    regressions = [(n, series.get(n, "missing")) for n in sorted(passes)
                   if series.get(n) != "passed"]
    fixed = sorted(n for n, s in base.items() if s != "passed" and series.get(n) == "passed")
    new = [n for n in series if n not in base]
    gone = sorted(n for n, s in base.items() if s != "passed" and n not in series)
    print(f"  {suite}: {len(passes) - len(regressions)} of the baseline's {len(passes)} passes"
          f" pass with the series; {len(regressions)} regressed;"
          f" {len(new)} tests only the series has ({sum(1 for n in new if series[n] == 'passed')}"
          f" passed)")
    for name, status in regressions[:most]:
        print(f"    REGRESSION {name}: passed on the baseline, {status} with the series")
    if len(regressions) > most:
        print(f"    ... and {len(regressions) - most} more regressions")
    for name in fixed:
        print(f"    fixed: {name} ({base[name]} on the baseline, passed with the series)")
    for name in gone:
        print(f"    missing with the series, {base[name]} on the baseline: {name}")
    return [(n, f"passed on the baseline, {s} with the series") for n, s in regressions]


def compare(args):
    upstream, baseline = read_baseline(args.baseline)
    print(f"baseline: {os.path.relpath(args.baseline)}")
    print(f"  recorded on {upstream}")
    if upstream != args.upstream:
        print(f"  STALE: this build is on {args.upstream};"
              " run 'make test-baseline' and commit the new file")
        report.write_junit("baseline", [("baseline (recorded upstream tarballs)", "failed",
                                         f"recorded on {upstream}, not {args.upstream}")],
                           args.out)
        return 1
    pairs = [tuple(s.split("=", 1)) if "=" in s else (s, s) for s in args.suites] or \
        [(s, s) for s in sorted(baseline) if os.path.exists(os.path.join(args.dir, f"{s}.xml"))]
    cases = []
    for suite, base_suite in pairs:
        path = os.path.join(args.dir, f"{suite}.xml")
        label = suite if suite == base_suite else f"{suite} (against {base_suite})"
        if base_suite not in baseline:
            raise Refused(f"{base_suite}: not a suite of the baseline")
        if not os.path.exists(path):
            print(f"  {label}: no results with the series ({path})")
            cases.append((f"{label}: baseline passes still pass", "failed",
                          f"no results in {path}"))
            continue
        series, _ = read_suite(path)
        regressions = compare_suite(label, baseline[base_suite], series)
        detail = "\n".join(f"{n}: {why}" for n, why in regressions)
        cases.append((f"{label}: baseline passes still pass",
                      "failed" if regressions else "passed", detail))
    if not cases:
        print("  no suite of the baseline ran: nothing to compare")
        return 0
    report.write_junit("baseline", cases, args.out)
    bad = [name.split(":")[0] for name, status, _ in cases if status == "failed"]
    print("  " + ("REGRESSED: " + ", ".join(bad) if bad else "no regression against the baseline"))
    return 1 if bad else 0


def main(argv):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("record")
    r.add_argument("dir")
    r.add_argument("out")
    r.add_argument("--upstream", required=True)
    r.add_argument("--seconds", type=int, required=True)
    r.add_argument("--suite", dest="suites", action="append", required=True)
    c = sub.add_parser("compare")
    c.add_argument("baseline")
    c.add_argument("dir")
    c.add_argument("out")
    c.add_argument("--upstream", required=True)
    c.add_argument("--suite", dest="suites", action="append", default=[])
    args = p.parse_args(argv[1:])
    try:
        return record(args) if args.cmd == "record" else compare(args)
    except (OSError, ValueError, Refused) as e:
        print(f"baseline.py: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
