"""Offline tests of the Python client: request shapes checked against an in-memory fake server."""

import json
import math
import os
import shutil
import ssl
import sys
import tempfile
import threading
import unittest
from unittest import mock

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)

import ringo  # noqa: E402
from ringo import _yaml, fluent  # noqa: E402
from fake_server import make_server  # noqa: E402

_ENV_KEYS = [p + k for p in ("MLFLOW_", "RINGO_")
             for k in ("TRACKING_URI", "RUN_ID", "EXPERIMENT_ID", "EXPERIMENT_NAME")]


class FakeServerTest(unittest.TestCase):
    def setUp(self):
        self.srv, self.state = make_server()
        self.thread = threading.Thread(target=self.srv.serve_forever, daemon=True)
        self.thread.start()
        self.uri = "http://127.0.0.1:%d" % self.srv.server_address[1]
        self.client = ringo.RingoClient(self.uri)
        env = {k: v for k, v in os.environ.items() if k not in _ENV_KEYS}
        self.env = mock.patch.dict(os.environ, env, clear=True)
        self.env.start()
        # Fresh fluent state for every test.
        fluent._tracking_uri = None
        fluent._experiment_id = None
        fluent._consumed_env_run_ids.clear()
        fluent._stack().clear()
        ringo.set_tracking_uri(self.uri)

    def tearDown(self):
        fluent._stack().clear()
        ringo.set_tracking_uri(None)
        self.env.stop()
        self.client.close()
        self.srv.shutdown()
        self.srv.server_close()

    def requests(self, path_suffix):
        return [r for r in self.state.requests if r[1].endswith(path_suffix)]


class EncodingTest(unittest.TestCase):
    def test_non_finite_values_use_proto3_strings(self):
        self.assertEqual(ringo.encode_metric_value(float("nan")), "NaN")
        self.assertEqual(ringo.encode_metric_value(float("inf")), "Infinity")
        self.assertEqual(ringo.encode_metric_value(float("-inf")), "-Infinity")
        self.assertEqual(ringo.encode_metric_value(3), 3.0)
        self.assertTrue(math.isnan(ringo.decode_metric_value("NaN")))
        self.assertEqual(ringo.decode_metric_value("-Infinity"), float("-inf"))
        self.assertEqual(ringo.decode_metric_value(1), 1.0)

    def test_chunking_respects_every_limit(self):
        chunks = list(ringo.chunk_batch(range(2500), range(250), range(130)))
        for m, p, t in chunks:
            self.assertLessEqual(len(m), 1000)
            self.assertLessEqual(len(p), 100)
            self.assertLessEqual(len(t), 100)
            self.assertLessEqual(len(m) + len(p) + len(t), 1000)
        self.assertEqual([x for m, _, _ in chunks for x in m], list(range(2500)))
        self.assertEqual([x for _, p, _ in chunks for x in p], list(range(250)))
        self.assertEqual([x for _, _, t in chunks for x in t], list(range(130)))
        self.assertEqual(list(ringo.chunk_batch()), [])

    def test_yaml_dump(self):
        text = _yaml.dump({"a": 1, "b": [1, "x", {"c": None}], "d": {"e": "yes", "f": "1.5"}, "g": []})
        self.assertEqual(text, 'a: 1\nb:\n- 1\n- x\n- c: null\nd:\n  e: "yes"\n  f: "1.5"\ng: []\n')
        self.assertEqual(_yaml.dump({}), "{}\n")
        self.assertEqual(_yaml.dump({"s": "a: b"}), 's: "a: b"\n')


class TlsContextTest(unittest.TestCase):
    def setUp(self):
        self.saved = {k: os.environ.pop(k, None) for k in
                      ("MLFLOW_TRACKING_INSECURE_TLS", "MLFLOW_TRACKING_SERVER_CERT_PATH")}

    def tearDown(self):
        for k, v in self.saved.items():
            os.environ.pop(k, None)
            if v is not None:
                os.environ[k] = v

    def test_mlflow_variables(self):
        from ringo.client import tls_context
        self.assertEqual(tls_context().verify_mode, ssl.CERT_REQUIRED)
        self.assertTrue(tls_context().check_hostname)
        os.environ["MLFLOW_TRACKING_INSECURE_TLS"] = "True"
        self.assertEqual(tls_context().verify_mode, ssl.CERT_NONE)
        os.environ["MLFLOW_TRACKING_SERVER_CERT_PATH"] = "/nonexistent/ca.pem"
        with self.assertRaises(ValueError):
            tls_context()
        del os.environ["MLFLOW_TRACKING_INSECURE_TLS"]
        with self.assertRaises(OSError):
            tls_context()


