#!/usr/bin/python3
"""ONNX's own operator tests against `ringo convert` + `ringo predict` (ML Program).

Each node test case (a model.onnx and test_data_set_*/input_*.pb, output_*.pb) is converted to an
.mlpackage (or, with --to mlmodel, a NeuralNetwork .mlmodel), run on the reference evaluator with every data set's inputs, and its outputs compared
with the expected ones (rtol 1e-3, atol 1e-5, as ONNX's backend tests). Every case ends as one of:
  pass     every data set matches
  wrong    a data set's output differs (or the converted model does not run)
  crash    ringo died from a signal or timed out
  refused  `ringo convert` declined, grouped by the reason in its message

Usage: bench/onnx_node_tests.py [--ringo build/ringo] [--data DIR] [--jobs N] [--list]
                                [--min-pass FRACTION] [--to mlpackage|mlmodel]
DIR holds node/<case>/; without --data the cases shipped with the onnx package are used, or,
when the package ships none (Debian), written to a temporary directory by onnx's own generator.
Runs with Debian's /usr/bin/python3 (onnx, numpy).
"""
import argparse
import collections
import concurrent.futures
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

import numpy as np


def generate_cases(out_dir):
    """Writes the node test cases with onnx's generator (onnx.backend.test.cmd_tools)."""
    # onnx 1.12's case code still names numpy aliases that numpy 1.24 removed.
    for alias, real in [("float", float), ("int", int), ("bool", bool), ("object", object),
                        ("str", str), ("complex", complex)]:
        if alias not in np.__dict__:
            setattr(np, alias, real)
    import warnings
    warnings.simplefilter("ignore")
    from onnx.backend.test import cmd_tools
    argv = sys.argv
    sys.argv = ["cmd_tools", "generate-data", "-o", out_dir]
    try:
        cmd_tools.main()
    finally:
        sys.argv = argv


def find_cases(data_dir):
    return sorted(d for d in glob.glob(os.path.join(data_dir, "node", "*"))
                  if os.path.isfile(os.path.join(d, "model.onnx")))


def core_ml_name(name):
    """The name ringo gives an ONNX value in the Core ML interface."""
    s = re.sub(r"[^A-Za-z0-9_]", "_", name)
    if not s or s[0].isdigit():
        s = "v_" + s
    return s


def refusal_reason(message):
    """Groups a conversion error by its cause."""
    m = re.search(r"unsupported ONNX operator '([^']+)'", message)
    if m:
        return "unsupported op"
    rules = [
        (r"uses ONNX opset", "opset number"),
        (r"batch size", "leading dimension"),
        (r"element type|data type|ONNX type", "element type"),
        (r"dynamic dimension|no shape|no fixed size|not a constant after folding|"
         r"must be a constant|must be constant|is not constant", "dynamic value"),
        (r"is a constant; nothing computes it|is the input .* unchanged", "output is not computed"),
        (r"no graph inputs", "no inputs"),
        (r"is not a tensor", "sequence or optional value"),
        (r"cannot be written as a NeuralNetwork", "no NeuralNetwork layer"),
        (r"ONNX node", "unsupported attribute or form"),
    ]
    for pattern, reason in rules:
        if re.search(pattern, message):
            return reason
    return "other"


def unsupported_op(message):
    m = re.search(r"unsupported ONNX operator '([^']+)'", message)
    return m.group(1) if m else None


def load_pb(path):
    import onnx
    from onnx import numpy_helper
    t = onnx.TensorProto()
    with open(path, "rb") as f:
        t.ParseFromString(f.read())
    return numpy_helper.to_array(t)


def strip_leading_ones(shape):
    shape = list(shape)
    while shape and shape[0] == 1:
        shape.pop(0)
    return shape


def compare(expected, got, leading_ones=False):
    """None when `got` (predict's JSON value) matches `expected`, else what differs.

    With `leading_ones` the shapes may differ in leading unit axes: a NeuralNetwork with rank-5
    layers declares its outputs [C, H, W] without the batch axis.
    """
    if isinstance(got, (int, float)) and not isinstance(got, bool):
        got = {"shape": [], "data": [got]}  # predict prints a scalar integer as a number
    if not isinstance(got, dict) or "data" not in got:
        return "output is not a tensor"
    shape = tuple(got["shape"])
    values = np.array(got["data"], dtype=np.float64)
    if expected.dtype == object:
        return "string output"
    want = expected.astype(np.float64)
    same = (strip_leading_ones(want.shape) == strip_leading_ones(shape) if leading_ones
            else tuple(want.shape) == shape)
    if not same:
        # A scalar may come back as [1]; nothing else may change shape.
        if not (want.size == 1 and values.size == 1):
            return "shape %s, expected %s" % (list(shape), list(want.shape))
    want = want.reshape(-1)
    if values.size != want.size:
        return "%d values, expected %d" % (values.size, want.size)
    if expected.dtype.kind in "biu":
        ok = np.array_equal(values, want)
    else:
        ok = np.allclose(values, want, rtol=1e-3, atol=1e-5, equal_nan=True)
    if not ok:
        diff = np.nanmax(np.abs(values - want)) if values.size else 0
        return "values differ (max abs %.3g)" % diff
    return None


