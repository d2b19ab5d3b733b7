"""Black-box tests of the MLflow tracking REST API of `ringo server`, with raw HTTP requests."""

import math
import unittest

from harness import AJAX, API, ServerTestCase, kv, metric_value, unique


class HealthAndRoutingTest(ServerTestCase):
    def test_health(self):
        r = self.server.request("GET", "/health")
        self.assertEqual((r.status, r.body.strip()), (200, b"OK"))

    def test_metrics_is_prometheus_text(self):
        self.server.request("GET", "/health")
        r = self.server.request("GET", "/metrics")
        self.assertEqual(r.status, 200)
        text = r.body.decode("utf-8")
        samples = [ln for ln in text.splitlines() if ln and not ln.startswith("#")]
        self.assertTrue(samples, text)
        for ln in samples:
            # "name{labels} value [timestamp]": the value must parse as a float.
            parts = ln.split("}")[-1].split() if "}" in ln else ln.split()[1:]
            self.assertTrue(parts, ln)
            float(parts[0])

    def test_unknown_routes_are_404(self):
        for path in (API + "no-such-endpoint", API + "runs/nope", "/api/2.0/nothing", "/definitely/not/here"):
            self.assertEqual(self.server.request("GET", path).status, 404, path)
        self.assertEqual(self.server.request("POST", API + "runs/nope", body={}).status, 404)

    def test_wrong_method_is_405_or_404(self):
        self.assertIn(self.call("GET", "runs/create").status, (404, 405))
        self.assertIn(self.call("DELETE", "experiments/get", query={"experiment_id": "0"}).status, (404, 405))
        self.assertIn(self.call("POST", "runs/get", body={"run_id": "x"}).status, (404, 405))


class ExperimentTest(ServerTestCase):
    def test_default_experiment(self):
        exp = self.ok("GET", "experiments/get", query={"experiment_id": "0"})["experiment"]
        self.assertEqual((exp["experiment_id"], exp["name"], exp["lifecycle_stage"]), ("0", "Default", "active"))
        by_name = self.ok("GET", "experiments/get-by-name", query={"experiment_name": "Default"})["experiment"]
        self.assertEqual(by_name["experiment_id"], "0")

    def test_create_and_get(self):
        name = unique("create")
        eid = self.ok("POST", "experiments/create",
                      {"name": name, "tags": [{"key": "team", "value": "vision"}]})["experiment_id"]
        self.assertIsInstance(eid, str)
        exp = self.ok("GET", "experiments/get", query={"experiment_id": eid})["experiment"]
        self.assertEqual(exp["name"], name)
        self.assertEqual(exp["experiment_id"], eid)
        self.assertEqual(exp["lifecycle_stage"], "active")
        self.assertTrue(exp["artifact_location"])
        self.assertGreater(int(exp["creation_time"]), 0)
        self.assertGreaterEqual(int(exp["last_update_time"]), int(exp["creation_time"]))
        self.assertEqual(kv(exp.get("tags")), {"team": "vision"})
        by_name = self.ok("GET", "experiments/get-by-name", query={"experiment_name": name})["experiment"]
        self.assertEqual(by_name["experiment_id"], eid)

    def test_create_errors(self):
        name = unique("dup")
        self.ok("POST", "experiments/create", {"name": name})
        self.err(400, "RESOURCE_ALREADY_EXISTS", "POST", "experiments/create", {"name": name})
        self.err(400, "INVALID_PARAMETER_VALUE", "POST", "experiments/create", {})
        self.err(400, "INVALID_PARAMETER_VALUE", "POST", "experiments/create", {"name": ""})

    def test_unknown_experiment_is_404(self):
        self.err(404, "RESOURCE_DOES_NOT_EXIST", "GET", "experiments/get", query={"experiment_id": "987654321"})
        self.err(404, "RESOURCE_DOES_NOT_EXIST", "GET", "experiments/get-by-name",
                 query={"experiment_name": unique("absent")})
        for ep, body in (("experiments/update", {"experiment_id": "987654321", "new_name": unique("n")}),
                         ("experiments/delete", {"experiment_id": "987654321"}),
                         ("experiments/restore", {"experiment_id": "987654321"}),
                         ("experiments/set-experiment-tag", {"experiment_id": "987654321", "key": "k", "value": "v"})):
            self.err(404, "RESOURCE_DOES_NOT_EXIST", "POST", ep, body)

    def test_missing_experiment_id_is_400(self):
        self.err(400, "INVALID_PARAMETER_VALUE", "GET", "experiments/get")
        self.err(400, "INVALID_PARAMETER_VALUE", "GET", "experiments/get-by-name")

    def test_update_renames(self):
        eid = self.new_experiment("old")
        old = self.ok("GET", "experiments/get", query={"experiment_id": eid})["experiment"]["name"]
        new = unique("new")
        self.ok("POST", "experiments/update", {"experiment_id": eid, "new_name": new})
        self.assertEqual(self.ok("GET", "experiments/get", query={"experiment_id": eid})["experiment"]["name"], new)
        self.err(404, "RESOURCE_DOES_NOT_EXIST", "GET", "experiments/get-by-name", query={"experiment_name": old})
        other = self.new_experiment("other")
        taken = self.ok("GET", "experiments/get", query={"experiment_id": other})["experiment"]["name"]
        r = self.call("POST", "experiments/update", {"experiment_id": eid, "new_name": taken})
        self.assertError(r, 400)

    def test_delete_and_restore(self):
        eid = self.new_experiment("del")
        self.ok("POST", "experiments/delete", {"experiment_id": eid})
        exp = self.ok("GET", "experiments/get", query={"experiment_id": eid})["experiment"]
        self.assertEqual(exp["lifecycle_stage"], "deleted")
        active = self.ok("POST", "experiments/search", {"max_results": 1000}).get("experiments", [])
        self.assertNotIn(eid, [e["experiment_id"] for e in active])
        deleted = self.ok("POST", "experiments/search", {"view_type": "DELETED_ONLY", "max_results": 1000})
        self.assertIn(eid, [e["experiment_id"] for e in deleted.get("experiments", [])])
        # A deleted experiment takes no new runs.
        self.err(400, "INVALID_PARAMETER_VALUE", "POST", "runs/create", {"experiment_id": eid})
        self.ok("POST", "experiments/restore", {"experiment_id": eid})
        exp = self.ok("GET", "experiments/get", query={"experiment_id": eid})["experiment"]
        self.assertEqual(exp["lifecycle_stage"], "active")

    def test_tags(self):
        eid = self.new_experiment("tags")
        self.ok("POST", "experiments/set-experiment-tag", {"experiment_id": eid, "key": "a", "value": "1"})
        self.ok("POST", "experiments/set-experiment-tag", {"experiment_id": eid, "key": "b", "value": "2"})
        self.ok("POST", "experiments/set-experiment-tag", {"experiment_id": eid, "key": "a", "value": "3"})
        exp = self.ok("GET", "experiments/get", query={"experiment_id": eid})["experiment"]
        self.assertEqual(kv(exp.get("tags")), {"a": "3", "b": "2"})
        self.ok("POST", "experiments/delete-experiment-tag", {"experiment_id": eid, "key": "a"})
        exp = self.ok("GET", "experiments/get", query={"experiment_id": eid})["experiment"]
        self.assertEqual(kv(exp.get("tags")), {"b": "2"})
        self.err(400, "INVALID_PARAMETER_VALUE", "POST", "experiments/set-experiment-tag",
                 {"experiment_id": eid, "key": "", "value": "x"})

    def test_search_filter_order_and_paging(self):
        prefix = unique("srch")
        ids = {}
        for i, name in enumerate(["b", "a", "d", "c", "e"]):
            ids[name] = self.ok("POST", "experiments/create", {
                "name": "%s-%s" % (prefix, name),
                "tags": [{"key": "parity", "value": "even" if i % 2 == 0 else "odd"}]})["experiment_id"]

        def search(**body):
            return self.ok("POST", "experiments/search", body)

        got = search(filter="name LIKE '%s-%%'" % prefix, order_by=["name ASC"], max_results=100)
        self.assertEqual([e["name"][-1] for e in got["experiments"]], ["a", "b", "c", "d", "e"])
        got = search(filter="name LIKE '%s-%%'" % prefix, order_by=["name DESC"], max_results=100)
        self.assertEqual([e["name"][-1] for e in got["experiments"]], ["e", "d", "c", "b", "a"])
        got = search(filter="name ILIKE '%s-%%' AND tags.parity = 'even'" % prefix.upper(), order_by=["name"])
        self.assertEqual(sorted(e["name"][-1] for e in got["experiments"]), ["b", "d", "e"])
        got = search(filter="name = '%s-c'" % prefix)
        self.assertEqual([e["experiment_id"] for e in got["experiments"]], [ids["c"]])
        got = search(filter="name LIKE '%s-%%' AND name != '%s-c'" % (prefix, prefix))
        self.assertEqual(len(got["experiments"]), 4)

        seen, token, pages = [], None, 0
        while True:
            body = {"filter": "name LIKE '%s-%%'" % prefix, "order_by": ["name ASC"], "max_results": 2}
            if token:
                body["page_token"] = token
            page = search(**body)
            pages += 1
            self.assertLessEqual(len(page.get("experiments", [])), 2)
            seen += [e["name"][-1] for e in page.get("experiments", [])]
            token = page.get("next_page_token")
            if not token:
                break
            self.assertLess(pages, 10, "paging does not terminate")
        self.assertEqual(seen, ["a", "b", "c", "d", "e"])
        self.assertGreaterEqual(pages, 3)

    def test_search_invalid_filter(self):
        self.err(400, "INVALID_PARAMETER_VALUE", "POST", "experiments/search", {"filter": "nonsense ~~ 'x'"})
        self.err(400, "INVALID_PARAMETER_VALUE", "POST", "experiments/search", {"max_results": 0})

    def test_ajax_twins(self):
        exp = self.ok("GET", "experiments/get", query={"experiment_id": "0"}, prefix=AJAX)["experiment"]
        self.assertEqual(exp["name"], "Default")
        got = self.ok("POST", "experiments/search", {"max_results": 10}, prefix=AJAX)
        self.assertIn("0", [e["experiment_id"] for e in got["experiments"]])


