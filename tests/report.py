#!/usr/bin/python3
"""Turn test-runner output into JUnit XML and pass/fail/skip counts.

  report.py tap SUITE LOG OUT.xml          kselftest/KTAP output ("ok N name # SKIP")
  report.py ctest SUITE JUNIT OUT.xml      ctest --output-junit: one case per
                                           KTAP result of each test program
  report.py status SUITE RC OUT.xml        a suite that exited RC without a failed
                                           case (a timeout, a crash) gets one
  report.py show SUITE IN.xml              the counts and failures of IN.xml
  report.py summary DIR                    add up DIR/*.xml, print the totals

Each conversion prints "SUITE: P passed, F failed, S skipped" and its
failures, and exits 1 if the log holds no test at all, so that an empty run
never looks like a pass.  pyverbs writes its XML itself (tests/vm/pyverbs_run.py)
with write_junit() from here.
"""
import glob
import os
import re
import sys
import xml.etree.ElementTree as ET

RESULT = re.compile(r"^\s*(not ok|ok)\s+\d+\s+(?:-\s+)?(.*?)\s*(#\s*(SKIP|XFAIL|TODO)\b.*)?$")
# kselftest_harness.h: "#  RUN           fixture.variant.test ...", and
# "#            OK  fixture.variant.test" (or FAIL), which the result repeats.
RUN = re.compile(r"^#\s+RUN\s+(\S+)")
HARNESS_VERDICT = re.compile(r"^#\s+(OK|FAIL)\s+\S+$")
# Nested KTAP (KUnit): "# Subtest: NAME" at the indentation of its results,
# closed by a result line NAME one level out that sums them up.
SUBTEST = re.compile(r"^(\s*)#\s+Subtest:\s+(\S+)")


def parse_tap(text):
    """(name, status, detail) per result; a failure's detail is what the
    test logged ("# ..." lines since it started), a skip's its reason."""
    cases = []
    logged = []
    subtests = []  # (indent, name) of the open "# Subtest:" blocks
    for line in text.splitlines():
        if RUN.match(line):
            logged = []
            continue
        sub = SUBTEST.match(line)
        if sub:
            indent = len(sub.group(1))
            subtests = [s for s in subtests if s[0] < indent] + [(indent, sub.group(2))]
            continue
        m = RESULT.match(line)
        if not m:
            if line.lstrip().startswith("#") and not HARNESS_VERDICT.match(line.strip()):
                logged.append(line.strip())
            continue
        name = m.group(2).strip() or "unnamed"
        indent = len(line) - len(line.lstrip())
        if subtests and subtests[-1][0] > indent and subtests[-1][1] == name:
            # The sum of a subtest's results, which are already counted.
            subtests.pop()
            logged = []
            continue
        name = ".".join([n for i, n in subtests if i <= indent] + [name])
        if m.group(4) in ("SKIP", "XFAIL"):
            cases.append((name, "skipped", m.group(3).lstrip("# ")))
        elif m.group(1) == "ok":
            cases.append((name, "passed", ""))
        else:
            cases.append((name, "failed", "\n".join(logged[-30:]) or line.strip()))
        logged = []
    # Nested kselftest output repeats each result in a summary line for the
    # whole binary; keep the innermost results only.
    return dedupe(cases)


def parse_ctest(path):
    """One case per KTAP result of each ctest test; a test that printed no
    KTAP (a benchmark's correctness run) is one case; a test that failed
    where none of its KTAP results did (a timeout, a crash) adds one."""
    cases = []
    for tc in ET.parse(path).getroot().iter("testcase"):
        prog = tc.get("name")
        out = tc.findtext("system-out") or ""
        failure = tc.find("failure")
        skipped = tc.find("skipped") is not None or tc.get("status") in ("notrun", "disabled")
        ktap = [(f"{prog}: {n}", s, d) for n, s, d in parse_tap(out)]
        cases += ktap
        if failure is not None and not any(s == "failed" for _, s, _ in ktap):
            tail = "\n".join(out.splitlines()[-30:])
            cases.append((prog, "failed", f"{failure.get('message', 'failed')}\n{tail}"))
        elif not ktap:
            cases.append((prog, "skipped" if skipped else "passed", ""))
    return cases


