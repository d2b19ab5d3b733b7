"""Black-box tests of `ringo run`: MLproject entry points, pipelines of steps, the step cache,
parallel steps, Ctrl-C, env managers, and ringo.run() from Python. Every project is written by
the test into a fresh temporary directory and runs standard-library Python or shell only."""

import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
import unittest

from harness import Server, ServerTestCase, kv, ringo_bin, unique

import ringo

PY = shlex.quote(sys.executable)
HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "fixtures")
RESULT = re.compile(r"^ringo: run (\S+) (FINISHED|FAILED|KILLED)$", re.M)

# Writes its arguments and the run's environment to the JSON file named by $PROBE_OUT, and one
# line to each of stdout and stderr.
PROBE = """\
import json, os, sys
keys = ["MLFLOW_RUN_ID", "MLFLOW_TRACKING_URI", "MLFLOW_EXPERIMENT_ID", "RINGO_RUN_ID",
        "RINGO_TRACKING_URI", "RINGO_EXPERIMENT_ID"]
with open(os.environ["PROBE_OUT"], "w") as f:
    json.dump({"argv": sys.argv[1:], "env": {k: os.environ.get(k) for k in keys},
               "cwd": os.getcwd()}, f)
print("probe says hello on stdout")
print("probe says hello on stderr", file=sys.stderr)
"""

# One pipeline step: appends {step, run id, parent} to the ledger ($LEDGER), reads its --in
# directories and --src files, writes a deterministic value.txt into --out, and logs a param and
# a metric of its own to its run.
STEP = """\
import argparse, json, os, subprocess, sys, time
p = argparse.ArgumentParser()
p.add_argument("--name"); p.add_argument("--out"); p.add_argument("--fail", default="no")
p.add_argument("--in", dest="inputs", action="append", default=[])
p.add_argument("--src", action="append", default=[]); p.add_argument("--scale", default="1")
a = p.parse_args()
with open(os.environ["LEDGER"], "a") as f:
    f.write(json.dumps({"step": a.name, "run_id": os.environ["MLFLOW_RUN_ID"],
                        "out_env": {k: v for k, v in os.environ.items() if k.startswith("RINGO_OUTPUT_")},
                        "out": a.out}) + "\\n")
if a.fail == "yes":
    print("step %s fails on purpose" % a.name, file=sys.stderr)
    sys.exit(4)
parts = [a.name, a.scale]
for d in a.inputs:
    with open(os.path.join(d, "value.txt")) as f:
        parts.append(f.read())
for s in a.src:
    with open(s) as f:
        parts.append(f.read())
with open(os.path.join(a.out, "value.txt"), "w") as f:
    f.write("(" + " ".join(parts) + ")")
for verb in (["param", "wrote", "value.txt"], ["metric", "length", str(len(" ".join(parts)))]):
    subprocess.run([os.environ["RINGO_BIN"], "log"] + verb, check=True)
print("step %s wrote %s" % (a.name, a.out))
"""


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(textwrap.dedent(text))


def clean_env(extra=None):
    env = dict(os.environ)
    for var in ("MLFLOW_TRACKING_URI", "RINGO_TRACKING_URI", "MLFLOW_RUN_ID", "RINGO_RUN_ID",
                "MLFLOW_EXPERIMENT_ID", "MLFLOW_EXPERIMENT_NAME", "RINGO_PARENT_RUN_ID"):
        env.pop(var, None)
    env.update(extra or {})
    return env


def parse_result(stdout):
    """(run id, status) from the last result line `ringo run` prints, or (None, None)."""
    found = RESULT.findall(stdout)
    return found[-1] if found else (None, None)


