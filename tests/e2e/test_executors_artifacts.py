"""Black-box tests of steps with file transfer "artifacts" (`ringo run --file-transfer
artifacts`): on a private one-node Slurm cluster, a local Ray head and the local executor, each
step runs in a scratch directory outside the project, gets the project's code and its upstream
outputs from the artifact store and puts its outputs there; the runner brings them back into
.ringo/outputs, so a rerun is cached, and a rerun without .ringo/outputs restores them from the
store, with nothing submitted either time. Under RINGO_TEST_ARTIFACTS=s3 the tracking server
keeps those artifacts in a private S3 server."""

import os
import re
import shutil
import unittest

import private_s3
import test_executors as executors
from harness import kv
from ray_head import RayHead
from slurm_cluster import SlurmCluster
from test_run import RunTestCase, parse_result, write


# The second step's code, a file of the project that only the snapshot brings to the node.
SHOUT = """\
set -e
tr a-z A-Z < "$1/greeting.txt" > "$2/upper.txt"
pwd > "$2/where.txt"
"""


class TransferCases:
    """The cases every executor passes; a class sets `executor` and `submitted()`."""

    executor = None

    def write_two_steps(self, prep_command=None):
        root = os.path.join(self.tmp, "pipe")
        write(os.path.join(root, "prep", "MLproject"), """\
            name: prep
            entry_points:
              main:
                parameters: {out: path}
                command: %s
            """ % (prep_command or "pwd; pwd > {out}/where.txt; echo {out} > {out}/path.txt; "
                                   "echo hello > {out}/greeting.txt"))
        write(os.path.join(root, "use", "MLproject"), """\
            name: use
            entry_points:
              main:
                parameters: {src: path, out: path}
                command: pwd; sh shout.sh {src} {out}
            """)
        write(os.path.join(root, "use", "shout.sh"), SHOUT)
        write(os.path.join(root, "MLproject"), """\
            name: pipe
            steps:
              - name: prep
                project: prep
                executor: %(e)s
                parameters: {out: "{outputs.data}"}
                outputs: [data]
              - name: use
                project: use
                executor: %(e)s
                parameters: {src: "{steps.prep.outputs.data}", out: "{outputs.result}"}
                outputs: [result]
            """ % {"e": self.executor})
        return root

    def run_artifacts(self, root):
        rc, stdout, stderr = self.ringo_run(root, "--file-transfer", "artifacts")
        self.assertEqual(rc, 0, stdout + stderr + self.engine_logs())
        return stdout, stderr

    def steps(self, stdout):
        return dict(re.findall(r"^  (\S+): (\S+)(?: \(run|$)", stdout, re.M))

    def step_runs(self, pipeline_run_id):
        runs = self.client.search_runs(
            [self.experiment_id()], "tags.`mlflow.parentRunId` = '%s'" % pipeline_run_id)
        return {kv(r["data"]["tags"])["ringo.step"]: (r["info"], kv(r["data"]["tags"]))
                for r in runs}

    def read_output(self, root, step, output, name):
        with open(os.path.join(root, ".ringo", "outputs", step, output, name)) as f:
            return f.read().strip()

    def assert_outputs(self, root):
        self.assertEqual(self.read_output(root, "use", "result", "upper.txt"), "HELLO")
        self.assertEqual(self.read_output(root, "prep", "data", "greeting.txt"), "hello")

    def test_steps_run_outside_the_project_and_a_rerun_restores_without_submitting(self):
        root = self.write_two_steps()
        if private_s3.artifacts_backend() == "s3":
            self.assertIsNotNone(self.server.s3)
        jobs = self.submitted()
        stdout, _ = self.run_artifacts(root)
        self.assertEqual(self.steps(stdout), {"prep": "ran", "use": "ran"})
        self.assertEqual(self.submitted(), jobs + 2)
        self.assert_outputs(root)
        prep_dir = self.read_output(root, "prep", "data", "where.txt")
        use_dir = self.read_output(root, "use", "result", "where.txt")
        out_path = self.read_output(root, "prep", "data", "path.txt")
        for path in (prep_dir, use_dir, out_path):
            self.assertFalse(path.startswith(root), path)
            self.assertFalse(path.startswith(self.tmp), path)
        self.assertTrue(use_dir.endswith("/use"), use_dir)  # the step's own directory, copied
        self.assertIn("\n%s\n" % prep_dir, stdout.replace("[prep] ", ""))  # the job printed pwd
        self.assertFalse(os.path.exists(prep_dir), "the scratch directory was left behind")
        runs = self.step_runs(parse_result(stdout)[0])
        for step in ("prep", "use"):
            info, tags = runs[step]
            self.assertEqual(info["status"], "FINISHED")
            self.assertEqual(tags["ringo.fileTransfer"], "artifacts")
            self.assertEqual(tags["ringo.executor"], self.executor)
        self.assertEqual(self.client.read_artifact(runs["use"][0]["run_id"],
                                                   "outputs/result/upper.txt"), b"HELLO\n")

        stdout, _ = self.run_artifacts(root)
        self.assertEqual(self.steps(stdout), {"prep": "cached", "use": "cached"})
        self.assertEqual(self.submitted(), jobs + 2)

        shutil.rmtree(os.path.join(root, ".ringo", "outputs"))
        stdout, _ = self.run_artifacts(root)
        self.assertEqual(self.steps(stdout), {"prep": "cached", "use": "cached"})
        self.assertEqual(self.submitted(), jobs + 2)
        self.assert_outputs(root)
        self.assertEqual(self.read_output(root, "use", "result", "where.txt"), use_dir)

    def test_an_output_the_step_removed_fails_the_step_naming_it(self):
        root = self.write_two_steps(prep_command="rm -r {out}")
        rc, stdout, stderr = self.ringo_run(root, "--file-transfer", "artifacts")
        self.assertEqual(rc, 1, stdout + stderr)
        self.assertEqual(self.steps(stdout), {"prep": "failed", "use": "skipped"})
        info, tags = self.step_runs(parse_result(stdout)[0])["prep"]
        self.assertEqual(info["status"], "FAILED")
        self.assertEqual(tags["ringo.exitCode"], "1")
        logs = self.client.read_artifact(info["run_id"], "logs/stdout.txt") + \
            self.client.read_artifact(info["run_id"], "logs/stderr.txt")
        self.assertIn(b"output 'data' is missing", logs)