class RunTest(ServerTestCase):
    def setUp(self):
        self.eid = self.new_experiment("runs")

    def test_create_and_get(self):
        run = self.new_run(self.eid, start_time=1700000000123, run_name="first",
                           tags=[{"key": "k", "value": "v"}])
        info = run["info"]
        rid = info["run_id"]
        self.assertTrue(rid)
        self.assertEqual(info["experiment_id"], self.eid)
        self.assertEqual(info["status"], "RUNNING")
        self.assertEqual(info["lifecycle_stage"], "active")
        self.assertEqual(int(info["start_time"]), 1700000000123)
        self.assertEqual(info["run_name"], "first")
        self.assertEqual(info["artifact_uri"], "mlflow-artifacts:/%s/%s/artifacts" % (self.eid, rid))
        tags = kv(run["data"].get("tags"))
        self.assertEqual(tags["k"], "v")
        self.assertEqual(tags["mlflow.runName"], "first")
        got = self.get_run(rid)
        self.assertEqual(got["info"]["run_id"], rid)
        self.assertEqual(kv(got["data"].get("tags"))["k"], "v")
        # run_uuid is the deprecated twin of run_id.
        self.assertEqual(self.ok("GET", "runs/get", query={"run_uuid": rid})["run"]["info"]["run_id"], rid)
        self.assertEqual(self.ok("GET", "runs/get", query={"run_id": rid}, prefix=AJAX)["run"]["info"]["run_id"], rid)

    def test_create_without_name_gets_one(self):
        run = self.new_run(self.eid)
        self.assertTrue(run["info"]["run_name"])
        self.assertEqual(kv(run["data"].get("tags")).get("mlflow.runName"), run["info"]["run_name"])

    def test_create_errors(self):
        self.err(404, "RESOURCE_DOES_NOT_EXIST", "POST", "runs/create", {"experiment_id": "987654321"})
        self.err(404, "RESOURCE_DOES_NOT_EXIST", "GET", "runs/get", query={"run_id": "0" * 32})
        self.err(400, "INVALID_PARAMETER_VALUE", "GET", "runs/get")

    def test_int64_fields_accept_strings(self):
        run = self.new_run(self.eid, start_time="1700000000456")
        self.assertEqual(int(run["info"]["start_time"]), 1700000000456)
        rid = run["info"]["run_id"]
        self.ok("POST", "runs/log-metric", {"run_id": rid, "key": "m", "value": 1.5, "timestamp": "1700000000999",
                                            "step": "7"})
        hist = self.ok("GET", "metrics/get-history", query={"run_id": rid, "metric_key": "m"})["metrics"]
        self.assertEqual((int(hist[0]["step"]), int(hist[0]["timestamp"])), (7, 1700000000999))

    def test_update(self):
        rid = self.new_run(self.eid, run_name="before")["info"]["run_id"]
        info = self.ok("POST", "runs/update", {"run_id": rid, "status": "FINISHED", "end_time": 1700000009999,
                                               "run_name": "after"})["run_info"]
        self.assertEqual((info["status"], int(info["end_time"]), info["run_name"]), ("FINISHED", 1700000009999, "after"))
        run = self.get_run(rid)
        self.assertEqual(run["info"]["status"], "FINISHED")
        self.assertEqual(run["info"]["run_name"], "after")
        self.assertEqual(kv(run["data"]["tags"])["mlflow.runName"], "after")
        # Resuming sets the status back to RUNNING (what start_run(run_id=...) does).
        self.ok("POST", "runs/update", {"run_uuid": rid, "status": "RUNNING"})
        self.assertEqual(self.get_run(rid)["info"]["status"], "RUNNING")
        self.err(400, ("INVALID_PARAMETER_VALUE", "BAD_REQUEST"), "POST", "runs/update",
                 {"run_id": rid, "status": "EXPLODED"})
        self.err(404, "RESOURCE_DOES_NOT_EXIST", "POST", "runs/update", {"run_id": "0" * 32, "status": "FINISHED"})

    def test_delete_restore(self):
        rid = self.new_run(self.eid)["info"]["run_id"]
        self.ok("POST", "runs/delete", {"run_id": rid})
        self.assertEqual(self.get_run(rid)["info"]["lifecycle_stage"], "deleted")
        active = self.ok("POST", "runs/search", {"experiment_ids": [self.eid]}).get("runs", [])
        self.assertNotIn(rid, [r["info"]["run_id"] for r in active])
        deleted = self.ok("POST", "runs/search", {"experiment_ids": [self.eid], "run_view_type": "DELETED_ONLY"})
        self.assertEqual([r["info"]["run_id"] for r in deleted["runs"]], [rid])
        every = self.ok("POST", "runs/search", {"experiment_ids": [self.eid], "run_view_type": "ALL"})
        self.assertIn(rid, [r["info"]["run_id"] for r in every["runs"]])
        self.ok("POST", "runs/restore", {"run_id": rid})
        self.assertEqual(self.get_run(rid)["info"]["lifecycle_stage"], "active")
        self.err(404, "RESOURCE_DOES_NOT_EXIST", "POST", "runs/delete", {"run_id": "0" * 32})
        self.err(404, "RESOURCE_DOES_NOT_EXIST", "POST", "runs/restore", {"run_id": "0" * 32})

    def test_logging_to_deleted_run_is_refused(self):
        rid = self.new_run(self.eid)["info"]["run_id"]
        self.ok("POST", "runs/delete", {"run_id": rid})
        codes = ("INVALID_PARAMETER_VALUE", "INVALID_STATE")
        self.err(400, codes, "POST", "runs/log-metric", {"run_id": rid, "key": "m", "value": 1, "timestamp": 1})
        self.err(400, codes, "POST", "runs/log-parameter", {"run_id": rid, "key": "p", "value": "1"})
        self.err(400, codes, "POST", "runs/set-tag", {"run_id": rid, "key": "t", "value": "1"})
        self.err(400, codes, "POST", "runs/log-batch", {"run_id": rid, "params": [{"key": "p", "value": "1"}]})
        run = self.get_run(rid)
        self.assertNotIn("m", [m["key"] for m in run["data"].get("metrics", [])])

    def test_logging_to_unknown_run_is_404(self):
        ghost = "0" * 32
        self.err(404, "RESOURCE_DOES_NOT_EXIST", "POST", "runs/log-metric",
                 {"run_id": ghost, "key": "m", "value": 1, "timestamp": 1})
        self.err(404, "RESOURCE_DOES_NOT_EXIST", "POST", "runs/log-parameter", {"run_id": ghost, "key": "p", "value": "1"})
        self.err(404, "RESOURCE_DOES_NOT_EXIST", "POST", "runs/log-batch", {"run_id": ghost, "metrics": []})
        self.err(404, "RESOURCE_DOES_NOT_EXIST", "POST", "runs/set-tag", {"run_id": ghost, "key": "t", "value": "v"})
        self.err(404, "RESOURCE_DOES_NOT_EXIST", "GET", "metrics/get-history", query={"run_id": ghost, "metric_key": "m"})


