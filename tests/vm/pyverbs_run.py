#!/usr/bin/python3
"""pyverbs_run.py --src SRC --build BUILD --dev DEV --junit OUT.xml [--must-run RE]
                 [--select RE] [--hmm-dmirror PATH] [--suite NAME]

Runs rdma-core's pyverbs tests (SRC/tests) on RDMA device DEV as rdma-core's
own run_tests.py does (its arguments parser, its tests package with its
load_tests()), with a unittest result class that records each test, and
writes one JUnit case per test id to OUT.xml, as suite NAME (default
pyverbs): passed, failed or skipped.  --select keeps only the tests whose
id matches RE (searched); --hmm-dmirror passes run_tests.py's option of
that name (providers/ 0005: the test_hmm device of the ODP device-memory
tests), which pristine rdma-core does not have.
Every test the loader found is accounted for: tests that a class or module
fixture skipped or failed get that outcome, tests that never ran (the
suite was killed at its timeout: SIGTERM) count as failed.  Tests whose id
matches --must-run (a regular expression, searched) count as failed when
they skip, or when none is found: where the VM provides what they need, a
skip would hide a regression.  The usual unittest -v text goes to stdout,
for the log.

Exit status: 0 if no test failed, 1 otherwise, 124 after SIGTERM.
"""
import argparse
import importlib.util
import os
import re
import signal
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import report  # noqa: E402  (tests/report.py: write_junit, line)


class Terminated(KeyboardInterrupt):
    """Raised on SIGTERM; unittest lets KeyboardInterrupt through."""


def on_sigterm(signum, frame):
    raise Terminated()


class Recorder(unittest.TextTestResult):
    """A TextTestResult that also keeps (status, detail) per test id;
    class and module fixtures (setUpClass, setUpModule) are kept apart."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.outcomes = {}
        self.fixtures = []

    def record(self, test, status, detail=""):
        if isinstance(test, unittest.suite._ErrorHolder):
            self.fixtures.append((test.description, status, detail))
        elif self.outcomes.get(test.id(), ("",))[0] != "failed":
            self.outcomes[test.id()] = (status, detail)

    def addSuccess(self, test):
        super().addSuccess(test)
        self.record(test, "passed")

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self.record(test, "failed", self._exc_info_to_string(err, test))

    def addError(self, test, err):
        super().addError(test, err)
        self.record(test, "failed", self._exc_info_to_string(err, test))

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        self.record(test, "skipped", reason)

    def addExpectedFailure(self, test, err):
        super().addExpectedFailure(test, err)
        self.record(test, "passed", "expected failure")

    def addUnexpectedSuccess(self, test):
        super().addUnexpectedSuccess(test)
        self.record(test, "failed", "unexpected success")

    def addSubTest(self, test, subtest, err):
        super().addSubTest(test, subtest, err)
        if err is not None:
            self.record(test, "failed", self._exc_info_to_string(err, test))


class Runner(unittest.TextTestRunner):
    """Keeps its Recorder, for the outcomes after run() (or a SIGTERM)."""
    resultclass = Recorder
    result = None

    def _makeResult(self):
        self.result = super()._makeResult()
        return self.result


def load_rdma_core_tests(src, build, dev, extra_args):
    """The tests package as run_tests.py loads it, configured for @dev and
    run_tests.py's @extra_args."""
    tests_dir = os.path.join(src, "tests")
    # run_tests.py's directory (args_parser) and the built pyverbs.
    sys.path[:0] = [tests_dir, os.path.join(build, "python")]
    from args_parser import parser
    sys.argv = [os.path.join(tests_dir, "run_tests.py"), "--dev", dev] + extra_args
    parser.parse_args()
    # What args_parser does not know it leaves for unittest: none here.
    if sys.argv[1:]:
        raise SystemExit(f"pyverbs_run: run_tests.py does not take {' '.join(sys.argv[1:])}")
    spec = importlib.util.spec_from_file_location(
        "tests", os.path.join(tests_dir, "__init__.py"))
    tests = importlib.util.module_from_spec(spec)
    sys.modules["tests"] = tests
    spec.loader.exec_module(tests)
    return unittest.defaultTestLoader.loadTestsFromModule(tests)


