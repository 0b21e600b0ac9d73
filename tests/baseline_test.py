#!/usr/bin/env python3
"""baseline_test.py [BASELINE_PY]: make test's baseline comparison
(tests/baseline.py) on made-up results, on the host.  Prints TAP; exits 1
if a check failed.

A baseline is recorded from JUnit files as report.py writes them (in no
particular order), and an incomplete run, a name given two outcomes or a
name with a tab is refused.  Series results are compared with it: a pass
that fails, skips or goes missing is a regression, whatever else changed;
a fixed test, a new test and a baseline failure that went missing are not;
a series suite can be compared with a baseline suite of another name; a
baseline recorded on other upstream tarballs is stale; a malformed
baseline or an unknown suite is refused.
"""

import os
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
TOOL = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "baseline.py")
sys.path.insert(0, HERE)
import report  # noqa: E402

UP = "linux 7.3.4, rdma-core 65.0"
checks = []


def check(name, ok, diag=""):
    checks.append((name, bool(ok), diag))


def run(*args):
    p = subprocess.run([sys.executable, TOOL, *args], capture_output=True, text=True)
    return p.returncode, p.stdout + p.stderr


def write(directory, suite, cases):
    os.makedirs(directory, exist_ok=True)
    report.write_junit(suite, [(n, s, "why" if s != "passed" else "") for n, s in cases],
                       os.path.join(directory, f"{suite}.xml"))


def junit_cases(path):
    return {tc.get("name"): ("failed" if tc.find("failure") is not None else "passed")
            for tc in ET.parse(path).getroot().iter("testcase")}