class ClientTest(FakeServerTest):
    def test_nan_metrics_are_sent_as_strings(self):
        run = self.client.create_run("0")
        rid = run["info"]["run_id"]
        self.client.log_metric(rid, "m", float("nan"), step=1)
        self.client.log_metric(rid, "m", float("inf"), step=2)
        self.client.log_batch(rid, metrics=[("m", float("-inf"), 5, 3)])
        raw = [r[4] for r in self.requests("/runs/log-metric") + self.requests("/runs/log-batch")]
        self.assertIn(b'"NaN"', raw[0])
        self.assertIn(b'"Infinity"', raw[1])
        self.assertIn(b'"-Infinity"', raw[2])
        hist = self.client.get_metric_history(rid, "m")
        self.assertTrue(math.isnan(hist[0]["value"]))
        self.assertEqual([h["value"] for h in hist[1:]], [float("inf"), float("-inf")])
        self.assertEqual([h["step"] for h in hist], [1, 2, 3])

    def test_run_scoped_calls_send_run_id_and_run_uuid(self):
        rid = self.client.create_run("0")["info"]["run_id"]
        self.client.log_param(rid, "p", 1)
        self.client.log_metric(rid, "m", 1.0)
        self.client.set_tag(rid, "t", "v")
        for path in ("/runs/log-parameter", "/runs/log-metric", "/runs/set-tag"):
            body = self.requests(path)[0][3]
            self.assertEqual((body["run_id"], body["run_uuid"]), (rid, rid), path)
        self.assertEqual(self.requests("/runs/log-parameter")[0][3]["value"], "1")

    def test_log_batch_is_chunked(self):
        rid = self.client.create_run("0")["info"]["run_id"]
        self.client.log_batch(rid, metrics=[{"key": "m", "value": i, "step": i} for i in range(2300)],
                              params={"p%d" % i: i for i in range(230)},
                              tags=[("t%d" % i, i) for i in range(101)])
        batches = [r[3] for r in self.requests("/runs/log-batch")]
        self.assertGreaterEqual(len(batches), 3)
        self.assertEqual(sum(len(b.get("metrics", [])) for b in batches), 2300)
        self.assertEqual(sum(len(b.get("params", [])) for b in batches), 230)
        self.assertEqual(sum(len(b.get("tags", [])) for b in batches), 101)
        steps = [m["step"] for b in batches for m in b.get("metrics", [])]
        self.assertEqual(steps, list(range(2300)))
        self.assertEqual(len(self.client.get_metric_history(rid, "m")), 2300)

    def test_metric_history_follows_page_tokens(self):
        rid = self.client.create_run("0")["info"]["run_id"]
        for i in range(10):
            self.client.log_metric(rid, "loss", 1.0 / (i + 1), step=i, timestamp=1000 + i)
        hist = self.client.get_metric_history(rid, "loss")
        self.assertEqual([h["step"] for h in hist], list(range(10)))
        self.assertEqual(hist[3]["timestamp"], 1003)
        self.assertEqual(len(self.requests("/metrics/get-history")), 4)

    def test_errors_carry_status_and_code(self):
        with self.assertRaises(ringo.RingoError) as cm:
            self.client.get_run("nope")
        self.assertEqual((cm.exception.status, cm.exception.error_code), (404, "RESOURCE_DOES_NOT_EXIST"))
        self.assertIsNone(self.client.get_experiment_by_name("absent"))
        self.client.create_experiment("dup")
        with self.assertRaises(ringo.RingoError) as cm:
            self.client.create_experiment("dup")
        self.assertEqual((cm.exception.status, cm.exception.error_code), (400, "RESOURCE_ALREADY_EXISTS"))

    def test_connection_failure_is_a_ringo_error(self):
        port = self.srv.server_address[1]
        self.srv.shutdown()
        self.srv.server_close()
        c = ringo.RingoClient("http://127.0.0.1:%d" % port, timeout=5)
        with self.assertRaises(ringo.RingoError) as cm:
            c.get_run("x")
        self.assertIsNone(cm.exception.status)
        # setUp's server is gone; make tearDown's shutdown a no-op.
        self.srv = mock.Mock()

    def test_search_runs_paging_helper(self):
        for i in range(7):
            self.client.create_run("0", start_time=1000 + i)
        page = self.client.search_runs(["0"], max_results=3)
        self.assertEqual(len(page), 3)
        self.assertIsNotNone(page.token)
        everything = self.client.search_all_runs(["0"], page_size=3)
        self.assertEqual(len(everything), 7)
        self.assertEqual(len({r["info"]["run_id"] for r in everything}), 7)
        self.assertEqual(len(self.client.search_all_runs(["0"], page_size=2, max_results=5)), 5)

    def test_artifacts_round_trip(self):
        rid = self.client.create_run("0")["info"]["run_id"]
        src = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, src)
        os.makedirs(os.path.join(src, "sub", "deeper"))
        for rel, data in (("a.txt", b"A"), ("sub/b.bin", b"\x00\x01"), ("sub/deeper/c name.txt", b"C")):
            with open(os.path.join(src, *rel.split("/")), "wb") as f:
                f.write(data)
        self.client.log_artifacts(rid, src, "dir")
        puts = [r[1] for r in self.state.requests if r[0] == "PUT"]
        self.assertIn("/api/2.0/mlflow-artifacts/artifacts/0/%s/artifacts/dir/sub/deeper/c%%20name.txt" % rid, puts)
        self.assertEqual([e["path"] for e in self.client.list_artifacts(rid)], ["dir"])
        listing = self.client.list_artifacts(rid, "dir")
        self.assertEqual([(e["path"], e["is_dir"]) for e in listing],
                         [("dir/a.txt", False), ("dir/sub", True)])
        self.assertEqual(listing[0]["file_size"], 1)
        dst = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, dst)
        out = self.client.download_artifacts(rid, "", dst)
        with open(os.path.join(out, "dir", "sub", "deeper", "c name.txt"), "rb") as f:
            self.assertEqual(f.read(), b"C")
        one = self.client.download_artifacts(rid, "dir/sub/b.bin", dst + "/single")
        with open(one, "rb") as f:
            self.assertEqual(f.read(), b"\x00\x01")
        with self.assertRaises(ringo.RingoError):
            self.client.download_artifacts(rid, "missing.txt", dst)


