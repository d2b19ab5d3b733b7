"""MLflow 2's trace records over REST (/api/2.0/mlflow/traces...)."""

import unittest

from harness import ServerTestCase, kv


class TraceTest(ServerTestCase):
    """MLflow 2's trace records: start, end, info, tags, search, delete; MLflow 3's tracing
    endpoints stay a clear 501."""

    def start(self, exp, ts, tags=None):
        body = {"experiment_id": exp, "timestamp_ms": ts, "request_metadata": [{"key": "m", "value": "1"}],
                "tags": [{"key": k, "value": v} for k, v in (tags or {}).items()]}
        return self.ok("POST", "traces", body)["trace_info"]

    def test_lifecycle(self):
        exp = self.new_experiment("tr")
        t = self.start(exp, 1000, {"a": "x"})
        rid = t["request_id"]
        self.assertEqual((t["experiment_id"], t["timestamp_ms"], t["execution_time_ms"], t["status"]),
                         (exp, 1000, 0, "IN_PROGRESS"))
        tags = kv(t["tags"])
        self.assertEqual(tags["a"], "x")
        loc = self.ok("GET", "experiments/get", query={"experiment_id": exp})["experiment"]["artifact_location"]
        self.assertEqual(tags["mlflow.artifactLocation"], "%s/traces/%s/artifacts" % (loc, rid))
        ended = self.ok("PATCH", "traces/" + rid, {"timestamp_ms": 3500, "status": "OK",
                                                   "request_metadata": [{"key": "m2", "value": "2"}],
                                                   "tags": [{"key": "a", "value": "y"}]})["trace_info"]
        self.assertEqual((ended["execution_time_ms"], ended["status"]), (2500, "OK"))
        self.assertEqual(kv(ended["request_metadata"]), {"m": "1", "m2": "2"})
        self.assertEqual(self.ok("GET", "traces/%s/info" % rid)["trace_info"], ended)
        self.ok("PATCH", "traces/%s/tags" % rid, {"key": "b", "value": "z"})
        self.ok("DELETE", "traces/%s/tags" % rid, {"key": "a"})
        self.assertEqual({k for k in kv(self.ok("GET", "traces/%s/info" % rid)["trace_info"]["tags"])
                          if not k.startswith("mlflow.")}, {"b"})
        self.err(404, "RESOURCE_DOES_NOT_EXIST", "DELETE", "traces/%s/tags" % rid, {"key": "a"},
                 msg_contains="No trace tag with key 'a'")
        self.err(404, "RESOURCE_DOES_NOT_EXIST", "GET", "traces/nope/info",
                 msg_contains="Trace with request_id 'nope' not found.")
        self.err(404, "RESOURCE_DOES_NOT_EXIST", "POST", "traces", {"experiment_id": "98765", "timestamp_ms": 1})

    def test_search_pages_and_delete(self):
        exp = self.new_experiment("tr")
        ids = [self.start(exp, ts)["request_id"] for ts in (1000, 2000, 3000)]
        page = self.ok("GET", "traces", query={"experiment_ids": exp, "max_results": 2})
        self.assertEqual([t["request_id"] for t in page["traces"]], [ids[2], ids[1]])
        rest = self.ok("GET", "traces", query={"experiment_ids": exp, "page_token": page["next_page_token"]})
        self.assertEqual([t["request_id"] for t in rest["traces"]], [ids[0]])
        self.assertNotIn("next_page_token", rest)
        asc = self.ok("GET", "traces", query={"experiment_ids": exp, "order_by": "timestamp_ms ASC"})
        self.assertEqual([t["request_id"] for t in asc["traces"]], ids)
        for body, part in [({"experiment_id": exp}, "Either `max_timestamp_millis` or `request_ids`"),
                           ({"experiment_id": exp, "max_timestamp_millis": 1, "request_ids": [ids[0]]}, "Only one of"),
                           ({"experiment_id": exp, "max_timestamp_millis": 1, "max_traces": 0}, "positive integer")]:
            self.err(400, "INVALID_PARAMETER_VALUE", "POST", "traces/delete-traces", body, msg_contains=part)
        self.assertEqual(len(self.ok("GET", "traces", query={"experiment_ids": exp})["traces"]), 3)
        gone = self.ok("POST", "traces/delete-traces", {"experiment_id": exp, "max_timestamp_millis": 2500, "max_traces": 1})
        self.assertEqual(gone["traces_deleted"], 1)  # the oldest
        self.err(404, "RESOURCE_DOES_NOT_EXIST", "GET", "traces/%s/info" % ids[0])
        gone = self.ok("POST", "traces/delete-traces", {"experiment_id": exp, "request_ids": [ids[2]]})
        self.assertEqual(gone["traces_deleted"], 1)
        self.assertEqual([t["request_id"] for t in self.ok("GET", "traces", query={"experiment_ids": exp})["traces"]],
                         [ids[1]])

    def test_mlflow3_tracing_is_a_clear_501(self):
        r = self.server.request("POST", "/api/3.0/mlflow/traces", body={})
        self.assertEqual(r.status, 501, r)
        self.assertEqual(r.json["error_code"], "NOT_IMPLEMENTED")


if __name__ == "__main__":
    unittest.main()
