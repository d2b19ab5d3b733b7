#!/usr/bin/env python3
"""Runs MLflow's own REST test files against ringo.

MLflow's test files come from an MLflow source tree the caller provides (they are MLflow's, not
ringo's, and never part of this repository). They run unmodified under pytest in the virtual
environment given, beside the launcher shims in shim/: every server they start is a fresh
`ringo server` (RINGO_BIN). Prints the pass/fail count per file and the failing tests; with
--junit, writes pytest's JUnit XML too.

  tests/mlflow_suite/run.py --mlflow-src ~/src/mlflow --python .venvs/mlflow2/bin/python \\
      tests/tracking/test_rest_tracking.py

Files whose names do not start with test_ (helpers the test files import) are staged beside
them but not collected.
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))


def stage(mlflow_src, files, workdir):
    shutil.copytree(os.path.join(HERE, "shim"), workdir, dirs_exist_ok=True)
    for f in files:
        src = os.path.join(mlflow_src, f)
        if not os.path.isfile(src):
            sys.exit("run.py: %s not found in the MLflow source tree %s" % (f, mlflow_src))
        dst = os.path.join(workdir, f)
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        shutil.copy(src, dst)


def summarize(xml_path):
    counts, failures = {}, []
    for case in ET.parse(xml_path).getroot().iter("testcase"):
        name = case.get("classname", "").rsplit(".", 1)[-1] or "?"
        outcome = "passed"
        for tag in ("failure", "error", "skipped"):
            el = case.find(tag)
            if el is not None:
                outcome = "skipped" if tag == "skipped" else "failed"
                if outcome == "failed":
                    msg = (el.get("message") or "").strip().splitlines()
                    failures.append("%s::%s  %s" % (name, case.get("name"), msg[0][:160] if msg else ""))
        counts.setdefault(name, {"passed": 0, "failed": 0, "skipped": 0})[outcome] += 1
    return counts, failures


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mlflow-src", required=True, help="an MLflow source tree")
    ap.add_argument("--python", default=os.path.join(ROOT, ".venvs", "mlflow2", "bin", "python"))
    ap.add_argument("--ringo", default=os.environ.get("RINGO_BIN", os.path.join(ROOT, "build", "ringo")))
    ap.add_argument("--junit", help="also write pytest's JUnit XML here")
    ap.add_argument("--server", choices=["ringo", "mlflow"], default="ringo",
                    help="mlflow: run the files against MLflow's own server (the baseline)")
    ap.add_argument("-k", help="pytest -k expression")
    ap.add_argument("files", nargs="*", default=["tests/tracking/test_rest_tracking.py"])
    args = ap.parse_args()

    workdir = tempfile.mkdtemp(prefix="ringo-mlflow-suite-")
    try:
        stage(args.mlflow_src, args.files, workdir)
        xml_path = args.junit or os.path.join(workdir, "junit.xml")
        # Helper modules the test files import (auth_test_utils.py...) are staged, not collected.
        tests = [f for f in args.files if os.path.basename(f).startswith("test_")]
        cmd = [os.path.abspath(args.python), "-m", "pytest", "-q", "-p", "no:cacheprovider", "--junitxml", xml_path,
               "-o", "junit_family=xunit1"] + (["-k", args.k] if args.k else []) + tests
        env = dict(os.environ, RINGO_BIN=os.path.abspath(args.ringo), MLFLOW_TRACKING_URI="",
                   PYTHONDONTWRITEBYTECODE="1", GIT_PYTHON_REFRESH="quiet", SUITE_SERVER=args.server)
        subprocess.run(cmd, cwd=workdir, env=env)
        counts, failures = summarize(xml_path)
        for f in failures:
            print("FAILED", f)
        for name, c in counts.items():
            total = c["passed"] + c["failed"]
            print("%s: %d of %d passed (%d skipped)" % (name, c["passed"], total, c["skipped"]))
    finally:
        shutil.rmtree(workdir, True)


if __name__ == "__main__":
    main()