class LoggingTest(ServerTestCase):
    def setUp(self):
        self.eid = self.new_experiment("log")
        self.rid = self.new_run(self.eid)["info"]["run_id"]

    def history(self, key, rid=None):
        r = self.ok("GET", "metrics/get-history", query={"run_id": rid or self.rid, "metric_key": key})
        pts = [(int(m.get("step", 0)), int(m["timestamp"]), metric_value(m["value"])) for m in r.get("metrics", [])]
        return sorted(pts, key=lambda p: (p[0], p[1], repr(p[2])))

    def test_log_metric_and_latest_value(self):
        self.ok("POST", "runs/log-metric", {"run_id": self.rid, "run_uuid": self.rid, "key": "loss", "value": 0.5,
                                            "timestamp": 1000, "step": 5})
        self.ok("POST", "runs/log-metric", {"run_id": self.rid, "key": "loss", "value": 0.9, "timestamp": 2000, "step": 3})
        self.ok("POST", "runs/log-metric", {"run_id": self.rid, "key": "nostep", "value": 2, "timestamp": 3000})
        self.assertEqual(self.history("loss"), [(3, 2000, 0.9), (5, 1000, 0.5)])
        self.assertEqual(self.history("nostep"), [(0, 3000, 2.0)])
        latest = {m["key"]: m for m in self.get_run(self.rid)["data"]["metrics"]}
        # Latest = highest step, not most recent timestamp.
        self.assertEqual((metric_value(latest["loss"]["value"]), int(latest["loss"]["step"])), (0.5, 5))
        self.assertEqual(self.history("never-logged"), [])

    def test_non_finite_values_round_trip(self):
        for step, v in enumerate(("NaN", "Infinity", "-Infinity")):
            self.ok("POST", "runs/log-metric", {"run_id": self.rid, "key": "odd", "value": v, "timestamp": 10, "step": step})
        self.ok("POST", "runs/log-batch", {"run_id": self.rid, "metrics": [
            {"key": "odd2", "value": "NaN", "timestamp": 10, "step": 0}]})
        r = self.call("GET", "metrics/get-history", query={"run_id": self.rid, "metric_key": "odd"})
        self.assertEqual(r.status, 200)
        self.assertIsNone(r.json_error, "response must use \"NaN\"/\"Infinity\" strings: %r" % r.body)
        vals = [metric_value(m["value"]) for m in sorted(r.json["metrics"], key=lambda m: int(m["step"]))]
        self.assertTrue(math.isnan(vals[0]))
        self.assertEqual(vals[1:], [math.inf, -math.inf])
        run = self.server.api("GET", "runs/get", query={"run_id": self.rid})
        self.assertIsNone(run.json_error, run.body)
        latest = {m["key"]: metric_value(m["value"]) for m in run.json["run"]["data"]["metrics"]}
        self.assertEqual(latest["odd"], -math.inf)
        self.assertTrue(math.isnan(latest["odd2"]))

    def test_duplicate_steps_are_kept(self):
        for v in (1.0, 2.0):
            self.ok("POST", "runs/log-metric", {"run_id": self.rid, "key": "dup", "value": v, "timestamp": 50, "step": 1})
        self.ok("POST", "runs/log-batch", {"run_id": self.rid, "metrics": [
            {"key": "dup", "value": 3.0, "timestamp": 60, "step": 1},
            {"key": "dup", "value": 3.0, "timestamp": 60, "step": 1}]})
        vals = sorted(v for _, _, v in self.history("dup"))
        self.assertGreaterEqual(len(vals), 3)
        self.assertEqual(sorted(set(vals)), [1.0, 2.0, 3.0])

    def test_params_are_immutable(self):
        self.ok("POST", "runs/log-parameter", {"run_id": self.rid, "key": "lr", "value": "0.1"})
        self.ok("POST", "runs/log-parameter", {"run_id": self.rid, "key": "lr", "value": "0.1"})
        self.err(400, "INVALID_PARAMETER_VALUE", "POST", "runs/log-parameter",
                 {"run_id": self.rid, "key": "lr", "value": "0.2"})
        self.ok("POST", "runs/log-batch", {"run_id": self.rid, "params": [{"key": "lr", "value": "0.1"}]})
        self.err(400, "INVALID_PARAMETER_VALUE", "POST", "runs/log-batch",
                 {"run_id": self.rid, "params": [{"key": "lr", "value": "0.3"}]})
        self.assertEqual(kv(self.get_run(self.rid)["data"]["params"])["lr"], "0.1")

    def test_tags_set_overwrite_delete(self):
        self.ok("POST", "runs/set-tag", {"run_id": self.rid, "key": "stage", "value": "a"})
        self.ok("POST", "runs/set-tag", {"run_uuid": self.rid, "key": "stage", "value": "b"})
        self.ok("POST", "runs/set-tag", {"run_id": self.rid, "key": "other", "value": ""})
        tags = kv(self.get_run(self.rid)["data"]["tags"])
        self.assertEqual((tags["stage"], tags["other"]), ("b", ""))
        self.ok("POST", "runs/delete-tag", {"run_id": self.rid, "key": "stage"})
        self.assertNotIn("stage", kv(self.get_run(self.rid)["data"]["tags"]))
        self.err(404, "RESOURCE_DOES_NOT_EXIST", "POST", "runs/delete-tag", {"run_id": self.rid, "key": "stage"})

    def test_log_batch(self):
        metrics = [{"key": "acc", "value": i / 10, "timestamp": 100 + i, "step": i} for i in range(10)]
        self.ok("POST", "runs/log-batch", {
            "run_id": self.rid, "metrics": metrics,
            "params": [{"key": "p1", "value": "x"}, {"key": "p2", "value": "y"}],
            "tags": [{"key": "t1", "value": "a"}, {"key": "t1", "value": "b"}]})
        run = self.get_run(self.rid)
        self.assertEqual(kv(run["data"]["params"]), {"p1": "x", "p2": "y"})
        self.assertEqual(kv(run["data"]["tags"])["t1"], "b")
        self.assertEqual(len(self.history("acc")), 10)
        self.ok("POST", "runs/log-batch", {"run_id": self.rid})

    def test_batch_limits(self):
        def batch(nm=0, np_=0, nt=0, key="lim"):
            return {"run_id": self.rid,
                    "metrics": [{"key": key, "value": i, "timestamp": 1, "step": i} for i in range(nm)],
                    "params": [{"key": "%s-p%d" % (key, i), "value": "v"} for i in range(np_)],
                    "tags": [{"key": "%s-t%d" % (key, i), "value": "v"} for i in range(nt)]}
        self.ok("POST", "runs/log-batch", batch(nm=1000, key="ok1000"))
        self.assertEqual(len(self.history("ok1000")), 1000)
        self.ok("POST", "runs/log-batch", batch(np_=100, nt=100, key="okpt"))
        for kwargs in ({"nm": 1001}, {"np_": 101}, {"nt": 101}, {"nm": 950, "np_": 60}):
            self.err(400, "INVALID_PARAMETER_VALUE", "POST", "runs/log-batch", batch(key="big", **kwargs))
        # A refused batch leaves nothing behind.
        self.assertEqual(self.history("big"), [])
        self.assertFalse([k for k in kv(self.get_run(self.rid)["data"].get("params")) if k.startswith("big")])

    def test_key_validation(self):
        bad_keys = ["bad$key", "semi;colon", "../escape", "a/../b", "/abs", "x" * 251]
        for key in bad_keys:
            with self.subTest(key=key[:20]):
                self.err(400, "INVALID_PARAMETER_VALUE", "POST", "runs/log-metric",
                         {"run_id": self.rid, "key": key, "value": 1, "timestamp": 1})
                self.err(400, "INVALID_PARAMETER_VALUE", "POST", "runs/log-parameter",
                         {"run_id": self.rid, "key": key, "value": "1"})
                self.err(400, "INVALID_PARAMETER_VALUE", "POST", "runs/set-tag",
                         {"run_id": self.rid, "key": key, "value": "1"})
                self.err(400, "INVALID_PARAMETER_VALUE", "POST", "runs/log-batch",
                         {"run_id": self.rid, "metrics": [{"key": key, "value": 1, "timestamp": 1, "step": 0}]})
        for key in ("k" * 250, "with space", "dir/sub-key_1.5", "mlflow.note.content"):
            self.ok("POST", "runs/log-parameter", {"run_id": self.rid, "key": key, "value": "1"})
        self.err(400, "INVALID_PARAMETER_VALUE", "POST", "runs/log-parameter", {"run_id": self.rid, "key": "", "value": "1"})

    def test_value_length_limits(self):
        self.ok("POST", "runs/log-parameter", {"run_id": self.rid, "key": "p6000", "value": "v" * 6000})
        self.err(400, "INVALID_PARAMETER_VALUE", "POST", "runs/log-parameter",
                 {"run_id": self.rid, "key": "p6001", "value": "v" * 6001})
        self.err(400, "INVALID_PARAMETER_VALUE", "POST", "runs/log-batch",
                 {"run_id": self.rid, "params": [{"key": "b6001", "value": "v" * 6001}]})
        self.ok("POST", "runs/set-tag", {"run_id": self.rid, "key": "t8000", "value": "v" * 8000})
        self.err(400, "INVALID_PARAMETER_VALUE", "POST", "runs/set-tag",
                 {"run_id": self.rid, "key": "t8001", "value": "v" * 8001})
        self.assertEqual(len(kv(self.get_run(self.rid)["data"]["params"])["p6000"]), 6000)

    def test_malformed_requests(self):
        codes = ("BAD_REQUEST", "INVALID_PARAMETER_VALUE", "MALFORMED_REQUEST")
        for raw in (b"{", b"{\"run_id\": ", b"not json", b"[1, 2]", b"\"str\"", b"{\"a\": NaN}"):
            with self.subTest(raw=raw):
                r = self.server.request("POST", API + "runs/log-metric", body=raw,
                                        headers={"Content-Type": "application/json"})
                self.assertError(r, 400, codes)
        self.assertError(self.server.request("POST", API + "experiments/create", body=b"\xff\xfe{}",
                                             headers={"Content-Type": "application/json"}), 400, codes)

    def test_wrong_field_types(self):
        bodies = [
            {"run_id": self.rid, "key": "m", "value": 1, "timestamp": 1, "step": "abc"},
            {"run_id": self.rid, "key": "m", "value": "abc", "timestamp": 1},
            {"run_id": self.rid, "key": "m", "value": [1], "timestamp": 1},
            {"run_id": self.rid, "key": 5, "value": 1, "timestamp": 1},
            {"run_id": self.rid, "key": "m", "value": 1, "timestamp": 1.5},
            {"run_id": self.rid, "key": "m"},
            {"run_id": self.rid, "value": 1, "timestamp": 1},
        ]
        for body in bodies:
            with self.subTest(body=body):
                self.err(400, ("INVALID_PARAMETER_VALUE", "BAD_REQUEST"), "POST", "runs/log-metric", body)
        self.err(400, ("INVALID_PARAMETER_VALUE", "BAD_REQUEST"), "POST", "runs/log-batch",
                 {"run_id": self.rid, "metrics": {"key": "m"}})
        self.err(400, ("INVALID_PARAMETER_VALUE", "BAD_REQUEST"), "POST", "runs/search",
                 {"experiment_ids": [self.eid], "max_results": "many"})
        self.assertEqual(self.history("m"), [])

    def test_log_inputs(self):
        ds = {"name": "digits-train", "digest": "d1g3st", "source_type": "local", "source": "{\"uri\": \"/data\"}",
              "schema": "{}", "profile": "{\"rows\": 10}"}
        self.ok("POST", "runs/log-inputs", {"run_id": self.rid, "datasets": [
            {"dataset": ds, "tags": [{"key": "mlflow.data.context", "value": "training"}]}]})
        inputs = self.get_run(self.rid)["inputs"]["dataset_inputs"]
        self.assertEqual(len(inputs), 1)
        self.assertEqual({k: inputs[0]["dataset"][k] for k in ("name", "digest", "source_type", "source")},
                         {k: ds[k] for k in ("name", "digest", "source_type", "source")})
        self.assertEqual(kv(inputs[0]["tags"]), {"mlflow.data.context": "training"})
        self.err(400, "INVALID_PARAMETER_VALUE", "POST", "runs/log-inputs",
                 {"run_id": self.rid, "datasets": [{"dataset": {"name": "x"}}]})
        self.err(404, "RESOURCE_DOES_NOT_EXIST", "POST", "runs/log-inputs", {"run_id": "0" * 32, "datasets": []})

    def test_history_paging(self):
        for i in range(10):
            self.ok("POST", "runs/log-metric", {"run_id": self.rid, "key": "paged", "value": i, "timestamp": 10 + i,
                                                "step": i})
        seen, token, pages = [], None, 0
        while True:
            q = {"run_id": self.rid, "metric_key": "paged", "max_results": 3}
            if token:
                q["page_token"] = token
            page = self.ok("GET", "metrics/get-history", query=q)
            pages += 1
            self.assertLessEqual(len(page.get("metrics", [])), 3)
            seen += [int(m["step"]) for m in page.get("metrics", [])]
            token = page.get("next_page_token")
            if not token:
                break
            self.assertLess(pages, 20)
        self.assertEqual(sorted(seen), list(range(10)))
        self.assertGreaterEqual(pages, 4)
        self.err(400, "INVALID_PARAMETER_VALUE", "GET", "metrics/get-history", query={"run_id": self.rid})

    def test_long_history_streamed_whole_and_in_pages(self):
        # Past a few thousand points the answer is sent while it is formatted (chunked): every
        # point must come back exactly, the page token after the points.
        rid = self.new_run(self.eid)["info"]["run_id"]
        def value(i):
            kinds = [i * 0.5, -i / 7.0, 1e-9 * i, 123456789.25, float("nan"), float("inf"), -0.0, 1e22]
            return kinds[i % len(kinds)]
        logged = [(value(i), 1700000000000 + i * 997, i - 5000) for i in range(12000)]
        for start in range(0, len(logged), 1000):
            self.ok("POST", "runs/log-batch", {"run_id": rid, "metrics": [
                {"key": "long", "value": v if math.isfinite(v) else str(v).replace("nan", "NaN").replace("inf", "Infinity"),
                 "timestamp": t, "step": s} for v, t, s in logged[start:start + 1000]]})

        def same(got, want):
            self.assertEqual(len(got), len(want))
            for m, (v, t, s) in zip(got, want):
                self.assertEqual((m["key"], int(m["timestamp"]), int(m["step"])), ("long", t, s))
                got_v = metric_value(m["value"])
                if math.isnan(v):
                    self.assertTrue(math.isnan(got_v))
                else:
                    self.assertEqual((got_v, math.copysign(1, got_v)), (v, math.copysign(1, v)))

        whole = self.ok("GET", "metrics/get-history", query={"run_id": rid, "metric_key": "long"})
        same(whole["metrics"], logged)
        self.assertNotIn("next_page_token", whole)
        seen, token = [], None
        while True:
            q = {"run_id": rid, "metric_key": "long", "max_results": 5000}
            if token:
                q["page_token"] = token
            page = self.ok("GET", "metrics/get-history", query=q)
            seen += page["metrics"]
            token = page.get("next_page_token")
            if not token:
                break
        same(seen, logged)

    def test_history_bulk_interval(self):
        other = self.new_run(self.eid)["info"]["run_id"]
        for rid in (self.rid, other):
            self.ok("POST", "runs/log-batch", {"run_id": rid, "metrics": [
                {"key": "curve", "value": s * 0.5, "timestamp": 1000 + s, "step": s} for s in range(100)]})
        r = self.ok("GET", "metrics/get-history-bulk-interval",
                    query={"run_ids": [self.rid, other], "metric_key": "curve", "max_results": 10})
        by_run = {}
        for m in r["metrics"]:
            self.assertEqual(m["key"], "curve")
            by_run.setdefault(m["run_id"], []).append(int(m["step"]))
        self.assertEqual(set(by_run), {self.rid, other})
        # MLflow's sampling: every 10th step of the union, and each run's last.
        for steps in by_run.values():
            self.assertEqual(steps, list(range(0, 100, 10)) + [99])
        r = self.ok("GET", "metrics/get-history-bulk-interval",
                    query={"run_ids": [self.rid], "metric_key": "curve", "start_step": 10, "end_step": 20,
                           "max_results": 100})
        steps = sorted(int(m["step"]) for m in r["metrics"])
        self.assertEqual(steps, list(range(10, 21)))
        self.err(400, "INVALID_PARAMETER_VALUE", "GET", "metrics/get-history-bulk-interval",
                 query={"run_ids": [self.rid]})
        r = self.ok("GET", "metrics/get-history-bulk-interval",
                    query={"run_ids": [self.rid], "metric_key": "curve"}, prefix=AJAX)
        self.assertEqual(len(r["metrics"]), 100)

    def test_history_bulk_ajax(self):
        other = self.new_run(self.eid)["info"]["run_id"]
        for rid, n in ((self.rid, 3), (other, 2)):
            for s in range(n):
                self.ok("POST", "runs/log-metric", {"run_id": rid, "key": "bulk", "value": s, "timestamp": 5, "step": s})
        r = self.ok("GET", "metrics/get-history-bulk", query={"run_id": [self.rid, other], "metric_key": "bulk"},
                    prefix=AJAX)
        counts = {}
        for m in r["metrics"]:
            counts[m["run_id"]] = counts.get(m["run_id"], 0) + 1
        self.assertEqual(counts, {self.rid: 3, other: 2})

    def test_ajax_logging_twins(self):
        self.ok("POST", "runs/log-metric", {"run_id": self.rid, "key": "viaajax", "value": 1, "timestamp": 1},
                prefix=AJAX)
        self.ok("POST", "runs/set-tag", {"run_id": self.rid, "key": "viaajax", "value": "1"}, prefix=AJAX)
        run = self.ok("GET", "runs/get", query={"run_id": self.rid}, prefix=AJAX)["run"]
        self.assertIn("viaajax", kv(run["data"]["tags"]))
        self.assertEqual(len(self.history("viaajax")), 1)