def dedupe(cases):
    seen = {}
    for c in cases:
        seen.setdefault(c[0], c)
    return list(seen.values())


def write_junit(suite, cases, out):
    counts = count(cases)
    ts = ET.Element("testsuite", name=suite, tests=str(len(cases)),
                    failures=str(counts["failed"]), skipped=str(counts["skipped"]))
    for name, status, detail in cases:
        tc = ET.SubElement(ts, "testcase", classname=suite, name=name)
        if status == "failed":
            ET.SubElement(tc, "failure", message=detail.splitlines()[-1][:500] if detail else "").text = detail
        elif status == "skipped":
            ET.SubElement(tc, "skipped", message=detail[:500])
    ET.ElementTree(ts).write(out, encoding="utf-8", xml_declaration=True)
    return counts


def read_junit(path):
    """(name, status, detail) of each case of a JUnit file we wrote."""
    cases = []
    for tc in ET.parse(path).getroot().iter("testcase"):
        f = tc.find("failure")
        if f is None:
            f = tc.find("error")
        if f is not None:
            cases.append((tc.get("name"), "failed", f.text or f.get("message", "")))
        elif tc.find("skipped") is not None or tc.get("status") in ("notrun", "disabled"):
            cases.append((tc.get("name"), "skipped", ""))
        else:
            cases.append((tc.get("name"), "passed", ""))
    return cases


def count(cases):
    c = {"passed": 0, "failed": 0, "skipped": 0}
    for _, status, _ in cases:
        c[status] += 1
    return c


def line(suite, c):
    return f"{suite}: {c['passed']} passed, {c['failed']} failed, {c['skipped']} skipped"


def report(suite, cases, most=10):
    """Prints the count line and the first failures with what they logged."""
    c = count(cases)
    print(line(suite, c))
    failed = [x for x in cases if x[1] == "failed"]
    for name, _, detail in failed[:most]:
        print(f"  FAILED {name}")
        for d in detail.splitlines()[-12:]:
            print(f"    {d}")
    if len(failed) > most:
        print(f"  ... and {len(failed) - most} more failures (see the suite's log)")
    return c


def status(suite, rc, out):
    cases = read_junit(out) if os.path.exists(out) else []
    why = {124: "timed out", 137: "killed after its timeout"}.get(rc, "failed")
    if rc in (124, 137):
        print(f"{suite}: {why} (status {rc})")
    if rc != 0 and not any(s == "failed" for _, s, _ in cases):
        cases.append((f"{suite} (the suite itself)", "failed", f"exited with status {rc}: {why}"))
        write_junit(suite, cases, out)
        print(f"{suite}: exited with status {rc} ({why}) without a failed test: counted as one")
    return 1 if rc else 0


def summary(directory):
    total = {"passed": 0, "failed": 0, "skipped": 0}
    for f in sorted(glob.glob(f"{directory}/*.xml")):
        c = count(read_junit(f))
        print("  " + line(os.path.basename(f)[:-4], c))
        for k in total:
            total[k] += c[k]
    print(f"{total['passed']} passed, {total['failed']} failed, {total['skipped']} skipped")
    return 1 if total["failed"] or not sum(total.values()) else 0


def main(argv):
    if len(argv) == 3 and argv[1] == "summary":
        return summary(argv[2])
    if len(argv) == 4 and argv[1] == "show":
        report(argv[2], read_junit(argv[3]) if os.path.exists(argv[3]) else [])
        return 0
    if len(argv) != 5 or argv[1] not in ("tap", "ctest", "status"):
        print(__doc__, file=sys.stderr)
        return 2
    kind, suite, src, out = argv[1:]
    if kind == "status":
        return status(suite, int(src), out)
    if kind == "tap":
        with open(src, errors="replace") as f:
            cases = parse_tap(f.read())
    else:
        cases = parse_ctest(src)
    write_junit(suite, cases, out)
    c = report(suite, cases)
    if not cases:
        print(f"{suite}: no test results found in {src}", file=sys.stderr)
        return 1
    return 1 if c["failed"] else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
