"""Black-box tests of the ringo command line against a live server (and of its failures)."""

import json
import os
import socket
import subprocess
import tempfile
import unittest

from harness import Server, ServerTestCase, kv, ringo_bin, unique


def ringo(*args, env=None, cwd=None, timeout=60):
    """Runs the binary; returns (exit code, stdout, stderr)."""
    full_env = dict(os.environ)
    for var in ("MLFLOW_TRACKING_URI", "RINGO_TRACKING_URI", "MLFLOW_RUN_ID", "RINGO_RUN_ID"):
        full_env.pop(var, None)
    full_env.update(env or {})
    p = subprocess.run([ringo_bin()] + list(args), capture_output=True, text=True, env=full_env,
                       cwd=cwd, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


class CliTest(ServerTestCase):
    def cli(self, *args, env=None):
        e = {"MLFLOW_TRACKING_URI": self.server.url}
        e.update(env or {})
        return ringo(*args, env=e)

    def test_experiments_lifecycle(self):
        name = unique("cli")
        rc, out, err = self.cli("experiments", "create", name)
        self.assertEqual(rc, 0, err)
        eid = out.strip()
        rc, out, _ = self.cli("experiments", "list")
        self.assertIn(name, out)
        rc, out, _ = self.cli("experiments", "get", eid)
        self.assertEqual(json.loads(out)["name"], name)
        self.assertEqual(self.cli("experiments", "rename", eid, name + "-new")[0], 0)
        self.assertEqual(self.cli("experiments", "delete", eid)[0], 0)
        self.assertNotIn(name + "-new", self.cli("experiments", "list")[1])
        self.assertIn(name + "-new", self.cli("experiments", "list", "--all")[1])
        self.assertEqual(self.cli("experiments", "restore", eid)[0], 0)
        rc, out, err = self.cli("experiments", "create", name + "-new")
        self.assertEqual(rc, 1)
        self.assertIn("ringo: error:", err)
        self.assertIn("already exists", err)

    def test_log_verbs_use_the_run_from_the_environment(self):
        run_id = self.new_run()["info"]["run_id"]
        env = {"MLFLOW_RUN_ID": run_id}
        self.assertEqual(self.cli("log", "param", "lr", "0.01", env=env)[0], 0)
        self.assertEqual(self.cli("log", "metric", "loss", "0.5", "--step", "3", env=env)[0], 0)
        self.assertEqual(self.cli("log", "metric", "loss", "nan", "--step", "4", env=env)[0], 0)
        # RINGO_RUN_ID is the twin of MLFLOW_RUN_ID.
        self.assertEqual(self.cli("log", "param", "seed", "7", env={"RINGO_RUN_ID": run_id})[0], 0)
        with tempfile.TemporaryDirectory() as d:
            with open(os.path.join(d, "report.txt"), "w") as f:
                f.write("hello")
            os.makedirs(os.path.join(d, "plots", "deep"))
            with open(os.path.join(d, "plots", "deep", "a.csv"), "w") as f:
                f.write("x,y\n1,2\n")
            rc, _, err = self.cli("log", "artifact", os.path.join(d, "report.txt"), env=env)
            self.assertEqual(rc, 0, err)
            rc, _, err = self.cli("log", "artifact", os.path.join(d, "plots"), "--artifact-path", "figs",
                                  "--run-id", run_id)
            self.assertEqual(rc, 0, err)
        run = self.get_run(run_id)
        self.assertEqual(kv(run["data"]["params"]), {"lr": "0.01", "seed": "7"})
        hist = self.ok("GET", "metrics/get-history", query={"run_id": run_id, "metric_key": "loss"})["metrics"]
        self.assertEqual([(m["step"], m["value"]) for m in hist], [(3, 0.5), (4, "NaN")])
        listing = self.ok("GET", "artifacts/list", query={"run_id": run_id, "path": "figs/deep"})
        self.assertEqual([f["path"] for f in listing["files"]], ["figs/deep/a.csv"])
        root = self.ok("GET", "artifacts/list", query={"run_id": run_id})
        self.assertIn("report.txt", [f["path"] for f in root["files"]])

    def test_runs_list_show_search(self):
        eid = self.new_experiment("cli-runs")
        good = self.new_run(eid, run_name="good")["info"]["run_id"]
        bad = self.new_run(eid, run_name="bad")["info"]["run_id"]
        for rid, acc in ((good, 0.9), (bad, 0.2)):
            self.ok("POST", "runs/log-metric", {"run_id": rid, "key": "acc", "value": acc, "timestamp": 1})
        rc, out, _ = self.cli("runs", "list", "--experiment-id", eid)
        self.assertEqual(rc, 0)
        self.assertIn(good, out)
        self.assertIn(bad, out)
        rc, out, _ = self.cli("runs", "search", "--experiment-id", eid, "--filter", "metrics.acc > 0.5")
        self.assertIn(good, out)
        self.assertNotIn(bad, out)
        rc, out, _ = self.cli("runs", "search", "--experiment-id", eid, "--order-by", "metrics.acc ASC", "--json")
        self.assertEqual([r["info"]["run_id"] for r in json.loads(out)["runs"]], [bad, good])
        rc, out, _ = self.cli("runs", "show", good)
        self.assertIn("acc = 0.9", out)
        rc, _, err = self.cli("runs", "search", "--experiment-id", eid, "--filter", "metrics.acc >> 1")
        self.assertEqual(rc, 1)
        self.assertIn("invalid filter", err)
        rc, _, err = self.cli("runs", "show", "f" * 32)
        self.assertEqual(rc, 1)
        self.assertIn("not found", err)

    def test_runs_of_an_unknown_experiment_fail_naming_it(self):
        for verb in ("list", "search"):
            rc, out, err = self.cli("runs", verb, "--experiment-id", "987654")
            self.assertEqual(rc, 1, (verb, out))
            self.assertIn("experiment '987654' not found", err)


class CliFailureTest(unittest.TestCase):
    def test_log_without_a_run_names_the_problem(self):
        rc, _, err = ringo("log", "param", "a", "b", env={"MLFLOW_TRACKING_URI": "http://127.0.0.1:9"})
        self.assertEqual(rc, 1)
        self.assertIn("MLFLOW_RUN_ID", err)

    def test_unreachable_server(self):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        rc, _, err = ringo("experiments", "list", "--tracking-uri", "http://127.0.0.1:%d" % port)
        self.assertEqual(rc, 1)
        self.assertIn("cannot connect", err)

    def test_bad_tracking_uri_and_usage(self):
        rc, _, err = ringo("experiments", "list", "--tracking-uri", "ftp://x")
        self.assertEqual(rc, 1)
        self.assertIn("unsupported tracking URI", err)
        self.assertNotEqual(ringo("no-such-command")[0], 0)
        self.assertNotEqual(ringo("log", "metric", "k")[0], 0)
        rc, _, err = ringo("log", "metric", "k", "abc", "--run-id", "r", "--tracking-uri", "http://127.0.0.1:9")
        self.assertEqual(rc, 1)
        self.assertIn("not a number", err)

    def test_server_flag_errors(self):
        with tempfile.TemporaryDirectory() as d:
            rc, _, err = ringo("server", "--port", "0", "--backend-store-uri", "mysql://x/y", cwd=d)
            self.assertEqual(rc, 1)
            self.assertIn("expected sqlite:///PATH or postgresql://", err)
            # A PostgreSQL that does not answer stops the server at once, with the reason.
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                closed = s.getsockname()[1]
            uri = "postgresql://ringo:secret@127.0.0.1:%d/ringo" % closed
            rc, _, err = ringo("server", "--port", "0", "--backend-store-uri", uri, cwd=d)
            self.assertEqual(rc, 1)
            self.assertIn("cannot connect", err)
            self.assertNotIn("secret", err)
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                s.listen()
                rc, _, err = ringo("server", "--port", str(s.getsockname()[1]), "--store", os.path.join(d, "s"))
                self.assertEqual(rc, 1)
                self.assertIn("cannot listen", err)

    def test_mlflow_spellings_of_the_store(self):
        with tempfile.TemporaryDirectory() as d:
            db = os.path.join(d, "meta", "mlflow.db")
            arts = os.path.join(d, "arts")
            server = Server(store=os.path.join(d, "unused"),
                            extra_args=["--backend-store-uri", "sqlite:///" + db, "--artifacts-destination", arts])
            server.start()
            try:
                r = server.api("POST", "runs/create", body={"experiment_id": "0"})
                self.assertEqual(r.status, 200)
                rid = r.json["run"]["info"]["run_id"]
                put = server.request("PUT", "/api/2.0/mlflow-artifacts/artifacts/0/%s/artifacts/x.txt" % rid, body=b"x")
                self.assertEqual(put.status, 200)
            finally:
                self.assertEqual(server.stop(), 0)
            self.assertTrue(os.path.isfile(db))
            self.assertTrue(os.path.isfile(os.path.join(arts, "0", rid, "artifacts", "x.txt")))


class StartupTest(unittest.TestCase):
    def test_commands_do_not_load_the_postgresql_client(self):
        # libpq and the ~20 libraries it needs are loaded only for a postgresql:// store.
        rc, _, err = ringo("--help", env={"LD_DEBUG": "files"})
        self.assertEqual(rc, 0, err)
        self.assertIn("libc.so", err)  # the dynamic loader did report what it loaded
        self.assertNotIn("libpq", err)


if __name__ == "__main__":
    unittest.main()