class LocalTransferTest(TransferCases, RunTestCase):
    executor = "local"

    def submitted(self):
        """No engine counts jobs here: the step runs that ran (not cache hits) stand for them."""
        try:
            runs = self.client.search_runs([self.experiment_id()], "")
        except Exception:  # no experiment before the first run
            return 0
        tags = [kv(r["data"].get("tags")) for r in runs]
        return sum(1 for t in tags if "ringo.step" in t and "ringo.cacheHit" not in t)

    def engine_logs(self):
        return ""

    def test_a_bad_file_transfer_is_refused(self):
        root = self.write_two_steps()
        rc, stdout, stderr = self.ringo_run(root, "--file-transfer", "nfs")
        self.assertNotEqual(rc, 0, stdout + stderr)
        self.assertIn("--file-transfer must be shared or artifacts; got 'nfs'", stderr)

    def test_a_local_step_is_not_warned_about_a_loopback_tracking_uri(self):
        _, stderr = self.run_artifacts(self.write_two_steps())
        self.assertNotIn("loopback", stderr)


class SlurmTransferTest(TransferCases, executors.EngineTestCase):
    make_engine = SlurmCluster
    executor = "slurm"
    slurm = executors.SlurmExecutorTest.slurm

    def ringo_run(self, project, *args):
        return RunTestCase.ringo_run(self, project, *args, timeout=120,
                                     env={"SLURM_CONF": self.slurm.env["SLURM_CONF"]})

    def submitted(self):
        return self.slurm.run("scontrol", "show", "job", "-o").count("JobId=")

    def engine_logs(self):
        return self.slurm.logs()

    def test_the_node_uploads_the_logs_slurm_keeps_on_it(self):
        stdout, _ = self.run_artifacts(self.write_two_steps())
        info, _ = self.step_runs(parse_result(stdout)[0])["prep"]
        where = self.client.read_artifact(info["run_id"], "logs/node/stdout.txt").decode()
        self.assertTrue(where.startswith("/"), where)
        self.assertNotIn(self.tmp, where)


class RayTransferTest(TransferCases, executors.EngineTestCase):
    make_engine = RayHead
    executor = "ray"
    ray = executors.RayExecutorTest.ray
    env = executors.RayExecutorTest.env
    api = executors.RayExecutorTest.api

    def ringo_run(self, project, *args):
        return RunTestCase.ringo_run(self, project, *args, timeout=180, env=self.env())

    def submitted(self):
        return len(self.api("/api/jobs/"))

    def engine_logs(self):
        return self.ray.logs()

    def test_a_loopback_tracking_uri_is_warned_about(self):
        _, stderr = self.run_artifacts(self.write_two_steps())
        self.assertIn("a loopback address other machines cannot reach; pass --step-tracking-uri",
                      stderr)


if __name__ == "__main__":
    unittest.main()