class RunTestCase(ServerTestCase):
    """One server per class; each test gets a temporary directory and its own experiment (so step
    caches never leak between tests)."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="ringo-run-test-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.experiment = unique("run")
        self.client = ringo.RingoClient(self.server.url)
        self.addCleanup(self.client.close)
        self.ledger = os.path.join(self.tmp, "ledger.jsonl")

    def ringo_run(self, project, *args, env=None, timeout=60, experiment=True):
        cmd = [ringo_bin(), "run", project, "--tracking-uri", self.server.url]
        if experiment:
            cmd += ["--experiment-name", self.experiment]
        cmd += list(args)
        e = {"LEDGER": self.ledger}
        e.update(env or {})
        p = subprocess.run(cmd, capture_output=True, text=True, env=clean_env(e), cwd=self.tmp,
                           timeout=timeout)
        return p.returncode, p.stdout, p.stderr

    def experiment_id(self):
        return self.client.get_experiment_by_name(self.experiment)["experiment_id"]

    def run_info(self, run_id):
        run = self.client.get_run(run_id)
        return run["info"], kv(run["data"].get("params")), kv(run["data"].get("tags"))

    def ledger_lines(self):
        """Every step execution so far, in order; and empties the ledger."""
        if not os.path.exists(self.ledger):
            return []
        with open(self.ledger) as f:
            lines = [json.loads(x) for x in f if x.strip()]
        os.remove(self.ledger)
        return lines

    def executed(self):
        return sorted(x["step"] for x in self.ledger_lines())


class EntryPointTest(RunTestCase):
    def write_probe_project(self, extra_yaml=""):
        d = os.path.join(self.tmp, "probe")
        write(os.path.join(d, "probe.py"), PROBE)
        write(os.path.join(d, "MLproject"), """\
            name: probe
            %s
            entry_points:
              main:
                parameters:
                  msg: string
                  alpha: {type: float, default: 0.5}
                  epochs: {type: int, default: 3}
                command: "%s probe.py --msg {msg} --alpha {alpha} --epochs {epochs}"
              fail:
                command: "echo about to fail; echo bad news >&2; exit 3"
            """ % (extra_yaml, PY))
        return d

    def test_params_quoting_environment_and_logs(self):
        d = self.write_probe_project()
        out = os.path.join(self.tmp, "probe.json")
        nasty = "it's \"quoted\" $HOME `id` $(id) a  b\nsecond line; ünï ✓"
        rc, stdout, stderr = self.ringo_run(d, "-P", "msg=" + nasty, "-P", "epochs=7", "-P",
                                            "extra_flag=x y", env={"PROBE_OUT": out})
        self.assertEqual(rc, 0, stdout + stderr)
        run_id, status = parse_result(stdout)
        self.assertEqual(status, "FINISHED", stdout)
        # Output echoed live.
        self.assertIn("probe says hello on stdout", stdout)
        self.assertIn("probe says hello on stderr", stderr)
        with open(out) as f:
            probe = json.load(f)
        # Every value reaches the script as one argument, byte for byte; extras are appended.
        self.assertEqual(probe["argv"], ["--msg", nasty, "--alpha", "0.5", "--epochs", "7",
                                         "--extra_flag", "x y"])
        self.assertEqual(os.path.realpath(probe["cwd"]), os.path.realpath(d))
        eid = self.experiment_id()
        env = probe["env"]
        self.assertEqual(env["MLFLOW_RUN_ID"], run_id)
        self.assertEqual(env["RINGO_RUN_ID"], run_id)
        self.assertEqual(env["MLFLOW_EXPERIMENT_ID"], eid)
        self.assertEqual(env["RINGO_EXPERIMENT_ID"], eid)
        self.assertEqual(env["MLFLOW_TRACKING_URI"].rstrip("/"), self.server.url)
        self.assertEqual(env["RINGO_TRACKING_URI"], env["MLFLOW_TRACKING_URI"])

        info, params, tags = self.run_info(run_id)
        self.assertEqual(info["status"], "FINISHED")
        self.assertEqual(info["experiment_id"], eid)
        self.assertEqual(params, {"msg": nasty, "alpha": "0.5", "epochs": "7", "extra_flag": "x y"})
        self.assertEqual(tags.get("mlflow.project.entryPoint"), "main")
        self.assertEqual(tags.get("mlflow.source.type"), "PROJECT")
        self.assertNotIn("mlflow.parentRunId", tags)
        files = sorted(f["path"] for f in self.client.list_artifacts(run_id, "logs"))
        self.assertEqual(files, ["logs/stderr.txt", "logs/stdout.txt"])
        self.assertEqual(self.client.read_artifact(run_id, "logs/stdout.txt"),
                         b"probe says hello on stdout\n")
        self.assertEqual(self.client.read_artifact(run_id, "logs/stderr.txt"),
                         b"probe says hello on stderr\n")

    def test_failing_command_fails_the_run(self):
        d = self.write_probe_project()
        rc, stdout, stderr = self.ringo_run(d, "-e", "fail")
        self.assertEqual(rc, 1, stdout + stderr)
        run_id, status = parse_result(stdout)
        self.assertEqual(status, "FAILED", stdout)
        info, _, _ = self.run_info(run_id)
        self.assertEqual(info["status"], "FAILED")
        self.assertIn("bad news", stderr)
        self.assertEqual(self.client.read_artifact(run_id, "logs/stderr.txt"), b"bad news\n")
        self.assertEqual(self.client.read_artifact(run_id, "logs/stdout.txt"), b"about to fail\n")

    def test_missing_required_parameter_is_named(self):
        d = self.write_probe_project()
        rc, stdout, stderr = self.ringo_run(d)
        self.assertEqual(rc, 1, stdout + stderr)
        self.assertIn("ringo: error:", stderr)
        self.assertIn("'msg'", stderr)
        self.assertEqual(parse_result(stdout), (None, None))

    def test_bad_parameter_type_and_unknown_entry_point(self):
        d = self.write_probe_project()
        rc, _, stderr = self.ringo_run(d, "-P", "msg=x", "-P", "epochs=many")
        self.assertEqual(rc, 1)
        self.assertIn("parameter 'epochs' must be an integer", stderr)
        rc, _, stderr = self.ringo_run(d, "-e", "nope")
        self.assertEqual(rc, 1)
        self.assertIn("no entry point 'nope'", stderr)

    def test_conda_env_runs_locally_with_one_note(self):
        d = self.write_probe_project("conda_env: conda.yaml")
        out = os.path.join(self.tmp, "probe.json")
        rc, stdout, stderr = self.ringo_run(d, "-P", "msg=hi", env={"PROBE_OUT": out})
        self.assertEqual(rc, 0, stdout + stderr)
        self.assertEqual((stdout + stderr).count("conda_env is not created"), 1, stdout + stderr)
        self.assertTrue(os.path.exists(out))

    def test_steps_with_envs_note_once_and_need_an_image_for_docker(self):
        root = os.path.join(self.tmp, "envs")
        for name in ("a", "b"):
            write(os.path.join(root, name, "MLproject"), textwrap.dedent("""\
                name: %s
                python_env: python_env.yaml
                entry_points:
                  main:
                    command: "true"
                """ % name))
        write(os.path.join(root, "MLproject"), textwrap.dedent("""\
            name: envs
            entry_points:
              main: {}
            steps:
              - {name: a, project: a}
              - {name: b, project: b, needs: [a]}
            """))
        rc, stdout, stderr = self.ringo_run(root, "--no-cache")
        self.assertEqual(rc, 0, stdout + stderr)
        self.assertEqual((stdout + stderr).count("python_env is not created"), 1, stdout + stderr)
        # `true info` succeeds: a stand-in engine, so the image check runs on any machine.
        rc, stdout, stderr = self.ringo_run(root, "--no-cache", "--env-manager", "docker",
                                            "--container-cli", "true")
        self.assertEqual(rc, 1)
        self.assertIn("step 'a': --env-manager docker needs docker_env in 'a'", stderr)

    def test_docker_env_without_a_container_engine_is_a_clear_error(self):
        d = os.path.join(self.tmp, "docker")
        marker = os.path.join(self.tmp, "ran")
        write(os.path.join(d, "MLproject"), """\
            name: dockerized
            docker_env:
              image: python:3.11-slim
            entry_points:
              main:
                command: "touch %s"
            """ % marker)
        rc, stdout, stderr = self.ringo_run(d, "--env-manager", "docker",
                                            env={"RINGO_CONTAINER_CLI": "ringo-no-engine-here"})
        self.assertEqual(rc, 1, stdout + stderr)
        self.assertIn("needs a container engine, and none answered (ringo-no-engine-here: "
                      "not found)", stderr)
        self.assertFalse(os.path.exists(marker))
        # The local env manager runs the same project as is.
        rc, stdout, stderr = self.ringo_run(d)
        self.assertEqual(rc, 0, stdout + stderr)
        self.assertTrue(os.path.exists(marker))

    def test_mlflow_project_runs_unmodified(self):
        src = os.path.join(FIXTURES, "mlflow_project")
        # Run on a copy so nothing (e.g. __pycache__) lands in the source tree.
        d = os.path.join(self.tmp, "mlflow_project")
        shutil.copytree(src, d)
        shim = os.path.join(FIXTURES, "mlflow_shim")
        path = os.environ.get("PYTHONPATH", "")
        rc, stdout, stderr = self.ringo_run(d, "-P", "alpha=0.25",
                                            env={"PYTHONPATH": shim + (":" + path if path else "")})
        self.assertEqual(rc, 0, stdout + stderr)
        run_id, status = parse_result(stdout)
        self.assertEqual(status, "FINISHED")
        self.assertIn("alpha=0.25 rmse=", stdout)
        run = self.client.get_run(run_id)
        self.assertEqual(kv(run["data"]["params"]), {"alpha": "0.25"})
        metrics = {m["key"]: m["value"] for m in run["data"]["metrics"]}
        self.assertIn("rmse", metrics)
        self.assertGreater(metrics["rmse"], 0.0)
        self.assertLess(metrics["rmse"], 1.0)
        self.assertEqual(run["info"]["status"], "FINISHED")
        # The project's train.py wrote into the run ringo created, not a run of its own.
        runs = self.client.search_runs([self.experiment_id()])
        self.assertEqual([r["info"]["run_id"] for r in runs], [run_id])


class EmbeddedStoreTest(unittest.TestCase):
    def test_without_tracking_uri_the_store_is_served_for_the_run(self):
        tmp = tempfile.mkdtemp(prefix="ringo-run-test-")
        self.addCleanup(shutil.rmtree, tmp, True)
        d = os.path.join(tmp, "proj")
        write(os.path.join(d, "MLproject"), """\
            entry_points:
              main:
                parameters: {n: {type: int, default: 1}}
                command: "echo uri=$MLFLOW_TRACKING_URI n={n}"
            """)
        store = os.path.join(tmp, "store")
        p = subprocess.run([ringo_bin(), "run", d, "--store", store, "-P", "n=5"],
                           capture_output=True, text=True, env=clean_env(), cwd=tmp, timeout=60)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        run_id, status = parse_result(p.stdout)
        self.assertEqual(status, "FINISHED")
        self.assertRegex(p.stdout, r"uri=http://127\.0\.0\.1:\d+/? n=5")
        server = Server(store=store)
        self.addCleanup(server.cleanup)
        server.start()
        client = ringo.RingoClient(server.url)
        run = client.get_run(run_id)
        client.close()
        self.assertEqual(kv(run["data"]["params"]), {"n": "5"})
        self.assertEqual(run["info"]["status"], "FINISHED")
        self.assertEqual(server.stop(), 0)


class PipelineTest(RunTestCase):
    def write_pipeline(self, b_cache=True):
        """a (reads input.txt) -> b (reads a's output); c independent. Each step is a
        sub-project with its own copy of the step script."""
        root = os.path.join(self.tmp, "pipe")
        for name in ("a", "b", "c"):
            write(os.path.join(root, name, "step.py"), STEP)
            write(os.path.join(root, name, "MLproject"), """\
                name: %s
                entry_points:
                  main:
                    parameters:
                      out: path
                      scale: {type: string, default: "1"}
                      fail: {type: string, default: "no"}
                      src: {type: string, default: ""}
                      inp: {type: string, default: ""}
                    command: "%s step.py --name %s --out {out} --scale {scale} --fail {fail} $(test -n {src} && echo --src {src}) $(test -n {inp} && echo --in {inp})"
                """ % (name, PY, name))
        write(os.path.join(root, "input.txt"), "input-v1")
        write(os.path.join(root, "MLproject"), """\
            name: pipe
            entry_points:
              main:
                parameters:
                  scale_a: {type: string, default: "2"}
                  scale_b: {type: string, default: "3"}
                  fail_b: {type: string, default: "no"}
            steps:
              - name: a
                project: a
                parameters: {out: "{outputs.data}", scale: "{scale_a}", src: "../input.txt"}
                inputs: [input.txt]
                outputs: [data]
              - name: b
                project: b
                parameters:
                  out: "{outputs.result}"
                  inp: "{steps.a.outputs.data}"
                  scale: "{scale_b}"
                  fail: "{fail_b}"
                outputs: [result]
                cache: %s
              - name: c
                project: c
                parameters: {out: "{outputs.other}"}
                outputs: [other]
                needs: [b]
            """ % ("true" if b_cache else "false"))
        return root

    def run_pipeline(self, root, *args):
        rc, stdout, stderr = self.ringo_run(root, *args)
        run_id, status = parse_result(stdout)
        # In the order ringo prints them: the order the steps started.
        steps = dict(re.findall(r"^  (\S+): (\S+)(?: \(run|$)", stdout, re.M))
        return rc, run_id, status, steps, stdout + stderr

    def step_runs(self, pipeline_run_id):
        """{step name: (info, params, tags)} of the runs nested in a pipeline run."""
        runs = self.client.search_runs(
            [self.experiment_id()], "tags.`mlflow.parentRunId` = '%s'" % pipeline_run_id)
        out = {}
        for r in runs:
            tags = kv(r["data"].get("tags"))
            out[tags["ringo.step"]] = (r["info"], kv(r["data"].get("params")), tags)
        return out

    def test_steps_are_nested_runs_linked_by_outputs(self):
        root = self.write_pipeline()
        rc, run_id, status, steps, out = self.run_pipeline(root)
        self.assertEqual(rc, 0, out)
        self.assertEqual(status, "FINISHED")
        self.assertEqual(steps, {"a": "ran", "b": "ran", "c": "ran"})
        self.assertEqual([x["step"] for x in self.ledger_lines()], ["a", "b", "c"])
        info, params, tags = self.run_info(run_id)
        self.assertEqual(info["status"], "FINISHED")
        self.assertEqual(params, {"scale_a": "2", "scale_b": "3", "fail_b": "no"})
        self.assertNotIn("mlflow.parentRunId", tags)
        runs = self.step_runs(run_id)
        self.assertEqual(sorted(runs), ["a", "b", "c"])
        for name, (sinfo, sparams, stags) in runs.items():
            self.assertEqual(sinfo["status"], "FINISHED", name)
            self.assertEqual(stags["mlflow.parentRunId"], run_id)
            self.assertEqual(stags["ringo.step"], name)
            self.assertNotIn("ringo.cacheHit", stags)
            self.assertIn("ringo.cacheKey", stags)
        # b got a's output directory as a path, and read what a wrote there. Paths inside the
        # project are logged relative to it, so that runs of two clones read the same.
        a_out = runs["a"][1]["out"]
        self.assertEqual(a_out, ".ringo/outputs/a/data")
        self.assertEqual(runs["b"][1]["inp"], a_out)
        self.assertEqual(runs["a"][1]["wrote"], "value.txt", "the step's own param")
        with open(os.path.join(root, runs["b"][1]["out"], "value.txt")) as f:
            self.assertEqual(f.read(), "(b 3 (a 2 input-v1))")
        # Outputs are artifacts of the step runs.
        a_id = runs["a"][0]["run_id"]
        self.assertEqual(self.client.read_artifact(a_id, "outputs/data/value.txt"), b"(a 2 input-v1)")
        b_id = runs["b"][0]["run_id"]
        self.assertEqual(self.client.read_artifact(b_id, "outputs/result/value.txt"),
                         b"(b 3 (a 2 input-v1))")
        self.assertIn(b"step b wrote", self.client.read_artifact(b_id, "logs/stdout.txt"))

    def test_outputs_are_announced_in_the_environment(self):
        root = self.write_pipeline()
        rc, _, _, _, out = self.run_pipeline(root)
        self.assertEqual(rc, 0, out)
        lines = {x["step"]: x for x in self.ledger_lines()}
        self.assertEqual(lines["a"]["out_env"], {"RINGO_OUTPUT_DATA": lines["a"]["out"]})
        self.assertEqual(lines["b"]["out_env"], {"RINGO_OUTPUT_RESULT": lines["b"]["out"]})

    def test_failing_step_fails_the_pipeline_and_is_not_cached(self):
        root = self.write_pipeline()
        rc, run_id, status, steps, out = self.run_pipeline(root, "-P", "fail_b=yes")
        self.assertEqual(rc, 1, out)
        self.assertEqual(status, "FAILED")
        self.assertEqual(steps, {"a": "ran", "b": "failed", "c": "skipped"})
        self.assertRegex(out, r"(?m)^  c: skipped$", "a step that never started has no run")
        self.assertNotIn("(run )", out)
        self.assertEqual(self.executed(), ["a", "b"], "c must not run after b failed")
        self.assertIn("step b fails on purpose", out)
        self.assertEqual(self.run_info(run_id)[0]["status"], "FAILED")
        runs = self.step_runs(run_id)
        self.assertEqual(runs["b"][0]["status"], "FAILED")
        self.assertNotIn("ringo.cacheKey", runs["b"][2], "a failed step never populates the cache")
        self.assertNotIn("c", runs)
        # The same failing rerun: a is a cache hit, b runs (and fails) again.
        rc, run_id, status, steps, out = self.run_pipeline(root, "-P", "fail_b=yes")
        self.assertEqual((rc, status), (1, "FAILED"), out)
        self.assertEqual(steps, {"a": "cached", "b": "failed", "c": "skipped"})
        self.assertEqual(self.executed(), ["b"])

    def test_unchanged_rerun_is_all_cache_hits(self):
        root = self.write_pipeline()
        rc, first, _, _, out = self.run_pipeline(root)
        self.assertEqual(rc, 0, out)
        first_runs = self.step_runs(first)
        self.ledger_lines()
        rc, second, status, steps, out = self.run_pipeline(root)
        self.assertEqual((rc, status), (0, "FINISHED"), out)
        self.assertEqual(steps, {"a": "cached", "b": "cached", "c": "cached"})
        self.assertEqual(self.executed(), [])
        for name, (info, params, tags) in self.step_runs(second).items():
            self.assertEqual(info["status"], "FINISHED")
            self.assertEqual(tags["ringo.cacheHit"], first_runs[name][0]["run_id"], name)
            self.assertEqual(tags["mlflow.parentRunId"], second)
            self.assertEqual(params, first_runs[name][1])

    def test_a_clone_in_another_directory_gets_every_step_from_the_cache(self):
        root = self.write_pipeline()
        clone_parent = tempfile.mkdtemp(prefix="ringo-run-clone-")
        self.addCleanup(shutil.rmtree, clone_parent, True)
        clone = os.path.join(clone_parent, "checkout", "pipe")
        shutil.copytree(root, clone)
        rc, first, _, steps, out = self.run_pipeline(root)
        self.assertEqual(rc, 0, out)
        self.assertEqual(list(steps.items()), [("a", "ran"), ("b", "ran"), ("c", "ran")],
                         "the summary is in the order the steps ran")
        first_runs = self.step_runs(first)
        self.ledger_lines()
        # The same project in another directory, against the same store: nothing runs.
        rc, second, status, steps, out = self.run_pipeline(clone)
        self.assertEqual((rc, status), (0, "FINISHED"), out)
        self.assertEqual(list(steps.items()), [("a", "cached"), ("b", "cached"), ("c", "cached")], out)
        self.assertEqual(self.executed(), [])
        for name, (info, params, tags) in self.step_runs(second).items():
            origin = first_runs[name]
            self.assertEqual(tags["ringo.cacheHit"], origin[0]["run_id"], name)
            self.assertIn("  %s: cached (run %s, reusing %s)" % (name, info["run_id"], origin[0]["run_id"]), out)
            # A cached run reads like the run it reuses: its params (the pipeline's and the
            # step's own) and its metrics.
            self.assertEqual(params, origin[1], name)
            self.assertEqual(kv(self.client.get_run(info["run_id"])["data"].get("metrics")),
                             kv(self.client.get_run(origin[0]["run_id"])["data"].get("metrics")), name)
            self.assertIn("length", kv(self.client.get_run(info["run_id"])["data"].get("metrics")))
        # The clone's outputs were restored from the first run's artifacts.
        with open(os.path.join(clone, ".ringo", "outputs", "b", "result", "value.txt")) as f:
            self.assertEqual(f.read(), "(b 3 (a 2 input-v1))")
        # A metric filter finds the cached runs too.
        found = self.client.search_runs([self.experiment_id()],
                                        "metrics.length > 0 and tags.`mlflow.parentRunId` = '%s'" % second)
        self.assertEqual(len(found), 3)

    def test_changed_parameter_reruns_the_step_and_its_dependents_only(self):
        root = self.write_pipeline()
        self.assertEqual(self.run_pipeline(root)[0], 0)
        self.ledger_lines()
        # b's scale changes b's output, so c (which needs b) runs too; a stays cached.
        rc, _, _, steps, out = self.run_pipeline(root, "-P", "scale_b=4")
        self.assertEqual(rc, 0, out)
        self.assertEqual(steps, {"a": "cached", "b": "ran", "c": "ran"})
        self.assertEqual(self.executed(), ["b", "c"])
        # a's scale changes a's output: everything downstream reruns.
        rc, _, _, steps, out = self.run_pipeline(root, "-P", "scale_b=4", "-P", "scale_a=5")
        self.assertEqual(rc, 0, out)
        self.assertEqual(steps, {"a": "ran", "b": "ran", "c": "ran"})
        self.ledger_lines()
        # Back to the first parameters: all of it is cached from the first run.
        rc, _, _, steps, out = self.run_pipeline(root)
        self.assertEqual(steps, {"a": "cached", "b": "cached", "c": "cached"}, out)

    def test_edited_code_or_input_reruns(self):
        root = self.write_pipeline()
        self.assertEqual(self.run_pipeline(root)[0], 0)
        self.ledger_lines()
        # A new file in c's project directory: c's code changed.
        write(os.path.join(root, "c", "notes.txt"), "changed")
        rc, _, _, steps, out = self.run_pipeline(root)
        self.assertEqual(rc, 0, out)
        self.assertEqual(steps, {"a": "cached", "b": "cached", "c": "ran"})
        # Editing a's script reruns a; its output is unchanged, so b and c are cache hits.
        with open(os.path.join(root, "a", "step.py"), "a") as f:
            f.write("# an edit\n")
        rc, _, _, steps, out = self.run_pipeline(root)
        self.assertEqual(steps, {"a": "ran", "b": "cached", "c": "cached"}, out)
        self.ledger_lines()
        # A changed input file reruns a, and its new output reruns b and c.
        write(os.path.join(root, "input.txt"), "input-v2")
        rc, _, _, steps, out = self.run_pipeline(root)
        self.assertEqual(rc, 0, out)
        self.assertEqual(steps, {"a": "ran", "b": "ran", "c": "ran"})
        self.assertEqual(self.executed(), ["a", "b", "c"])

    def test_no_cache_flag_and_per_step_cache_false(self):
        root = self.write_pipeline()
        self.assertEqual(self.run_pipeline(root)[0], 0)
        rc, _, _, steps, out = self.run_pipeline(root, "--no-cache")
        self.assertEqual(rc, 0, out)
        self.assertEqual(steps, {"a": "ran", "b": "ran", "c": "ran"})
        self.ledger_lines()
        # The same pipeline with `cache: false` on b (the pipeline file is not step code).
        self.write_pipeline(b_cache=False)
        for _ in range(2):
            rc, _, _, steps, out = self.run_pipeline(root)
            self.assertEqual(rc, 0, out)
            # b reruns every time; its output is the same, so c after it is still a cache hit.
            self.assertEqual(steps, {"a": "cached", "b": "ran", "c": "cached"}, out)
            self.assertEqual(self.executed(), ["b"])

    def test_deleted_outputs_are_restored_on_a_cache_hit(self):
        root = self.write_pipeline()
        self.assertEqual(self.run_pipeline(root)[0], 0)
        outputs = os.path.join(root, ".ringo", "outputs")
        for attempt in (1, 2):
            shutil.rmtree(outputs)
            rc, _, _, steps, out = self.run_pipeline(root)
            self.assertEqual(rc, 0, out)
            self.assertEqual(steps, {"a": "cached", "b": "cached", "c": "cached"},
                             "attempt %d\n%s" % (attempt, out))
            with open(os.path.join(outputs, "b", "result", "value.txt")) as f:
                self.assertEqual(f.read(), "(b 3 (a 2 input-v1))")
            with open(os.path.join(outputs, "a", "data", "value.txt")) as f:
                self.assertEqual(f.read(), "(a 2 input-v1)")
        self.assertEqual([x["step"] for x in self.ledger_lines()], ["a", "b", "c"])

    def test_step_that_cannot_start_ends_its_run_failed(self):
        root = self.write_pipeline()
        # A file where b's output directory must go: b's run exists before that fails.
        write(os.path.join(root, ".ringo", "outputs", "b"), "in the way")
        rc, run_id, status, steps, out = self.run_pipeline(root)
        self.assertEqual((rc, status), (1, "FAILED"), out)
        self.assertEqual(steps, {"a": "ran", "b": "failed", "c": "skipped"})
        self.assertIn("cannot create output directory", out)
        runs = self.step_runs(run_id)
        self.assertEqual(runs["b"][0]["status"], "FAILED")
        self.assertEqual(self.executed(), ["a"])

    def test_undeclared_pipeline_parameter_is_rejected(self):
        root = self.write_pipeline()
        rc, _, _, _, out = self.run_pipeline(root, "-P", "nope=1")
        self.assertEqual(rc, 1)
        self.assertIn("'nope'", out)
        self.assertEqual(self.executed(), [])


class RetryTest(RunTestCase):
    """Retries with backoff and per-step environment variables on the local executor."""

    def write_flaky(self, retries):
        """One step that fails the first time it runs (it leaves a marker) and succeeds after."""
        root = os.path.join(self.tmp, "flaky")
        marker = os.path.join(self.tmp, "tried-once")
        write(os.path.join(root, "s", "MLproject"), """\
            name: s
            entry_points:
              main:
                command: "echo attempt; test -e %s || { touch %s; echo first try fails >&2; exit 3; }; echo $GREETING $MLFLOW_RUN_ID > $OUT_FILE"
            """ % (shlex.quote(marker), shlex.quote(marker)))
        write(os.path.join(root, "MLproject"), """\
            name: flaky
            steps:
              - name: s
                project: s
                retries: %d
                retry_backoff: 0.2
                env: {GREETING: hello, MLFLOW_RUN_ID: hidden, OUT_FILE: %s}
            """ % (retries, os.path.join(self.tmp, "out.txt")))
        return root

    def step_tags(self, stdout):
        run_id, _ = parse_result(stdout)
        runs = self.client.search_runs(
            [self.experiment_id()], "tags.`mlflow.parentRunId` = '%s'" % run_id)
        self.assertEqual(len(runs), 1)
        return runs[0]["info"], kv(runs[0]["data"].get("tags"))

    def test_a_step_that_fails_once_succeeds_on_its_retry(self):
        rc, stdout, stderr = self.ringo_run(self.write_flaky(retries=1))
        self.assertEqual(rc, 0, stdout + stderr)
        self.assertIn("attempt 1 failed with exit code 3; retrying in 0.2s", stdout)
        info, tags = self.step_tags(stdout)
        self.assertEqual(info["status"], "FINISHED")
        self.assertEqual(tags["ringo.attempts"], "2")
        self.assertEqual(tags["ringo.exitCode"], "0")
        self.assertEqual(tags["ringo.executor"], "local")
        self.assertIn("ringo.cacheKey", tags)
        # The step's variables reach it, but never hide the run it belongs to.
        with open(os.path.join(self.tmp, "out.txt")) as f:
            self.assertEqual(f.read().split(), ["hello", info["run_id"]])
        # Each attempt keeps its own logs.
        first = self.client.read_artifact(info["run_id"], "logs/stderr.txt")
        self.assertIn("first try fails", first.decode())
        second = self.client.read_artifact(info["run_id"], "logs/attempt-2/stdout.txt")
        self.assertEqual(second.decode(), "attempt\n")

    def test_without_retries_the_first_failure_fails_the_step(self):
        rc, stdout, stderr = self.ringo_run(self.write_flaky(retries=0))
        self.assertEqual(rc, 1, stdout + stderr)
        self.assertNotIn("retrying", stdout)
        info, tags = self.step_tags(stdout)
        self.assertEqual(info["status"], "FAILED")
        self.assertEqual(tags["ringo.attempts"], "1")
        self.assertEqual(tags["ringo.exitCode"], "3")


class StepTrackingUriTest(RunTestCase):
    def test_steps_get_the_step_tracking_uri_while_ringo_uses_its_own(self):
        root = os.path.join(self.tmp, "p")
        seen = os.path.join(self.tmp, "seen.txt")
        write(os.path.join(root, "s", "MLproject"), """\
            name: s
            entry_points:
              main:
                command: "echo $MLFLOW_TRACKING_URI $RINGO_TRACKING_URI > %s"
            """ % shlex.quote(seen))
        write(os.path.join(root, "MLproject"), "name: p\nsteps:\n  - name: s\n    project: s\n")
        # The same server by another name, as a cluster node would spell it.
        routable = self.server.url.replace("127.0.0.1", "localhost")
        rc, stdout, stderr = self.ringo_run(root, "--step-tracking-uri", routable)
        self.assertEqual(rc, 0, stdout + stderr)
        with open(seen) as f:
            self.assertEqual(f.read().split(), [routable, routable])
        rc, stdout, stderr = self.ringo_run(root, "--no-cache",
                                            env={"RINGO_STEP_TRACKING_URI": routable + "/"})
        self.assertEqual(rc, 0, stdout + stderr)
        with open(seen) as f:
            self.assertEqual(f.read().split(), [routable + "/"] * 2)


class ParallelAndSignalTest(RunTestCase):
    def write_sleepers(self, seconds):
        root = os.path.join(self.tmp, "par")
        write(os.path.join(root, "span.py"), """\
            import sys, time
            start = time.time()
            time.sleep(float(sys.argv[2]))
            with open(sys.argv[1] + "/span", "w") as f:
                f.write("%r %r" % (start, time.time()))
            """)
        write(os.path.join(root, "MLproject"), """\
            name: par
            entry_points:
              main:
                parameters: {t: {type: string, default: "%s"}}
              sleep:
                parameters: {out: path, t: string}
                command: "%s span.py {out} {t}"
            steps:
              - {name: p1, entry_point: sleep, parameters: {out: "{outputs.o}", t: "{t}"}, outputs: [o]}
              - {name: p2, entry_point: sleep, parameters: {out: "{outputs.o}", t: "{t}"}, outputs: [o]}
            """ % (seconds, PY))
        return root

    def spans(self, root):
        out = []
        for name in ("p1", "p2"):
            with open(os.path.join(root, ".ringo", "outputs", name, "o", "span")) as f:
                out.append(tuple(float(x) for x in f.read().split()))
        return out

    def test_independent_steps_overlap_with_jobs_2(self):
        root = self.write_sleepers("0.8")
        rc, stdout, stderr = self.ringo_run(root, "--jobs", "2", "--no-cache")
        self.assertEqual(rc, 0, stdout + stderr)
        (s1, e1), (s2, e2) = self.spans(root)
        self.assertTrue(s1 < e2 and s2 < e1, "p1 %r and p2 %r did not overlap" % ((s1, e1), (s2, e2)))
        # The control: one job at a time never overlaps.
        rc, stdout, stderr = self.ringo_run(root, "--jobs", "1", "--no-cache")
        self.assertEqual(rc, 0, stdout + stderr)
        (s1, e1), (s2, e2) = self.spans(root)
        self.assertTrue(e1 <= s2 or e2 <= s1, "p1 %r and p2 %r overlapped" % ((s1, e1), (s2, e2)))

    def test_sigint_kills_the_step_process_group(self):
        root = os.path.join(self.tmp, "sig")
        pidfile = os.path.join(self.tmp, "pids")
        after = os.path.join(self.tmp, "after-ran")
        write(os.path.join(root, "MLproject"), """\
            name: sig
            entry_points:
              main: {}
              sleep:
                command: "sleep 60 & echo $$ $! > %s.tmp; mv %s.tmp %s; wait"
              after:
                command: "touch %s"
            steps:
              - {name: sleeper, entry_point: sleep}
              - {name: after, entry_point: after, needs: [sleeper]}
            """ % (pidfile, pidfile, pidfile, after))
        cmd = [ringo_bin(), "run", root, "--tracking-uri", self.server.url,
               "--experiment-name", self.experiment]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env=clean_env(), cwd=self.tmp)
        try:
            deadline = time.monotonic() + 30
            while not os.path.exists(pidfile):
                self.assertIsNone(proc.poll(), "ringo exited before the step started")
                self.assertLess(time.monotonic(), deadline, "the step never wrote its pids")
                time.sleep(0.05)
            with open(pidfile) as f:
                pids = [int(x) for x in f.read().split()]
            proc.send_signal(signal.SIGINT)
            stdout, stderr = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
        self.assertNotEqual(proc.returncode, 0)
        for pid in pids:
            self.assertFalse(alive(pid), "process %d of the step survived" % pid)
        run_id, status = parse_result(stdout)
        self.assertEqual(status, "KILLED", stdout + stderr)
        self.assertFalse(os.path.exists(after), "a step after the killed one ran")
        self.assertEqual(self.run_info(run_id)[0]["status"], "KILLED")
        steps = self.client.search_runs([self.experiment_id()],
                                        "tags.`mlflow.parentRunId` = '%s'" % run_id)
        self.assertEqual([kv(r["data"]["tags"])["ringo.step"] for r in steps], ["sleeper"])
        self.assertEqual(steps[0]["info"]["status"], "KILLED")
        self.assertNotIn("ringo.cacheKey", kv(steps[0]["data"]["tags"]))


def alive(pid):
    """True if the process exists and is not a zombie waiting for a reaper."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


class PythonRunTest(RunTestCase):
    def setUp(self):
        super().setUp()
        ringo.set_tracking_uri(self.server.url)
        self.addCleanup(ringo.set_tracking_uri, None)
        self.env = clean_env({"RINGO_BIN": ringo_bin()})
        self.saved_env = dict(os.environ)
        os.environ.clear()
        os.environ.update(self.env)
        self.addCleanup(self.restore_env)
        self.proj = os.path.join(self.tmp, "sub")
        write(os.path.join(self.proj, "MLproject"), """\
            name: sub
            entry_points:
              main:
                parameters: {x: {type: int, default: 1}}
                command: "echo x={x} run=$MLFLOW_RUN_ID"
              fail:
                command: "exit 2"
            """)

    def restore_env(self):
        os.environ.clear()
        os.environ.update(self.saved_env)

    def test_run_is_nested_in_the_active_run(self):
        eid = self.client.create_experiment(self.experiment)
        with ringo.start_run(experiment_id=eid) as parent:
            submitted = ringo.run(self.proj, parameters={"x": 7})
        self.assertEqual(submitted.status, "FINISHED")
        info, params, tags = self.run_info(submitted.run_id)
        self.assertEqual(info["status"], "FINISHED")
        self.assertEqual(info["experiment_id"], eid)
        self.assertEqual(params, {"x": "7"})
        self.assertEqual(tags["mlflow.parentRunId"], parent.run_id)
        self.assertEqual(self.client.read_artifact(submitted.run_id, "logs/stdout.txt"),
                         ("x=7 run=%s\n" % submitted.run_id).encode())

    def test_failed_run_raises_with_its_id(self):
        eid = self.client.create_experiment(self.experiment)
        with self.assertRaises(ringo.ExecutionError) as cm:
            ringo.run(self.proj, entry_point="fail", experiment_id=eid)
        self.assertIsInstance(cm.exception, ringo.RingoError)
        self.assertEqual(cm.exception.status, "FAILED")
        self.assertEqual(self.run_info(cm.exception.run_id)[0]["status"], "FAILED")
        with self.assertRaises(ringo.ExecutionError) as cm:
            ringo.run(self.proj, parameters={"x": "seven"}, experiment_id=eid)
        self.assertIsNone(cm.exception.run_id)
        self.assertEqual(cm.exception.returncode, 1)


if __name__ == "__main__":
    unittest.main()