def run_case(ringo, case, timeout, ext):
    """Returns (status, detail): status pass | wrong | crash | refused:<reason>."""
    import onnx
    name = os.path.basename(case)
    model = onnx.load(os.path.join(case, "model.onnx"))
    initializers = {t.name for t in model.graph.initializer}
    inputs = [i.name for i in model.graph.input if i.name not in initializers]
    outputs = [o.name for o in model.graph.output]
    work = tempfile.mkdtemp(prefix="onnx-node-")
    try:
        package = os.path.join(work, name + "." + ext)
        try:
            p = subprocess.run([ringo, "convert", os.path.join(case, "model.onnx"), "-o", package],
                               capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return "crash", "convert timed out"
        if p.returncode < 0:
            return "crash", "convert died with signal %d" % -p.returncode
        if p.returncode != 0:
            message = p.stderr.strip().replace("ringo: error: ", "")
            return "refused:" + refusal_reason(message), message
        for data_set in sorted(glob.glob(os.path.join(case, "test_data_set_*"))):
            args = [ringo, "predict", package, "--json"]
            for k, input_name in enumerate(inputs):
                pb = os.path.join(data_set, "input_%d.pb" % k)
                if not os.path.exists(pb):
                    continue  # an optional input left out
                value = load_pb(pb)
                npy = os.path.join(work, "input_%d.npy" % k)
                np.save(npy, np.ascontiguousarray(value))
                args += ["-i", "%s=%s" % (core_ml_name(input_name), npy)]
            try:
                p = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
            except subprocess.TimeoutExpired:
                return "crash", "predict timed out"
            if p.returncode < 0:
                return "crash", "predict died with signal %d" % -p.returncode
            if p.returncode != 0:
                return "wrong", "predict failed: " + p.stderr.strip()
            got = json.loads(p.stdout)
            for k, output_name in enumerate(outputs):
                pb = os.path.join(data_set, "output_%d.pb" % k)
                if not os.path.exists(pb):
                    continue
                value = got.get(core_ml_name(output_name))
                if value is None:
                    return "wrong", "no output '%s'" % output_name
                problem = compare(load_pb(pb), value, leading_ones=ext == "mlmodel")
                if problem:
                    return "wrong", "%s %s: %s" % (os.path.basename(data_set), output_name, problem)
        return "pass", ""
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main():
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ringo", default=os.path.join(here, "build", "ringo"))
    ap.add_argument("--data", help="directory holding node/<case>/ (default: onnx's own)")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--timeout", type=float, default=60)
    ap.add_argument("--filter", default="", help="only cases whose name contains this")
    ap.add_argument("--list", action="store_true", help="print every case's result")
    ap.add_argument("--min-pass", type=float, default=0.0,
                    help="exit 1 when fewer than this fraction of the cases pass")
    ap.add_argument("--to", choices=["mlpackage", "mlmodel"], default="mlpackage",
                    help="the format each case is converted to")
    args = ap.parse_args()

    generated = None
    data = args.data
    if not data:
        import onnx
        shipped = os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data")
        if find_cases(shipped):
            data = shipped
        else:
            generated = tempfile.mkdtemp(prefix="onnx-node-cases-")
            generate_cases(generated)
            data = generated
    try:
        cases = [c for c in find_cases(data) if args.filter in os.path.basename(c)]
        with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
            results = list(pool.map(lambda c: run_case(args.ringo, c, args.timeout, args.to),
                                    cases))
    finally:
        if generated:
            shutil.rmtree(generated, ignore_errors=True)

    counts = collections.Counter(status for status, _ in results)
    ops = collections.Counter(unsupported_op(detail) for status, detail in results
                              if status == "refused:unsupported op")
    if args.list:
        for case, (status, detail) in zip(cases, results):
            print("%-60s %-40s %s" % (os.path.basename(case), status, detail[:200]))
    total = len(cases)
    print("cases: %d" % total)
    order = ["pass", "wrong", "crash"] + sorted(k for k in counts if k.startswith("refused:"))
    for key in order:
        n = counts.get(key, 0)
        print("  %-40s %4d  %5.1f%%" % (key, n, 100.0 * n / total if total else 0))
    if ops:
        print("unsupported ops (cases): " +
              ", ".join("%s %d" % (op, n) for op, n in ops.most_common()))
    if counts.get("wrong", 0) or counts.get("crash", 0):
        return 1
    return 0 if total and counts.get("pass", 0) >= args.min_pass * total else 1


if __name__ == "__main__":
    sys.exit(main())
