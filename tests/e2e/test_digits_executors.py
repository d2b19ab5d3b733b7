"""The digits example with train on a private Slurm cluster and evaluate on a local Ray head:
the same model and metrics as a local run, nothing submitted when everything is cached, and
only train and what follows resubmitted when the learning rate changes."""

import json
import os
import re
import shutil
import urllib.request

from harness import kv
from ray_head import RayHead
from slurm_cluster import SlurmCluster
from test_run import RunTestCase, parse_result

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def output_hashes(tags):
    return {k: v for k, v in tags.items() if k.startswith("ringo.outputHash.")}


class DigitsOnClustersTest(RunTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.slurm, cls.ray = SlurmCluster(), RayHead()
        try:
            cls.slurm.start()
            cls.ray.start()
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.ray.stop()
        cls.slurm.stop()
        super().tearDownClass()

    def copy(self, name, executors):
        """A copy of examples/digits whose steps name the given executors."""
        dst = os.path.join(self.tmp, name)
        shutil.copytree(os.path.join(ROOT, "examples", "digits"), dst,
                        ignore=shutil.ignore_patterns(".ringo", "__pycache__", "ringo-data"))
        path = os.path.join(dst, "MLproject")
        with open(path) as f:
            text = f.read()
        for step, executor in executors.items():
            text = text.replace("  - name: %s\n" % step,
                                "  - name: %s\n    executor: %s\n" % (step, executor))
        with open(path, "w") as f:
            f.write(text)
        return dst

    def run_digits(self, project, experiment, *params):
        args = ["--experiment-name", experiment, "-P", "epochs=3"]
        for p in params:
            args += ["-P", p]
        env = {"SLURM_CONF": self.slurm.env["SLURM_CONF"], "RAY_ADDRESS": self.ray.address}
        rc, stdout, stderr = self.ringo_run(project, *args, env=env, timeout=240,
                                            experiment=False)
        self.assertEqual(rc, 0, stdout + stderr)
        run_id, _ = parse_result(stdout)
        steps = dict(re.findall(r"^  (\S+): (\S+)(?: \(run|$)", stdout, re.M))
        runs = self.client.search_runs(
            [self.client.get_experiment_by_name(experiment)["experiment_id"]],
            "tags.`mlflow.parentRunId` = '%s'" % run_id)
        by_step = {}
        for r in runs:
            tags = kv(r["data"].get("tags"))
            metrics = {m["key"]: m["value"] for m in r["data"].get("metrics", [])}
            by_step[tags["ringo.step"]] = (tags, metrics)
        return steps, by_step

    def submitted(self):
        slurm = self.slurm.run("scontrol", "show", "job", "-o").count("JobId=")
        with urllib.request.urlopen(self.ray.address + "/api/jobs/", timeout=10) as r:
            return slurm, len(json.load(r))

    def test_train_on_slurm_and_evaluate_on_ray_match_a_local_run(self):
        _, local = self.run_digits(self.copy("local", {}), "digits-local")
        project = self.copy("clusters", {"train": "slurm", "evaluate": "ray"})
        steps, remote = self.run_digits(project, "digits-clusters")
        self.assertEqual(set(steps.values()), {"ran"})
        self.assertEqual(remote["train"][0]["ringo.executor"], "slurm")
        self.assertEqual(remote["evaluate"][0]["ringo.executor"], "ray")
        for step in ("preprocess", "train", "evaluate", "convert"):
            self.assertEqual(output_hashes(remote[step][0]), output_hashes(local[step][0]), step)
            self.assertEqual(remote[step][1], local[step][1], step)

        before = self.submitted()
        steps, _ = self.run_digits(project, "digits-clusters")
        self.assertEqual(set(steps.values()), {"cached"})
        self.assertEqual(self.submitted(), before)

        steps, _ = self.run_digits(project, "digits-clusters", "lr=0.02")
        self.assertEqual(steps, {"preprocess": "cached", "train": "ran", "evaluate": "ran",
                                 "convert": "ran"})
        self.assertEqual(self.submitted(), (before[0] + 1, before[1] + 1))
