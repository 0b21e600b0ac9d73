#!/usr/bin/python3
"""Turn test-runner output into JUnit XML and pass/fail/skip counts.

  report.py tap SUITE LOG OUT.xml        kselftest/TAP output ("ok N name # SKIP")
  report.py unittest SUITE LOG OUT.xml   python unittest -v output (pyverbs)
  report.py summary DIR                  add up DIR/*.xml, print the totals

Each conversion prints "SUITE: P passed, F failed, S skipped" and exits 1 if
the log holds no test at all, so an empty run never looks like a pass.
"""
import glob
import os
import re
import sys
import xml.etree.ElementTree as ET


def parse_tap(text):
    cases = []
    for line in text.splitlines():
        m = re.match(r"^\s*(not ok|ok)\s+\d+\s+(?:-\s+)?(.*?)\s*(#\s*(SKIP|XFAIL|TODO)\b.*)?$", line)
        if not m:
            continue
        name = m.group(2).strip() or "unnamed"
        if m.group(4) in ("SKIP", "XFAIL"):
            cases.append((name, "skipped", m.group(3)))
        elif m.group(1) == "ok":
            cases.append((name, "passed", ""))
        else:
            cases.append((name, "failed", line.strip()))
    # Nested kselftest output repeats each result in a summary line for the
    # whole binary; keep the innermost results only.
    return dedupe(cases)


def test_id(method, ident):
    """"mod.Class.test_x" from unittest's "test_x (mod.Class[.test_x])"."""
    return ident if ident.endswith("." + method) else f"{ident}.{method}"


def parse_unittest(text):
    """unittest -v prints "test_x (mod.Class.test_x) ... ok", or, when the
    test has a docstring, the id on one line and "doc ... ok" on the next."""
    cases = []
    head = re.compile(r"^(test\w*) \(([\w.]+)\)")
    result = re.compile(r" \.\.\. (ok|skipped|FAIL|ERROR|expected failure|unexpected success)(.*)$")
    bare = re.compile(r"^(ok|skipped|FAIL|ERROR|expected failure|unexpected success)(.*)$")
    current = None
    for line in text.splitlines():
        m = head.match(line)
        if m:
            current = test_id(m.group(1), m.group(2))
        r = result.search(line)
        if not r and current is not None and " ... " not in line:
            # The test printed something after "... ": the status follows
            # on a line of its own.
            r = bare.match(line)
        if not r or current is None:
            continue
        status = r.group(1)
        if status in ("ok", "expected failure"):
            cases.append((current, "passed", ""))
        elif status == "skipped":
            cases.append((current, "skipped", r.group(2).strip()))
        else:
            cases.append((current, "failed", status))
        current = None
    # Errors in setUpClass and the like appear only in the final summary.
    for m in re.finditer(r"^(?:ERROR|FAIL): (\w+) \(([\w.]+)\)", text, re.M):
        cases.append((test_id(m.group(1), m.group(2)), "failed", "ERROR"))  # dedupe() keeps a per-test result
    cases = dedupe(cases)
    ran = re.search(r"^Ran (\d+) tests? in", text, re.M)
    if ran and int(ran.group(1)) != len(cases):
        print(f"warning: the log says {ran.group(1)} tests ran, {len(cases)} results parsed",
              file=sys.stderr)
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
            ET.SubElement(tc, "failure", message=detail[:500])
        elif status == "skipped":
            ET.SubElement(tc, "skipped", message=detail[:500])
    ET.ElementTree(ts).write(out, encoding="utf-8", xml_declaration=True)
    return counts


def count(cases):
    c = {"passed": 0, "failed": 0, "skipped": 0}
    for _, status, _ in cases:
        c[status] += 1
    return c


def line(suite, c):
    return f"{suite}: {c['passed']} passed, {c['failed']} failed, {c['skipped']} skipped"


def summary(directory):
    total = {"passed": 0, "failed": 0, "skipped": 0}
    for f in sorted(glob.glob(f"{directory}/*.xml")):
        root = ET.parse(f).getroot()
        suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
        for ts in suites:
            c = {"passed": 0, "failed": 0, "skipped": 0}
            for tc in ts.iter("testcase"):
                if tc.find("failure") is not None or tc.find("error") is not None:
                    c["failed"] += 1
                elif tc.find("skipped") is not None or tc.get("status") in ("notrun", "disabled"):
                    c["skipped"] += 1
                else:
                    c["passed"] += 1
            print("  " + line(os.path.basename(f)[:-4], c))
            for k in total:
                total[k] += c[k]
    print(f"{total['passed']} passed, {total['failed']} failed, {total['skipped']} skipped")
    return 1 if total["failed"] or not sum(total.values()) else 0


def main(argv):
    if len(argv) >= 2 and argv[1] == "summary":
        return summary(argv[2])
    if len(argv) != 5 or argv[1] not in ("tap", "unittest"):
        print(__doc__, file=sys.stderr)
        return 2
    kind, suite, log, out = argv[1:]
    with open(log, errors="replace") as f:
        text = f.read()
    cases = parse_tap(text) if kind == "tap" else parse_unittest(text)
    c = write_junit(suite, cases, out)
    print(line(suite, c))
    if not cases:
        print(f"{suite}: no test results found in {log}", file=sys.stderr)
        return 1
    return 1 if c["failed"] else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
