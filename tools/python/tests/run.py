#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Run the binding's unittest suite with one result line per test, for
selftests/test_python.sh to turn into TAP:

    PASS <test id>
    FAIL <test id>
    SKIP <test id>: <reason>
    # <diagnostics: tracebacks, timings>
    DONE <tests run>

usage: run.py [-k PATTERN] [TEST MODULE...]   (default: every tests/test_*.py)
"""
import argparse
import os
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))


def _diag(text):
    for line in text.rstrip("\n").splitlines():
        print("# " + line)


class LineResult(unittest.TestResult):
    """Prints a result line as each test ends."""

    def startTest(self, test):
        super().startTest(test)
        self._t0 = time.monotonic()

    def stopTest(self, test):
        super().stopTest(test)
        self._t0 = None

    def _line(self, status, test, extra=""):
        # A test's time, from its start (not for a class's or module's
        # fixtures, which have no start).
        t0 = getattr(self, "_t0", None)
        if t0 is not None and time.monotonic() - t0 >= 0.5:
            print("# %s: %.1f s" % (test.id(), time.monotonic() - t0))
        print("%s %s%s" % (status, test.id(), extra), flush=True)

    def addSuccess(self, test):
        super().addSuccess(test)
        self._line("PASS", test)

    def addFailure(self, test, err):
        super().addFailure(test, err)
        _diag(self.failures[-1][1])
        self._line("FAIL", test)

    def addError(self, test, err):
        super().addError(test, err)
        _diag(self.errors[-1][1])
        self._line("FAIL", test)

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        self._line("SKIP", test, ": " + reason)

    def addExpectedFailure(self, test, err):
        super().addExpectedFailure(test, err)
        self._line("PASS", test, " (expected failure)")

    def addUnexpectedSuccess(self, test):
        super().addUnexpectedSuccess(test)
        self._line("FAIL", test, " (unexpected success)")

    def addSubTest(self, test, subtest, err):
        super().addSubTest(test, subtest, err)
        if err is not None:
            _diag(self._exc_info_to_string(err, test))
            self._line("FAIL", subtest)


def main():
    ap = argparse.ArgumentParser(description="the dmxp binding's tests")
    ap.add_argument("-k", dest="pattern", help="only tests whose id contains PATTERN")
    ap.add_argument("modules", nargs="*", help="test modules (default: all)")
    args = ap.parse_args()
    sys.path.insert(0, HERE)
    loader = unittest.TestLoader()
    if args.modules:
        suite = loader.loadTestsFromNames([m.replace(".py", "") for m in args.modules])
    else:
        suite = loader.discover(HERE, pattern="test_*.py", top_level_dir=HERE)
    if args.pattern:
        def keep(s):
            for t in s:
                if isinstance(t, unittest.TestSuite):
                    yield from keep(t)
                elif args.pattern in t.id():
                    yield t
        suite = unittest.TestSuite(keep(suite))
    import dmxp
    print("# python %s, %s, library %s, backend %s" % (
        sys.version.split()[0], sys.executable, dmxp.library_path(),
        os.environ.get("DMXP_TEST_BACKEND") or "file"), flush=True)
    result = LineResult()
    t0 = time.monotonic()
    suite.run(result)
    print("# %d tests in %.1f s: %d failed, %d errors, %d skipped" % (
        result.testsRun, time.monotonic() - t0, len(result.failures),
        len(result.errors), len(result.skipped)))
    print("DONE %d" % result.testsRun, flush=True)
    return 0 if result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
