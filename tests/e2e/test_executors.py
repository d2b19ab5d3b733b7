"""Black-box tests of `ringo run` steps on real engines: a private one-node Slurm cluster and a
local Ray head, each started in a temporary directory for its class. The run mirrors the job
(logs, job id, exit code), cached steps are never submitted, and cancelling either side is seen
by the other."""

import os
import shlex
import signal
import subprocess
import time
import json
import urllib.request

from harness import kv
from ray_head import RayHead
from slurm_cluster import SlurmCluster
from test_run import RunTestCase, clean_env, parse_result, ringo_bin, write


class EngineTestCase(RunTestCase):
    """A RunTestCase with an engine (`make_engine()`, started and stopped) for the whole class,
    as `cls.engine`."""

    make_engine = None

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.engine = cls.make_engine()
        try:
            cls.engine.start()
        except BaseException:
            cls.engine.stop()
            super().tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.engine.stop()
        super().tearDownClass()

    def kill_step_run(self):
        """`ringo runs kill` of the one running step run of the test's experiment."""
        runs = self.client.search_runs([self.experiment_id()], "attributes.status = 'RUNNING'")
        steps = [r["info"]["run_id"] for r in runs
                 if "mlflow.parentRunId" in kv(r["data"].get("tags"))]
        self.assertEqual(len(steps), 1, runs)
        p = subprocess.run([ringo_bin(), "runs", "kill", steps[0], "--tracking-uri",
                            self.server.url], capture_output=True, text=True, env=clean_env(),
                           timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)

    # Fails its first attempt, succeeds on the second (the step's directory is shared).
    FAIL_ONCE = "if [ -e tried ]; then echo second try; else touch tried; exit 5; fi"


