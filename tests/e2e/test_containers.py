"""Black-box tests of docker_env steps in real containers: `ringo run --env-manager docker` with
podman (chosen by itself: a docker CLI without an engine is passed over) and an image the class
builds from a local root file system. Steps log through the tracking server from inside the
container, write outputs through the project mount, fail with their exit codes, and leave no
container behind when the run is stopped."""

import os
import re
import shlex
import signal
import subprocess
import sys
import time
import unittest

from container_image import ContainerImage
from harness import kv
from test_run import RunTestCase, clean_env, parse_result, ringo_bin, write

# Logs metric `$1` = `$2` to the step's run with busybox's wget: MLflow's REST API, from inside
# the container, at the tracking URI ringo gives the step.
LOG_METRIC = ("wget -q -O /dev/null --header 'Content-Type: application/json' --post-data "
              "\"{\\\"run_id\\\": \\\"$MLFLOW_RUN_ID\\\", \\\"key\\\": \\\"$1\\\", "
              "\\\"value\\\": $2, \\\"timestamp\\\": $(date +%s)000, \\\"step\\\": 0}\" "
              "\"$MLFLOW_TRACKING_URI/api/2.0/mlflow/runs/log-metric\"")


class ContainerTest(RunTestCase):
    @classmethod
    def setUpClass(cls):
        cls.image = ContainerImage()
        try:
            ok = cls.image.start()
        except BaseException:
            cls.image.stop()
            raise
        if not ok:
            reason = cls.image.reason
            cls.image.stop()
            print("containers: skipped: " + reason, file=sys.stderr)
            raise unittest.SkipTest(reason)
        try:
            super().setUpClass()
        except BaseException:
            cls.image.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        cls.image.stop()

    def ringo_run(self, project, *args, env=None, timeout=60, experiment=True):
        e = dict(self.image.env)
        e.update(env or {})
        return super().ringo_run(project, "--env-manager", "docker", *args, env=e,
                                 timeout=timeout, experiment=experiment)

    def write_pipeline(self, command, image=None, step_extra=()):
        """A pipeline whose step `s` runs `command` in `image` (default: the class's, by its
        short name), with the output directory as {out}, /ledger mounted from the test's
        directory, and the YAML lines `step_extra` added to the step."""
        root = os.path.join(self.tmp, "pipe")
        self.ledger_dir = os.path.join(self.tmp, "ledger")
        os.makedirs(self.ledger_dir, exist_ok=True)
        write(os.path.join(root, "s", "log_metric.sh"), LOG_METRIC + "\n")
        write(os.path.join(root, "s", "MLproject"), """\
            name: s
            docker_env:
              image: %s
              volumes: ["%s:/ledger"]
              environment: [["STEP_MODE", "container"]]
            entry_points:
              main:
                parameters: {out: path}
                command: %s
            """ % (image or self.image.short_name, self.ledger_dir, shlex.quote(command)))
        write(os.path.join(root, "MLproject"), """\
            name: pipe
            steps:
              - name: s
                project: s
                parameters: {out: "{outputs.data}"}
                outputs: [data]%s
            """ % "".join("\n                " + line for line in step_extra))
        return root

    def step_run(self, pipeline_run_id):
        runs = self.client.search_runs(
            [self.experiment_id()], "tags.`mlflow.parentRunId` = '%s'" % pipeline_run_id)
        self.assertEqual(len(runs), 1)
        return runs[0]["info"], kv(runs[0]["data"].get("tags")), runs[0]["data"]

    def ledger_lines(self):
        path = os.path.join(self.ledger_dir, "runs")
        if not os.path.exists(path):
            return []
        with open(path) as f:
            return f.read().split()

    def test_a_step_runs_in_its_image_logs_a_metric_and_a_rerun_is_cached(self):
        root = self.write_pipeline(
            "cat /etc/ringo-image > {out}/image.txt; echo $STEP_MODE >> {out}/image.txt; "
            "echo $MLFLOW_RUN_ID >> /ledger/runs; sh log_metric.sh accuracy 0.75; "
            "echo hello from the container")
        rc, stdout, stderr = self.ringo_run(root)
        self.assertEqual(rc, 0, stdout + stderr)
        info, tags, data = self.step_run(parse_result(stdout)[0])
        self.assertEqual(info["status"], "FINISHED")
        self.assertEqual(tags["ringo.executor"], "container")
        self.assertEqual(tags["ringo.exitCode"], "0")
        # As written, or podman's local name for it when the engine needed that.
        self.assertIn(tags["ringo.containerImage"], (self.image.short_name, self.image.name))
        self.assertRegex(tags["ringo.jobId"], r"^[0-9a-f]{64}$")
        self.assertEqual(kv(data.get("metrics")), {"accuracy": 0.75})
        with open(os.path.join(root, ".ringo", "outputs", "s", "data", "image.txt")) as f:
            self.assertEqual(f.read(), self.image.short_name + "\ncontainer\n")
        self.assertEqual(self.ledger_lines(), [info["run_id"]])
        self.assertIn("hello from the container", stdout)
        self.assertEqual(self.client.read_artifact(info["run_id"], "logs/stdout.txt"),
                         b"hello from the container\n")
        self.assertEqual(self.image.containers(info["run_id"]), [])  # --rm
        rc, stdout, stderr = self.ringo_run(root)
        self.assertEqual(rc, 0, stdout + stderr)
        self.assertIn("  s: cached", stdout)
        self.assertEqual(self.ledger_lines(), [info["run_id"]])  # nothing ran

    def test_a_failing_container_step_fails_the_run_with_its_exit_code(self):
        root = self.write_pipeline("echo about to fail >&2; exit 3")
        rc, stdout, stderr = self.ringo_run(root)
        self.assertEqual(rc, 1, stdout + stderr)
        info, tags, _ = self.step_run(parse_result(stdout)[0])
        self.assertEqual(info["status"], "FAILED")
        self.assertEqual(tags["ringo.exitCode"], "3")
        self.assertNotIn("ringo.failureReason", tags)  # the step failed, not the engine
        self.assertEqual(self.client.read_artifact(info["run_id"], "logs/stderr.txt"),
                         b"about to fail\n")
        self.assertIn("s: failed with exit code 3", stdout)

    def test_a_retried_step_runs_in_a_new_container(self):
        # Fails the first time (one line in the ledger), succeeds the second.
        root = self.write_pipeline(
            "echo $MLFLOW_RUN_ID >> /ledger/runs; test $(wc -l < /ledger/runs) -ge 2",
            step_extra=["retries: 1", "retry_backoff: 0.1"])
        rc, stdout, stderr = self.ringo_run(root)
        self.assertEqual(rc, 0, stdout + stderr)
        info, tags, _ = self.step_run(parse_result(stdout)[0])
        self.assertEqual(tags["ringo.attempts"], "2")
        self.assertEqual(tags["ringo.exitCode"], "0")
        self.assertEqual(self.ledger_lines(), [info["run_id"]] * 2)
        self.assertEqual(self.image.containers(info["run_id"]), [])

    def test_cancelling_the_run_removes_its_container(self):
        self.check_stopping_removes_the_container(lambda p, run_id: p.send_signal(signal.SIGINT))

    def test_runs_kill_of_the_step_run_removes_its_container(self):
        def kill(_, run_id):
            p = subprocess.run([ringo_bin(), "runs", "kill", run_id,
                                "--tracking-uri", self.server.url],
                               capture_output=True, text=True, env=clean_env(), timeout=30)
            self.assertEqual(p.returncode, 0, p.stderr)

        self.check_stopping_removes_the_container(kill)

    def check_stopping_removes_the_container(self, stop):
        """Starts a step that sleeps in its container, stops it with `stop(process, step run
        id)`, and checks with podman's own `ps` that the container is gone."""
        root = self.write_pipeline("echo started; sleep 60")
        p = subprocess.Popen([ringo_bin(), "run", root, "--env-manager", "docker",
                              "--tracking-uri", self.server.url,
                              "--experiment-name", self.experiment],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                             env=clean_env(self.image.env), cwd=self.tmp)
        self.addCleanup(p.kill)
        run_id = None
        for line in p.stdout:
            m = re.search(r"step s: running \(run (\w+)\)", line)
            if m:
                run_id = m.group(1)
            if line.strip() == "started":
                break
        self.assertIsNotNone(run_id)
        self.assertEqual(len(self.image.containers(run_id)), 1)
        started = time.monotonic()
        stop(p, run_id)
        stdout, _ = p.communicate(timeout=30)
        self.assertLess(time.monotonic() - started, 15, stdout)  # not the 60 s sleep
        self.assertNotEqual(p.returncode, 0, stdout)
        self.assertIn("step s: killed", stdout)
        self.assertEqual(self.image.containers(run_id), [])
        self.assertEqual(self.client.get_run(run_id)["info"]["status"], "KILLED")

    def test_a_missing_image_is_a_clear_error_before_anything_runs(self):
        missing = "localhost/ringo-missing-%s:1" % os.path.basename(self.tmp)[-8:].lower()
        root = self.write_pipeline("echo ran >> /ledger/runs", image=missing)
        rc, stdout, stderr = self.ringo_run(root)
        self.assertEqual(rc, 1, stdout + stderr)
        self.assertIn("image '%s' is not on this machine for podman" % missing, stderr)
        self.assertIn("ringo pulls no images", stderr)
        self.assertEqual(self.ledger_lines(), [])
        # Checked before the run's experiment and run were made.
        self.assertIsNone(self.client.get_experiment_by_name(self.experiment))

    def test_the_tracking_ca_bundle_is_mounted_where_its_variable_points(self):
        d = os.path.join(self.tmp, "tls")
        write(os.path.join(d, "MLproject"), """\
            name: tls
            docker_env:
              image: %s
            entry_points:
              main:
                command: 'cat "$MLFLOW_TRACKING_SERVER_CERT_PATH" > ca-seen.txt'
            """ % self.image.name)
        ca = os.path.join(self.tmp, "ca dir", "ca.pem")
        os.makedirs(os.path.dirname(ca))
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-nodes", "-keyout", ca + ".key", "-out", ca,
                        "-subj", "/CN=ringo-test-ca", "-days", "1"],
                       check=True, capture_output=True)
        rc, stdout, stderr = self.ringo_run(d, env={"MLFLOW_TRACKING_SERVER_CERT_PATH": ca})
        self.assertEqual(rc, 0, stdout + stderr)
        with open(ca) as want, open(os.path.join(d, "ca-seen.txt")) as seen:
            self.assertEqual(seen.read(), want.read())

    def test_a_container_the_engine_cannot_start_fails_with_the_engines_words(self):
        d = os.path.join(self.tmp, "unstartable")
        missing = os.path.join(self.tmp, "no-such-dir")
        write(os.path.join(d, "MLproject"), """\
            name: unstartable
            docker_env:
              image: %s
              volumes: ["%s:/data"]
            entry_points:
              main:
                command: "true"
            """ % (self.image.name, missing))
        rc, stdout, stderr = self.ringo_run(d)
        self.assertEqual(rc, 1, stdout + stderr)
        run_id, status = parse_result(stdout)
        self.assertEqual(status, "FAILED")
        tags = kv(self.client.get_run(run_id)["data"].get("tags"))
        self.assertIn(tags["ringo.exitCode"], ("125", "126", "127"))
        self.assertRegex(tags["ringo.failureReason"], r"^podman could not run the container: .*"
                         + re.escape(missing))

    def test_no_working_container_cli_is_a_clear_error(self):
        root = self.write_pipeline("echo ran >> /ledger/runs")
        rc, stdout, stderr = self.ringo_run(root, "--container-cli", "ringo-no-such-cli")
        self.assertEqual(rc, 1, stdout + stderr)
        self.assertIn("docker_env needs a container engine, and none answered "
                      "(ringo-no-such-cli: not found)", stderr)
        self.assertEqual(self.ledger_lines(), [])
        self.assertIsNone(self.client.get_experiment_by_name(self.experiment))

    def test_a_plain_project_runs_in_its_image_with_docker_env_environment(self):
        d = os.path.join(self.tmp, "plain:1")  # a ':' cannot split the project's mount
        write(os.path.join(d, "MLproject"), """\
            name: plain
            docker_env:
              image: %s
              environment: [["GREETING", "hello"], "FROM_HOST"]
            entry_points:
              main:
                parameters: {n: {type: float, default: 2}}
                command: "echo $GREETING $FROM_HOST {n} $(cat /etc/ringo-image) > out.txt; pwd;
                  cat /mlflow/projects/code/out.txt"
            """ % self.image.name)
        rc, stdout, stderr = self.ringo_run(d, "-P", "n=5", env={"FROM_HOST": "copied"})
        self.assertEqual(rc, 0, stdout + stderr)
        with open(os.path.join(d, "out.txt")) as f:
            self.assertEqual(f.read(), "hello copied 5 %s\n" % self.image.short_name)
        # The project at its own path, and where MLflow mounts it.
        self.assertIn("\n%s\nhello copied 5 %s\n" % (d, self.image.short_name), stdout)
        run_id, status = parse_result(stdout)
        self.assertEqual(status, "FINISHED")
        tags = kv(self.client.get_run(run_id)["data"].get("tags"))
        self.assertEqual(tags["ringo.executor"], "container")
        self.assertEqual(tags["mlflow.project.env"], "docker")
        self.assertEqual(tags["ringo.containerImage"], self.image.name)
        self.assertEqual(tags["ringo.exitCode"], "0")
        self.assertRegex(tags["ringo.jobId"], r"^[0-9a-f]{64}$")


if __name__ == "__main__":
    unittest.main()