class SearchRunsTest(ServerTestCase):
    """Runs r0..r4 in a fresh experiment with known metrics, params, tags and datasets."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        s = cls.server
        cls.eid = s.api("POST", "experiments/create", {"name": unique("search")}).json["experiment_id"]
        cls.runs = {}
        spec = [
            # name,  acc,   model,  team,  status,     dataset
            ("r0", 0.10, "cnn", "a", "FINISHED", "ds-train"),
            ("r1", 0.70, "cnn", "b", "FINISHED", "ds-train"),
            ("r2", 0.90, "mlp", "a", "FAILED", "ds-eval"),
            ("r3", None, "Cnn-big", "b", "RUNNING", None),
            ("r4", 0.50, None, None, "FINISHED", None),
        ]
        for i, (name, acc, model, team, status, ds) in enumerate(spec):
            run = s.api("POST", "runs/create", {"experiment_id": cls.eid, "run_name": name,
                                                "start_time": 1700000000000 + i * 1000}).json["run"]
            rid = run["info"]["run_id"]
            cls.runs[name] = rid
            batch = {"run_id": rid, "metrics": [], "params": [], "tags": []}
            if acc is not None:
                # An older, higher-step-less point first: search must use the latest value.
                batch["metrics"] += [{"key": "acc", "value": 0.99 - acc, "timestamp": 1, "step": 0},
                                     {"key": "acc", "value": acc, "timestamp": 2, "step": 1}]
            if model is not None:
                batch["params"].append({"key": "model", "value": model})
            if team is not None:
                batch["tags"].append({"key": "team", "value": team})
            assert s.api("POST", "runs/log-batch", batch).status == 200
            if ds is not None:
                assert s.api("POST", "runs/log-inputs", {"run_id": rid, "datasets": [{
                    "dataset": {"name": ds, "digest": "dg-" + ds, "source_type": "local", "source": "/d"},
                    "tags": [{"key": "mlflow.data.context", "value": "training" if ds == "ds-train" else "eval"}]
                }]}).status == 200
            assert s.api("POST", "runs/update", {"run_id": rid, "status": status,
                                                 "end_time": 1700000000500 + i * 1000}).status == 200
        cls.names = {v: k for k, v in cls.runs.items()}

    def search(self, filter_string="", order_by=None, **extra):
        body = {"experiment_ids": [self.eid], "filter": filter_string, "max_results": 1000}
        if order_by:
            body["order_by"] = order_by
        body.update(extra)
        return self.ok("POST", "runs/search", body)

    def names_for(self, filter_string="", order_by=None):
        return [self.names[r["info"]["run_id"]] for r in self.search(filter_string, order_by).get("runs", [])]

    def test_default_order_is_start_time_desc(self):
        self.assertEqual(self.names_for(), ["r4", "r3", "r2", "r1", "r0"])

    def test_metric_filters_use_latest_value(self):
        self.assertEqual(sorted(self.names_for("metrics.acc > 0.5")), ["r1", "r2"])
        self.assertEqual(sorted(self.names_for("metrics.acc >= 0.5")), ["r1", "r2", "r4"])
        self.assertEqual(sorted(self.names_for("metrics.acc < 0.5")), ["r0"])
        self.assertEqual(sorted(self.names_for("metrics.acc <= 0.5")), ["r0", "r4"])
        self.assertEqual(self.names_for("metrics.acc = 0.7"), ["r1"])
        self.assertEqual(sorted(self.names_for("metric.acc != 0.7")), ["r0", "r2", "r4"])

    def test_param_and_tag_filters(self):
        self.assertEqual(sorted(self.names_for("params.model = 'cnn'")), ["r0", "r1"])
        self.assertEqual(sorted(self.names_for("params.model != 'cnn'")), ["r2", "r3"])
        self.assertEqual(sorted(self.names_for("params.model LIKE 'c%'")), ["r0", "r1"])
        self.assertEqual(sorted(self.names_for("params.model ILIKE 'c%'")), ["r0", "r1", "r3"])
        self.assertEqual(sorted(self.names_for("param.model LIKE '_lp'")), ["r2"])
        self.assertEqual(sorted(self.names_for("tags.team = 'a'")), ["r0", "r2"])
        self.assertEqual(sorted(self.names_for('tags."team" = "b"')), ["r1", "r3"])
        self.assertEqual(self.names_for("tags.`mlflow.runName` = 'r2'"), ["r2"])
        self.assertEqual(self.names_for("tags.mlflow.runName = 'r3'"), ["r3"])

    def test_attribute_filters(self):
        self.assertEqual(sorted(self.names_for("attributes.status = 'FINISHED'")), ["r0", "r1", "r4"])
        self.assertEqual(self.names_for("status = 'FAILED'"), ["r2"])
        self.assertEqual(self.names_for("attributes.run_name = 'r1'"), ["r1"])
        self.assertEqual(sorted(self.names_for("run_name LIKE 'r%' and run_name != 'r0'")), ["r1", "r2", "r3", "r4"])
        ids = "('%s', '%s')" % (self.runs["r1"], self.runs["r3"])
        self.assertEqual(sorted(self.names_for("attributes.run_id IN " + ids)), ["r1", "r3"])
        self.assertEqual(sorted(self.names_for("attributes.run_id NOT IN " + ids)), ["r0", "r2", "r4"])
        self.assertEqual(sorted(self.names_for("attributes.start_time >= 1700000003000")), ["r3", "r4"])
        self.assertEqual(sorted(self.names_for("attributes.start_time < 1700000001000")), ["r0"])

    def test_dataset_filters(self):
        self.assertEqual(sorted(self.names_for("datasets.name = 'ds-train'")), ["r0", "r1"])
        self.assertEqual(sorted(self.names_for("dataset.digest IN ('dg-ds-eval')")), ["r2"])
        self.assertEqual(sorted(self.names_for("datasets.context = 'training'")), ["r0", "r1"])
        self.assertEqual(sorted(self.names_for("datasets.name LIKE 'ds-%'")), ["r0", "r1", "r2"])

    def test_conjunctions(self):
        self.assertEqual(self.names_for("metrics.acc > 0.05 AND params.model = 'cnn' and tags.team = 'b'"), ["r1"])

    def test_order_by(self):
        self.assertEqual(self.names_for(order_by=["metrics.acc DESC"]), ["r2", "r1", "r4", "r0", "r3"])
        self.assertEqual(self.names_for(order_by=["metrics.acc ASC"]), ["r0", "r4", "r1", "r2", "r3"])
        self.assertEqual(self.names_for(order_by=["params.model ASC", "attributes.start_time DESC"]),
                         ["r3", "r1", "r0", "r2", "r4"])
        self.assertEqual(self.names_for(order_by=["tags.team DESC", "metrics.acc ASC"]), ["r1", "r3", "r0", "r2", "r4"])
        self.assertEqual(self.names_for(order_by=["attributes.run_name DESC"]), ["r4", "r3", "r2", "r1", "r0"])
        self.assertEqual(self.names_for(order_by=["start_time"]), ["r0", "r1", "r2", "r3", "r4"])

    def test_paging(self):
        seen, token, pages = [], None, 0
        while True:
            extra = {"max_results": 2}
            if token:
                extra["page_token"] = token
            page = self.search(order_by=["attributes.run_name ASC"], **extra)
            pages += 1
            self.assertLessEqual(len(page.get("runs", [])), 2)
            seen += [self.names[r["info"]["run_id"]] for r in page.get("runs", [])]
            token = page.get("next_page_token")
            if not token:
                break
            self.assertLess(pages, 10)
        self.assertEqual(seen, ["r0", "r1", "r2", "r3", "r4"])
        self.assertEqual(pages, 3)

    def test_search_returns_run_data(self):
        runs = self.search("attributes.run_name = 'r1'")["runs"]
        data = runs[0]["data"]
        self.assertEqual(kv(data["params"]), {"model": "cnn"})
        self.assertEqual(kv(data["tags"])["team"], "b")
        self.assertEqual([(m["key"], metric_value(m["value"])) for m in data["metrics"]], [("acc", 0.7)])

    def test_invalid_filters(self):
        for bad, token in (("bogus.key = 'x'", "bogus"),
                           ("metrics.acc >>> 1", ">>>"),
                           ("params.model = 'cnn' OR params.model = 'mlp'", "OR"),
                           ("metrics.acc = 'abc'", "abc"),
                           ("params.model > 'x'", ">"),
                           ("attributes.nonexistent = 'x'", "nonexistent"),
                           ("metrics.acc", "acc"),
                           ("params.model = 'unterminated", "unterminated")):
            with self.subTest(filter=bad):
                self.err(400, "INVALID_PARAMETER_VALUE", "POST", "runs/search",
                         {"experiment_ids": [self.eid], "filter": bad}, msg_contains=token)

    def test_invalid_order_and_limits(self):
        self.err(400, "INVALID_PARAMETER_VALUE", "POST", "runs/search",
                 {"experiment_ids": [self.eid], "order_by": ["metrics.acc SIDEWAYS"]})
        self.err(400, "INVALID_PARAMETER_VALUE", "POST", "runs/search",
                 {"experiment_ids": [self.eid], "order_by": ["bogus.acc"]})
        self.err(400, "INVALID_PARAMETER_VALUE", "POST", "runs/search",
                 {"experiment_ids": [self.eid], "max_results": 50001})
        self.err(400, "INVALID_PARAMETER_VALUE", "POST", "runs/search",
                 {"experiment_ids": [self.eid], "page_token": "not-a-token!"})

    def test_ajax_search_and_datasets(self):
        got = self.ok("POST", "runs/search", {"experiment_ids": [self.eid], "filter": "params.model = 'mlp'"},
                      prefix=AJAX)
        self.assertEqual([r["info"]["run_id"] for r in got["runs"]], [self.runs["r2"]])
        for prefix in (AJAX, API):
            summaries = self.ok("POST", "experiments/search-datasets", {"experiment_ids": [self.eid]},
                                prefix=prefix)["dataset_summaries"]
            got = sorted((s["name"], s["digest"], s.get("context", "")) for s in summaries)
            self.assertEqual(got, [("ds-eval", "dg-ds-eval", "eval"), ("ds-train", "dg-ds-train", "training")])
            for s in summaries:
                self.assertEqual(s["experiment_id"], self.eid)


class WebUiEndpointsTest(ServerTestCase):
    def setUp(self):
        self.eid = self.new_experiment("ui")
        self.run = self.new_run(self.eid)
        self.rid = self.run["info"]["run_id"]

    def test_upload_and_get_artifact(self):
        r = self.server.request("POST", AJAX + "upload-artifact", body=b"hello ui\n",
                                query={"run_uuid": self.rid, "path": "notes/ui.txt"},
                                headers={"Content-Type": "application/octet-stream"})
        self.assertEqual(r.status, 200, r)
        r = self.server.request("GET", AJAX + "get-artifact", query={"run_id": self.rid, "path": "notes/ui.txt"})
        self.assertEqual((r.status, r.body), (200, b"hello ui\n"))
        # The same file through the artifact proxy.
        r = self.server.request("GET", "/api/2.0/mlflow-artifacts/artifacts/%s/%s/artifacts/notes/ui.txt"
                                % (self.eid, self.rid))
        self.assertEqual((r.status, r.body), (200, b"hello ui\n"))
        r = self.server.request("GET", AJAX + "get-artifact", query={"run_id": self.rid, "path": "notes/none.txt"})
        self.assertEqual(r.status, 404)
        r = self.server.request("GET", AJAX + "get-artifact", query={"run_id": self.rid, "path": "../../x"})
        self.assertTrue(400 <= r.status < 500, r)
        r = self.server.request("POST", AJAX + "upload-artifact", body=b"x",
                                query={"run_uuid": self.rid, "path": "../../escape.txt"})
        self.assertTrue(400 <= r.status < 500, r)

    def test_artifacts_list(self):
        for path, data in (("a.txt", b"12345"), ("dir/b.txt", b"1"), ("dir/sub/c.txt", b"12")):
            r = self.server.request("PUT", "/api/2.0/mlflow-artifacts/artifacts/%s/%s/artifacts/%s"
                                    % (self.eid, self.rid, path), body=data)
            self.assertEqual(r.status, 200, r)
        for prefix in (API, AJAX):
            root = self.ok("GET", "artifacts/list", query={"run_id": self.rid}, prefix=prefix)
            self.assertTrue(root["root_uri"])
            files = {f["path"]: f for f in root["files"]}
            self.assertEqual(set(files), {"a.txt", "dir"})
            self.assertEqual((files["a.txt"]["is_dir"], int(files["a.txt"]["file_size"])), (False, 5))
            self.assertTrue(files["dir"]["is_dir"])
            sub = self.ok("GET", "artifacts/list", query={"run_id": self.rid, "path": "dir"}, prefix=prefix)
            self.assertEqual(sorted((f["path"], f["is_dir"]) for f in sub["files"]),
                             [("dir/b.txt", False), ("dir/sub", True)])
        r = self.call("GET", "artifacts/list", query={"run_id": self.rid, "path": "../.."})
        self.assertTrue(400 <= r.status < 500, r)
        self.err(404, "RESOURCE_DOES_NOT_EXIST", "GET", "artifacts/list", query={"run_id": "0" * 32})


class MlflowWordingTest(ServerTestCase):
    """Error messages as MLflow's own server words them: clients, scripts and MLflow's tests
    match on them."""

    def test_messages(self):
        cases = [
            ("GET", "runs/get", None, {"run_id": "nope"}, 404, "Run with id=nope not found"),
            ("GET", "experiments/get", None, {"experiment_id": "424242"}, 404, "No Experiment with id=424242 exists"),
            ("GET", "experiments/get-by-name", None, {"experiment_name": "nope"}, 404,
             "Could not find experiment with name 'nope'"),
            ("GET", "registered-models/get", None, {"name": "nope"}, 404, "Registered Model with name=nope not found"),
            ("POST", "runs/log-metric", {"key": "a", "value": 1, "timestamp": 1}, None, 400,
             "Missing value for required parameter 'run_id'."),
            ("POST", "registered-models/create", {}, None, 400, "Missing value for required parameter 'name'."),
        ]
        for method, endpoint, body, query, status, message in cases:
            r = self.call(method, endpoint, body, query)
            self.assertEqual((r.status, r.json.get("message")), (status, message), endpoint)
        name = unique("m")
        self.ok("POST", "registered-models/create", {"name": name})
        r = self.call("GET", "model-versions/get", query={"name": name, "version": "7"})
        self.assertEqual(r.json["message"], "Model Version (name=%s, version=7) not found" % name)


if __name__ == "__main__":
    unittest.main()


class LogModelAndMultipartTest(ServerTestCase):
    """Endpoints MLflow's client calls around model logging and large uploads."""

    def test_log_model_appends_to_history_tag(self):
        import json
        run = self.new_run()
        rid = run["info"]["run_id"]
        for path in ("model", "model2"):
            model = {"artifact_path": path, "flavors": {"python_function": {}},
                     "utc_time_created": "2026-11-28 00:00:00.000000", "run_id": rid}
            self.ok("POST", "runs/log-model", {"run_id": rid, "model_json": json.dumps(model)})
        history = json.loads(kv(self.get_run(rid)["data"]["tags"])["mlflow.log-model.history"])
        self.assertEqual([m["artifact_path"] for m in history], ["model", "model2"])
        self.assertEqual(history[0]["flavors"], {"python_function": {}})

    def test_log_model_keeps_what_mlflow_keeps_of_the_model(self):
        import json
        rid = self.new_run()["info"]["run_id"]
        model = {"artifact_path": "m", "run_id": rid, "utc_time_created": "2026-12-06 00:00:00",
                 "model_uuid": "abc", "mlflow_version": "2.17.2", "signature": {"inputs": "[]"},
                 "flavors": {"python_function": {"loader_module": "x", "config": {"a": 1}},
                             "sklearn": {"pickled_model": "model.pkl"}}}
        self.ok("POST", "runs/log-model", {"run_id": rid, "model_json": json.dumps(model)})
        entry = json.loads(kv(self.get_run(rid)["data"]["tags"])["mlflow.log-model.history"])[0]
        self.assertEqual(entry, {"artifact_path": "m", "run_id": rid, "model_uuid": "abc",
                                 "utc_time_created": "2026-12-06 00:00:00",
                                 "flavors": {"python_function": {"loader_module": "x"},
                                             "sklearn": {"pickled_model": "model.pkl"}}})
        del model["model_uuid"]
        self.ok("POST", "runs/log-model", {"run_id": rid, "model_json": json.dumps(model)})
        second = json.loads(kv(self.get_run(rid)["data"]["tags"])["mlflow.log-model.history"])[1]
        self.assertRegex(second["model_uuid"], "^[0-9a-f]{32}$")
        self.err(400, "INVALID_PARAMETER_VALUE", "POST", "runs/log-model",
                 {"run_id": rid, "model_json": json.dumps(dict(model, flavors=[1]))},
                 msg_contains="flavors")

    def test_log_model_rejects_bad_model_json(self):
        rid = self.new_run()["info"]["run_id"]
        self.err(400, "INVALID_PARAMETER_VALUE", "POST", "runs/log-model",
                 {"run_id": rid, "model_json": "{not json"})
        self.err(400, "INVALID_PARAMETER_VALUE", "POST", "runs/log-model",
                 {"run_id": rid, "model_json": '{"artifact_path": "m"}'}, msg_contains="flavors")
        self.err(400, "INVALID_PARAMETER_VALUE", "POST", "runs/log-model", {"run_id": rid})
        self.err(404, "RESOURCE_DOES_NOT_EXIST", "POST", "runs/log-model",
                 {"run_id": "f" * 32, "model_json": '{"artifact_path": "m", "flavors": {}, '
                  '"utc_time_created": "t", "run_id": "x"}'})

    def test_multipart_upload_says_unsupported_so_clients_fall_back(self):
        rid = self.new_run()["info"]["run_id"]
        for op in ("create", "complete", "abort"):
            r = self.server.request("POST", "/api/2.0/mlflow-artifacts/mpu/%s/0/%s/artifacts/big" % (op, rid),
                                    body={"path": "big.bin", "num_parts": 3})
            self.assertEqual(r.status, 501, repr(r))
            self.assertTrue(r.json["message"].startswith("Multipart upload is not supported"), repr(r))
