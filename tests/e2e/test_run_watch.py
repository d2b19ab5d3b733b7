"""Black-box tests of what `ringo run` watches while a step runs: `ringo runs kill` of the
pipeline's run from another process stops the pipeline as Ctrl-C does, and the step's logs reach
its run before the step ends. Each project is written into a fresh temporary directory."""

import os
import signal
import subprocess
import time
import unittest

from harness import kv
from test_run import RunTestCase, alive, clean_env, parse_result, ringo_bin, write

import ringo


class RunWatchTest(RunTestCase):
    def start(self, root):
        proc = subprocess.Popen([ringo_bin(), "run", root, "--tracking-uri", self.server.url,
                                 "--experiment-name", self.experiment],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env=clean_env(), cwd=self.tmp)
        self.addCleanup(proc.kill)
        return proc

    def kill(self, run_id):
        return subprocess.run([ringo_bin(), "runs", "kill", run_id,
                               "--tracking-uri", self.server.url],
                              capture_output=True, text=True, env=clean_env(), timeout=30)

    def wait_for(self, what, proc, predicate, seconds=20):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.assertIsNone(proc.poll(), "ringo run ended while waiting for " + what)
            value = predicate()
            if value:
                return value
            time.sleep(0.2)
        self.fail("timed out waiting for " + what)

    def running_runs(self):
        exp = self.client.get_experiment_by_name(self.experiment)
        if not exp:
            return []
        return self.client.search_runs([exp["experiment_id"]], "attributes.status = 'RUNNING'")

    def test_runs_kill_of_the_pipeline_run_stops_it_like_ctrl_c(self):
        root = os.path.join(self.tmp, "pipe")
        pidfile = os.path.join(self.tmp, "pids")
        after = os.path.join(self.tmp, "after-ran")
        write(os.path.join(root, "MLproject"), """\
            name: pipe
            entry_points:
              main: {}
              sleep:
                command: "sleep 60 & echo $! > %s.tmp; mv %s.tmp %s; wait"
              after:
                command: "touch %s"
            steps:
              - {name: sleeper, entry_point: sleep}
              - {name: after, entry_point: after, needs: [sleeper]}
            """ % (pidfile, pidfile, pidfile, after))
        proc = self.start(root)
        self.wait_for("the step's pid", proc, lambda: os.path.exists(pidfile))
        with open(pidfile) as f:
            sleeper = int(f.read())
        pipeline = [r["info"]["run_id"] for r in self.running_runs()
                    if "mlflow.parentRunId" not in kv(r["data"].get("tags"))]
        self.assertEqual(len(pipeline), 1)
        p = self.kill(pipeline[0])
        self.assertEqual(p.returncode, 0, p.stderr)
        stdout, stderr = proc.communicate(timeout=30)
        self.assertNotEqual(proc.returncode, 0)
        self.assertFalse(alive(sleeper), "the step's process survived")
        self.assertFalse(os.path.exists(after), "a step after the killed one ran")
        self.assertEqual(parse_result(stdout), (pipeline[0], "KILLED"), stdout + stderr)
        steps = self.client.search_runs([self.experiment_id()],
                                        "tags.`mlflow.parentRunId` = '%s'" % pipeline[0])
        self.assertEqual([r["info"]["status"] for r in steps], ["KILLED"])
        # Killed already: a second kill says so.
        p = self.kill(pipeline[0])
        self.assertEqual(p.returncode, 1)
        self.assertIn("is not running (KILLED)", p.stderr)

    def test_logs_reach_the_step_run_while_it_runs(self):
        root = os.path.join(self.tmp, "slow")
        write(os.path.join(root, "MLproject"), """\
            name: slow
            entry_points:
              main: {}
              slow:
                command: "echo started; echo warming up >&2; sleep 30"
            steps:
              - {name: slow, entry_point: slow}
            """)
        proc = self.start(root)
        run = self.wait_for("the step's run", proc, lambda: [
            r["info"]["run_id"] for r in self.running_runs()
            if kv(r["data"].get("tags")).get("ringo.step") == "slow"])[0]

        def logs():
            try:
                return {name: self.client.read_artifact(run, "logs/%s.txt" % name)
                        for name in ("stdout", "stderr")}
            except ringo.RingoError:
                return None  # not uploaded yet

        self.assertEqual(self.wait_for("the logs", proc, logs),
                         {"stdout": b"started\n", "stderr": b"warming up\n"})
        self.assertEqual(self.client.get_run(run)["info"]["status"], "RUNNING")
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=30)


if __name__ == "__main__":
    unittest.main()