class FluentTest(FakeServerTest):
    def test_start_run_sets_standard_tags_and_nesting(self):
        exp = ringo.set_experiment("fluent")
        with ringo.start_run(run_name="outer", tags={"team": "x"}, description="d") as outer:
            with ringo.start_run(nested=True) as inner:
                ringo.log_metric("m", 1.0, step=2)
        create = [r[3] for r in self.requests("/runs/create")]
        self.assertEqual(create[0]["experiment_id"], exp["experiment_id"])
        tags0 = {t["key"]: t["value"] for t in create[0]["tags"]}
        self.assertEqual(tags0["mlflow.runName"], "outer")
        self.assertEqual(tags0["mlflow.source.type"], "LOCAL")
        self.assertEqual(tags0["mlflow.note.content"], "d")
        self.assertEqual(tags0["team"], "x")
        self.assertIn("mlflow.user", tags0)
        self.assertIn("mlflow.source.name", tags0)
        self.assertEqual(create[0]["run_name"], "outer")
        tags1 = {t["key"]: t["value"] for t in create[1]["tags"]}
        self.assertEqual(tags1["mlflow.parentRunId"], outer.run_id)
        updates = [r[3] for r in self.requests("/runs/update")]
        self.assertEqual([u["run_id"] for u in updates], [inner.run_id, outer.run_id])
        self.assertEqual({u["status"] for u in updates}, {"FINISHED"})
        self.assertIsNone(ringo.active_run())

    def test_set_experiment_creates_only_on_404(self):
        ringo.set_experiment("e1")
        ringo.set_experiment("e1")
        self.assertEqual(len(self.requests("/experiments/create")), 1)
        self.assertEqual(len(self.requests("/experiments/get-by-name")), 2)

    def test_failed_block_marks_run_failed(self):
        with self.assertRaises(ZeroDivisionError):
            with ringo.start_run():
                1 / 0
        self.assertEqual(self.requests("/runs/update")[-1][3]["status"], "FAILED")

    def test_second_start_run_without_nested_is_refused(self):
        with ringo.start_run():
            with self.assertRaises(ringo.RingoError):
                ringo.start_run()

    def test_env_run_id_resumes_once(self):
        rid = self.client.create_run("0")["info"]["run_id"]
        os.environ["MLFLOW_RUN_ID"] = rid
        with ringo.start_run() as r:
            self.assertEqual(r.run_id, rid)
        self.assertEqual(self.requests("/runs/update")[0][3]["status"], "RUNNING")
        with ringo.start_run() as r2:
            self.assertNotEqual(r2.run_id, rid)

    def test_ringo_env_twins(self):
        ringo.set_tracking_uri(None)
        os.environ["RINGO_TRACKING_URI"] = self.uri
        self.assertEqual(ringo.get_tracking_uri(), self.uri)
        os.environ["MLFLOW_TRACKING_URI"] = "http://127.0.0.1:1"
        self.assertEqual(ringo.get_tracking_uri(), "http://127.0.0.1:1")
        del os.environ["MLFLOW_TRACKING_URI"]
        eid = self.client.create_experiment("by-env")
        os.environ["RINGO_EXPERIMENT_ID"] = eid
        with ringo.start_run() as r:
            self.assertEqual(r.info["experiment_id"], eid)
        rid = self.client.create_run("0")["info"]["run_id"]
        os.environ["RINGO_RUN_ID"] = rid
        with ringo.start_run() as r:
            self.assertEqual(r.run_id, rid)

    def test_log_helpers(self):
        with ringo.start_run() as r:
            ringo.log_params({"p%d" % i: i for i in range(150)})
            ringo.log_metrics({"m%d" % i: float(i) for i in range(1200)}, step=3)
            ringo.set_tags({"t%d" % i: i for i in range(120)})
            ringo.log_dict({"a": [1, 2]}, "cfg/config.yaml")
            ringo.log_dict({"a": [1, 2]}, "cfg/config.json")
            ringo.log_text("hello", "notes/readme.txt")
            ringo.log_input({"name": "ds", "digest": "abc", "source_type": "local", "source": "/x"},
                            context="training")
        for _, _, _, body, _ in self.requests("/runs/log-batch"):
            self.assertLessEqual(len(body.get("metrics", [])) + len(body.get("params", []))
                                 + len(body.get("tags", [])), 1000)
        run = ringo.get_run(r.run_id)
        self.assertEqual(len(run["data"]["params"]), 150)
        self.assertEqual(len(run["data"]["metrics"]), 1200)
        arts = self.state.artifacts
        base = "0/%s/artifacts/" % r.run_id
        self.assertEqual(arts[base + "cfg/config.yaml"], b"a:\n- 1\n- 2\n")
        self.assertEqual(json.loads(arts[base + "cfg/config.json"]), {"a": [1, 2]})
        self.assertEqual(arts[base + "notes/readme.txt"], b"hello")
        ds = run["inputs"]["dataset_inputs"][0]
        self.assertEqual(ds["tags"], [{"key": "mlflow.data.context", "value": "training"}])

    def test_logging_without_active_run_starts_one(self):
        ringo.log_param("a", "b")
        self.assertIsNotNone(ringo.active_run())
        ringo.end_run("KILLED")
        self.assertEqual(self.requests("/runs/update")[-1][3]["status"], "KILLED")
        self.assertIsNone(ringo.active_run())


if __name__ == "__main__":
    unittest.main()