def select(suite, pattern):
    """A suite of the tests of @suite whose id matches @pattern."""
    kept = unittest.TestSuite()
    for t in suite:
        if isinstance(t, unittest.TestSuite):
            sub = select(t, pattern)
            if sub.countTestCases():
                kept.addTest(sub)
        elif re.search(pattern, t.id()):
            kept.addTest(t)
    return kept


def test_ids(suite):
    for t in suite:
        if isinstance(t, unittest.TestSuite):
            yield from test_ids(t)
        else:
            yield t.id()


def fixture_scope(description):
    """'setUpClass (tests.test_x.Class)' -> 'tests.test_x.Class.'"""
    m = re.search(r"\(([\w.]+)\)", description)
    return m.group(1) + "." if m else None


def outcomes_of_all(ids, result, terminated):
    cases = []
    outcomes = result.outcomes if result else {}
    fixtures = result.fixtures if result else []
    used = set()
    for tid in ids:
        status, detail = outcomes.get(tid, (None, ""))
        if status is None:
            for i, (desc, fstatus, fdetail) in enumerate(fixtures):
                scope = fixture_scope(desc)
                if scope and tid.startswith(scope):
                    status, detail = fstatus, f"{desc}: {fdetail}"
                    used.add(i)
                    break
        if status is None:
            why = "the suite was terminated (timeout)" if terminated else "it did not run"
            status, detail = "failed", why
        cases.append((tid, status, detail))
    # A fixture that failed after its tests ran (tearDownClass): a case of
    # its own, as unittest counts it.
    for i, (desc, fstatus, fdetail) in enumerate(fixtures):
        if i not in used and fstatus == "failed":
            cases.append((desc, "failed", fdetail))
    return cases


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--src", required=True, help="rdma-core source tree")
    ap.add_argument("--build", required=True, help="its build tree")
    ap.add_argument("--dev", required=True, help="RDMA device")
    ap.add_argument("--junit", required=True, help="JUnit XML to write")
    ap.add_argument("--must-run", metavar="RE", action="append", default=[],
                    help="tests (id regex) that must not skip; repeatable")
    ap.add_argument("--select", metavar="RE",
                    help="run only the tests whose id matches RE")
    ap.add_argument("--hmm-dmirror", metavar="PATH",
                    help="run_tests.py --hmm-dmirror PATH")
    ap.add_argument("--suite", default="pyverbs",
                    help="the suite's name in the JUnit XML")
    args = ap.parse_args()

    signal.signal(signal.SIGTERM, on_sigterm)
    extra = ["--hmm-dmirror", args.hmm_dmirror] if args.hmm_dmirror else []
    suite = load_rdma_core_tests(args.src, args.build, args.dev, extra)
    if args.select:
        suite = select(suite, args.select)
    ids = list(test_ids(suite))
    runner = Runner(stream=sys.stdout, verbosity=2)
    terminated = False
    try:
        runner.run(suite)
    except Terminated:
        terminated = True
        print("\npyverbs_run: SIGTERM (the suite's timeout): stopping", flush=True)
    cases = outcomes_of_all(ids, runner.result, terminated)
    for pattern in args.must_run:
        matched = [i for i, (tid, _, _) in enumerate(cases) if re.search(pattern, tid)]
        if not matched:
            cases.append((f"--must-run {pattern}", "failed", "no test matches"))
        for i in matched:
            tid, status, detail = cases[i]
            if status == "skipped":
                cases[i] = (tid, "failed", f"skipped, but must run here: {detail}")
    counts = report.write_junit(args.suite, cases, args.junit)
    print(report.line(args.suite, counts) + f" ({len(ids)} tests loaded)", flush=True)
    if terminated:
        return 124
    return 1 if counts["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