class SlurmExecutorTest(EngineTestCase):
    make_engine = SlurmCluster

    @property
    def slurm(self):
        return self.engine

    def ringo_run(self, project, *args, env=None, timeout=60, experiment=True):
        e = {"SLURM_CONF": self.slurm.env["SLURM_CONF"]}
        e.update(env or {})
        return super().ringo_run(project, *args, env=e, timeout=timeout, experiment=experiment)

    def write_pipeline(self, command, executor="slurm", retries=0):
        root = os.path.join(self.tmp, "pipe")
        write(os.path.join(root, "s", "MLproject"), """\
            name: s
            entry_points:
              main:
                parameters: {out: path}
                command: %s
            """ % shlex.quote(command))
        write(os.path.join(root, "MLproject"), """\
            name: pipe
            steps:
              - name: s
                project: s
                executor: %s
                resources: {cpus: 1, time: "00:05:00"}
                parameters: {out: "{outputs.data}"}
                outputs: [data]
                retries: %d
                retry_backoff: 0.2
            """ % (executor, retries))
        return root

    def step_run(self, pipeline_run_id):
        runs = self.client.search_runs(
            [self.experiment_id()], "tags.`mlflow.parentRunId` = '%s'" % pipeline_run_id)
        self.assertEqual(len(runs), 1)
        return runs[0]["info"], kv(runs[0]["data"].get("tags"))

    def known_jobs(self):
        return self.slurm.run("scontrol", "show", "job", "-o").count("JobId=")

    def wait_running(self):
        deadline = time.time() + 30
        while time.time() < deadline:
            jobs = self.slurm.run("squeue", "-h", "-o", "%i %T").split()
            if "RUNNING" in jobs:
                return jobs[0]
            time.sleep(0.2)
        self.fail("no Slurm job started running\n" + self.slurm.logs())

    def test_a_step_runs_as_a_slurm_job_and_a_rerun_submits_nothing(self):
        root = self.write_pipeline(
            "echo hello from slurm; echo $SLURM_JOB_ID > {out}/job.txt; hostname >&2")
        rc, stdout, stderr = self.ringo_run(root)
        self.assertEqual(rc, 0, stdout + stderr + self.slurm.logs())
        info, tags = self.step_run(parse_result(stdout)[0])
        self.assertEqual(tags["ringo.executor"], "slurm")
        self.assertEqual(tags["ringo.exitCode"], "0")
        with open(os.path.join(root, ".ringo", "outputs", "s", "data", "job.txt")) as f:
            self.assertEqual(f.read().strip(), tags["ringo.jobId"])
        self.assertIn("\nhello from slurm\n", stdout)
        self.assertEqual(self.client.read_artifact(info["run_id"], "logs/stdout.txt"),
                         b"hello from slurm\n")
        state = self.slurm.run("scontrol", "show", "job", "-o", tags["ringo.jobId"])
        self.assertIn("JobState=COMPLETED", state)
        jobs = self.known_jobs()
        rc, stdout, stderr = self.ringo_run(root)
        self.assertEqual(rc, 0, stdout + stderr)
        self.assertIn("  s: cached", stdout)
        self.assertEqual(self.known_jobs(), jobs)

    def test_a_failing_job_fails_the_step_with_its_exit_code(self):
        root = self.write_pipeline("echo about to fail >&2; exit 3")
        rc, stdout, stderr = self.ringo_run(root)
        self.assertEqual(rc, 1, stdout + stderr)
        info, tags = self.step_run(parse_result(stdout)[0])
        self.assertEqual(info["status"], "FAILED")
        self.assertEqual(tags["ringo.exitCode"], "3")
        self.assertIn("FAILED (NonZeroExitCode)", tags["ringo.failureReason"])
        self.assertEqual(self.client.read_artifact(info["run_id"], "logs/stderr.txt"),
                         b"about to fail\n")

    def test_cancelling_the_run_cancels_the_job(self):
        root = self.write_pipeline("echo started; sleep 60")
        p = subprocess.Popen([ringo_bin(), "run", root, "--tracking-uri", self.server.url,
                              "--experiment-name", self.experiment],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                             env=clean_env({"SLURM_CONF": self.slurm.env["SLURM_CONF"]}),
                             cwd=self.tmp)
        job = self.wait_running()
        p.send_signal(signal.SIGINT)
        stdout, _ = p.communicate(timeout=30)
        self.assertNotEqual(p.returncode, 0, stdout)
        self.assertEqual(self.slurm.run("squeue", "-h", "-o", "%i").split(), [])
        self.assertIn("JobState=CANCELLED", self.slurm.run("scontrol", "show", "job", "-o", job))
        info, tags = self.step_run(parse_result(stdout)[0])
        self.assertEqual(info["status"], "KILLED")
        self.assertEqual(tags["ringo.jobId"], job)

    def test_a_step_that_fails_once_succeeds_on_its_retry(self):
        root = self.write_pipeline(self.FAIL_ONCE, retries=1)
        jobs = self.known_jobs()
        rc, stdout, stderr = self.ringo_run(root)
        self.assertEqual(rc, 0, stdout + stderr + self.slurm.logs())
        info, tags = self.step_run(parse_result(stdout)[0])
        self.assertEqual((tags["ringo.attempts"], tags["ringo.exitCode"]), ("2", "0"))
        self.assertIn("attempt 1 failed with exit code 5", stdout)
        self.assertEqual(self.known_jobs(), jobs + 2)
        self.assertIn("JobState=COMPLETED",
                      self.slurm.run("scontrol", "show", "job", "-o", tags["ringo.jobId"]))

    def test_runs_kill_of_the_step_run_cancels_the_job(self):
        root = self.write_pipeline("echo started; sleep 60")
        p = subprocess.Popen([ringo_bin(), "run", root, "--tracking-uri", self.server.url,
                              "--experiment-name", self.experiment],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                             env=clean_env({"SLURM_CONF": self.slurm.env["SLURM_CONF"]}),
                             cwd=self.tmp)
        job = self.wait_running()
        self.kill_step_run()
        stdout, _ = p.communicate(timeout=30)
        self.assertNotEqual(p.returncode, 0, stdout)
        self.assertEqual(self.slurm.run("squeue", "-h", "-o", "%i").split(), [])
        self.assertIn("JobState=CANCELLED", self.slurm.run("scontrol", "show", "job", "-o", job))
        info, _ = self.step_run(parse_result(stdout)[0])
        self.assertEqual(info["status"], "KILLED")

    def test_a_job_cancelled_behind_ringos_back_fails_the_step_with_slurms_reason(self):
        root = self.write_pipeline("sleep 60")
        p = subprocess.Popen([ringo_bin(), "run", root, "--tracking-uri", self.server.url,
                              "--experiment-name", self.experiment],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                             env=clean_env({"SLURM_CONF": self.slurm.env["SLURM_CONF"]}),
                             cwd=self.tmp)
        job = self.wait_running()
        self.slurm.run("scancel", job)
        stdout, _ = p.communicate(timeout=30)
        self.assertEqual(p.returncode, 1, stdout)
        info, tags = self.step_run(parse_result(stdout)[0])
        self.assertEqual(info["status"], "FAILED")
        self.assertEqual(tags["ringo.failureReason"], "Slurm job %s CANCELLED" % job)
        self.assertIn("(Slurm job %s CANCELLED)" % job, stdout)