with tempfile.TemporaryDirectory() as tmp:
    base_dir = os.path.join(tmp, "base")
    # Names with spaces and a '#' (pyverbs ids and TAP names can hold them).
    write(base_dir, "hmm-tests", [("hmm.f", "passed"), ("hmm.b", "passed"), ("hmm.c", "skipped"),
                                  ("hmm.d", "failed"), ("hmm.e", "failed"), ("hmm.a", "passed")])
    write(base_dir, "pyverbs", [("x y # z", "passed"), ("tests.t.T.test_x", "passed")])
    tsv = os.path.join(tmp, "b.tsv")
    rec = ("--upstream", UP, "--seconds", "12", "--suite", "hmm-tests", "--suite", "pyverbs")
    rc, out = run("record", base_dir, tsv, *rec)
    check("record succeeds", rc == 0, out)
    text = open(tsv).read() if os.path.exists(tsv) else ""
    lines = [x for x in text.splitlines() if not x.startswith("#")]
    keys = [(x.split("\t")[0], x.split("\t")[-1]) for x in lines]
    check("record: one line per test, sorted", keys == sorted(keys) and len(lines) == 8, text)
    check("record: the header names the upstream versions",
          f"# odp-p2p baseline: {UP}" in text, text)
    check("record: per-suite counts", "hmm-tests: 3 passed, 2 failed, 1 skipped" in out, out)
    rc, out = run("record", base_dir, tsv, *rec)
    check("record again: the same results", rc == 0 and "the same results as before" in out, out)

    # Runs that are no baseline.
    for why, cases in (("a suite killed at its timeout",
                        [("t.a", "passed"), ("t.b", "failed")]),
                       ("a suite failed as a whole",
                        [("t.a", "passed"), ("pyverbs (the suite itself)", "failed")]),
                       ("a name with a tab", [("t.a", "passed"), ("t\tb", "passed")])):
        d = os.path.join(tmp, "refused-" + why.split()[-1])
        write(d, "hmm-tests", [("hmm.a", "passed")])
        report.write_junit("pyverbs", [(n, st, "the suite was terminated (timeout)"
                                        if "timeout" in why and st == "failed" else "x")
                                       for n, st in cases], os.path.join(d, "pyverbs.xml"))
        out_tsv = os.path.join(d, "b.tsv")
        rc, out = run("record", d, out_tsv, *rec)
        check(f"record refuses {why}", rc == 2 and not os.path.exists(out_tsv), out)
    d = os.path.join(tmp, "refused-missing")
    write(d, "hmm-tests", [("hmm.a", "passed")])
    rc, out = run("record", d, os.path.join(d, "b.tsv"), *rec)
    check("record refuses a run without one of its suites",
          rc == 2 and "pyverbs: no results" in out, out)
    d = os.path.join(tmp, "refused-twice")
    write(d, "hmm-tests", [("hmm.a", "passed")])
    write(d, "pyverbs", [("t.a", "passed")])
    with open(os.path.join(d, "pyverbs.xml")) as f:
        doubled = f.read().replace("</testsuite>", '<testcase classname="pyverbs" name="t.a">'
                                   '<skipped message="x" /></testcase></testsuite>')
    with open(os.path.join(d, "pyverbs.xml"), "w") as f:
        f.write(doubled)
    rc, out = run("record", d, os.path.join(d, "b.tsv"), *rec)
    check("record refuses one name with two outcomes", rc == 2 and "both passed and skipped" in out,
          out)

    # Same results: no regression; passes with rc 0.
    out_xml = os.path.join(tmp, "cmp.xml")
    rc, out = run("compare", tsv, base_dir, out_xml, "--upstream", UP)
    check("identical results: no regression", rc == 0 and "no regression" in out, out)
    check("identical results: one passed case per suite",
          junit_cases(out_xml) == {"hmm-tests: baseline passes still pass": "passed",
                                   "pyverbs: baseline passes still pass": "passed"}, out)

    # Each way of losing a pass regresses; fixes, new tests, a failure that
    # went missing do not.
    for why, series in (("fails", [("hmm.b", "failed")]),
                        ("skips", [("hmm.b", "skipped")]),
                        ("is missing", [])):
        ser = os.path.join(tmp, "ser-" + why.replace(" ", "-"))
        write(ser, "hmm-tests", [("hmm.a", "passed"), ("hmm.c", "passed"), ("hmm.f", "passed"),
                                 ("hmm.new", "failed")] + series)
        write(ser, "pyverbs", [("tests.t.T.test_x", "passed"), ("x y # z", "passed")])
        rc, out = run("compare", tsv, ser, out_xml, "--upstream", UP)
        status = series[0][1] if series else "missing"
        check(f"a baseline pass that {why} with the series is a regression",
              rc == 1 and f"REGRESSION hmm.b: passed on the baseline, {status} with the series" in out
              and out.count("REGRESSION") == 1, out)
        cases = junit_cases(out_xml)
        check(f"{why}: the JUnit case of hmm-tests fails, pyverbs' passes",
              cases.get("hmm-tests: baseline passes still pass") == "failed"
              and cases.get("pyverbs: baseline passes still pass") == "passed", str(cases))
        check(f"{why}: the fixed test, the new test and the missing failure are reported",
              "fixed: hmm.c" in out and "1 tests only the series has (0 passed)" in out
              and "missing with the series, failed on the baseline: hmm.d" in out, out)

    # Only the suites that ran are compared; naming a suite the series
    # lacks fails it.
    part = os.path.join(tmp, "part")
    write(part, "pyverbs", [("tests.t.T.test_x", "passed"), ("x y # z", "passed")])
    write(part, "functional", [("f", "passed")])
    rc, out = run("compare", tsv, part, out_xml, "--upstream", UP)
    check("a partial run compares what ran",
          rc == 0 and "pyverbs:" in out and "hmm-tests:" not in out, out)
    rc, out = run("compare", tsv, part, out_xml, "--upstream", UP, "--suite", "hmm-tests")
    check("a named suite without results fails", rc == 1 and "no results" in out, out)
    rc, out = run("compare", tsv, part, out_xml, "--upstream", UP, "--suite", "kunit")
    check("a suite the baseline lacks is refused", rc == 2 and "not a suite of the baseline" in out,
          out)
    # hmm-tests-upstream (the pristine source on the series kernel) against
    # the baseline's hmm-tests: its own name in the report.
    write(part, "hmm-tests-upstream", [("hmm.a", "passed"), ("hmm.b", "passed"),
                                       ("hmm.f", "skipped")])
    rc, out = run("compare", tsv, part, out_xml, "--upstream", UP,
                  "--suite", "hmm-tests-upstream=hmm-tests", "--suite", "pyverbs")
    check("a suite compared with a baseline suite of another name",
          rc == 1 and "REGRESSION hmm.f: passed on the baseline, skipped with the series" in out
          and junit_cases(out_xml) == {
              "hmm-tests-upstream (against hmm-tests): baseline passes still pass": "failed",
              "pyverbs: baseline passes still pass": "passed"}, out)
    empty = os.path.join(tmp, "empty")
    os.makedirs(empty)
    rc, out = run("compare", tsv, empty, out_xml, "--upstream", UP)
    check("no suite of the baseline ran: nothing compared, no failure",
          rc == 0 and "nothing to compare" in out, out)

    # Other upstream versions: stale, whatever the results.
    rc, out = run("compare", tsv, base_dir, out_xml, "--upstream", "linux 7.3.5, rdma-core 65.0")
    check("a baseline of other upstream versions is stale",
          rc == 1 and "STALE" in out and "make test-baseline" in out, out)

    # A malformed line is refused, not ignored.
    bad = os.path.join(tmp, "bad.tsv")
    with open(bad, "w") as f:
        f.write(text + "hmm-tests\tpassd\thmm.z\n")
    rc, out = run("compare", bad, base_dir, out_xml, "--upstream", UP)
    check("a malformed baseline is refused", rc == 2 and "bad.tsv" in out, out)
    rc, out = run("record", empty, os.path.join(tmp, "none.tsv"), *rec)
    check("recording no results fails", rc == 2 and not os.path.exists(
        os.path.join(tmp, "none.tsv")), out)

print(f"1..{len(checks)}")
for i, (name, ok, diag) in enumerate(checks, 1):
    print(f"{'ok' if ok else 'not ok'} {i} {name}")
    if not ok:
        for d in diag.splitlines()[-20:]:
            print(f"# {d}")
sys.exit(0 if all(ok for _, ok, _ in checks) else 1)