class RayExecutorTest(EngineTestCase):
    make_engine = RayHead

    @property
    def ray(self):
        return self.engine

    write_pipeline = SlurmExecutorTest.write_pipeline
    step_run = SlurmExecutorTest.step_run

    def env(self):
        return {"RAY_ADDRESS": self.ray.address}

    def ringo_run(self, project, *args, env=None, timeout=90, experiment=True):
        return super().ringo_run(project, *args, env=self.env(), timeout=timeout,
                                 experiment=experiment)

    def api(self, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.ray.address + path, data=data,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.load(r)

    def jobs(self):
        return self.api("/api/jobs/")

    def wait_running(self):
        deadline = time.time() + 60
        while time.time() < deadline:
            for job in self.jobs():
                if job["status"] == "RUNNING" and "started" in self.api(
                        "/api/jobs/%s/logs" % job["submission_id"])["logs"]:
                    return job["submission_id"]
            time.sleep(0.3)
        self.fail("no Ray job started running\n" + self.ray.logs())

    def start_run(self, root):
        return subprocess.Popen([ringo_bin(), "run", root, "--tracking-uri", self.server.url,
                                 "--experiment-name", self.experiment],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                env=clean_env(self.env()), cwd=self.tmp)

    def test_a_step_runs_as_a_ray_job_and_a_rerun_submits_nothing(self):
        root = self.write_pipeline("echo hello from ray; echo done > {out}/var.txt",
                                   executor="ray")
        rc, stdout, stderr = self.ringo_run(root)
        self.assertEqual(rc, 0, stdout + stderr + self.ray.logs())
        info, tags = self.step_run(parse_result(stdout)[0])
        self.assertEqual(tags["ringo.executor"], "ray")
        self.assertEqual(tags["ringo.exitCode"], "0")
        job = tags["ringo.jobId"]
        self.assertEqual(self.api("/api/jobs/" + job)["status"], "SUCCEEDED")
        self.assertIn("hello from ray\n", stdout)
        self.assertIn(b"hello from ray\n", self.client.read_artifact(info["run_id"], "logs/stdout.txt"))
        self.assertTrue(os.path.exists(os.path.join(root, ".ringo", "outputs", "s", "data", "var.txt")))
        jobs = len(self.jobs())
        rc, stdout, stderr = self.ringo_run(root)
        self.assertEqual(rc, 0, stdout + stderr)
        self.assertIn("  s: cached", stdout)
        self.assertEqual(len(self.jobs()), jobs)

    def test_a_failing_job_fails_the_step_with_its_exit_code(self):
        root = self.write_pipeline("echo about to fail; exit 3", executor="ray")
        rc, stdout, stderr = self.ringo_run(root)
        self.assertEqual(rc, 1, stdout + stderr)
        info, tags = self.step_run(parse_result(stdout)[0])
        self.assertEqual(info["status"], "FAILED")
        self.assertEqual(tags.get("ringo.exitCode"), "3", stdout + stderr)
        self.assertIn("FAILED: Job entrypoint command failed with exit code 3",
                      tags["ringo.failureReason"])

    def test_cancelling_the_run_stops_the_job(self):
        p = self.start_run(self.write_pipeline("echo started; sleep 60", executor="ray"))
        job = self.wait_running()
        p.send_signal(signal.SIGINT)
        stdout, _ = p.communicate(timeout=60)
        self.assertNotEqual(p.returncode, 0, stdout)
        self.assertEqual(self.api("/api/jobs/" + job)["status"], "STOPPED")
        info, tags = self.step_run(parse_result(stdout)[0])
        self.assertEqual(info["status"], "KILLED")
        self.assertEqual(tags["ringo.jobId"], job)

    def test_a_step_that_fails_once_succeeds_on_its_retry(self):
        root = self.write_pipeline(self.FAIL_ONCE, executor="ray", retries=1)
        jobs = len(self.jobs())
        rc, stdout, stderr = self.ringo_run(root)
        self.assertEqual(rc, 0, stdout + stderr + self.ray.logs())
        info, tags = self.step_run(parse_result(stdout)[0])
        self.assertEqual((tags["ringo.attempts"], tags["ringo.exitCode"]), ("2", "0"))
        self.assertEqual(len(self.jobs()), jobs + 2)
        self.assertEqual(self.api("/api/jobs/" + tags["ringo.jobId"])["status"], "SUCCEEDED")

    def test_runs_kill_of_the_step_run_stops_the_job(self):
        p = self.start_run(self.write_pipeline("echo started; sleep 60", executor="ray"))
        job = self.wait_running()
        self.kill_step_run()
        stdout, _ = p.communicate(timeout=60)
        self.assertNotEqual(p.returncode, 0, stdout)
        self.assertEqual(self.api("/api/jobs/" + job)["status"], "STOPPED")
        info, _ = self.step_run(parse_result(stdout)[0])
        self.assertEqual(info["status"], "KILLED")

    def test_a_job_stopped_behind_ringos_back_fails_the_step_with_rays_reason(self):
        p = self.start_run(self.write_pipeline("echo started; sleep 60", executor="ray"))
        job = self.wait_running()
        self.api("/api/jobs/%s/stop" % job, {})
        stdout, _ = p.communicate(timeout=60)
        self.assertEqual(p.returncode, 1, stdout)
        info, tags = self.step_run(parse_result(stdout)[0])
        self.assertEqual(info["status"], "FAILED")
        self.assertTrue(tags["ringo.failureReason"].startswith("Ray job %s STOPPED" % job),
                        tags["ringo.failureReason"])
