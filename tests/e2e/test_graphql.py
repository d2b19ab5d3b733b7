"""MLflow's GraphQL endpoint (/graphql): queries of its schema answered from the store, only the
selected fields, MLflow's {"data", "errors"} shape, its limits, and no writes."""

import json
import unittest

from harness import ServerTestCase, unique


class GraphqlTest(ServerTestCase):
    def graphql(self, query, variables=None, operation=None, method="POST"):
        if method == "GET":
            q = {"query": query}
            if variables is not None:
                q["variables"] = json.dumps(variables)
            if operation:
                q["operationName"] = operation
            r = self.server.request("GET", "/graphql", query=q)
        else:
            body = {"query": query}
            if variables is not None:
                body["variables"] = variables
            if operation:
                body["operationName"] = operation
            r = self.server.request("POST", "/graphql", body=body)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(set(r.json), {"data", "errors"}, r)
        return r.json

    def setUp(self):
        self.exp = self.new_experiment("gql")
        self.run = self.new_run(self.exp, run_name="r1")["info"]["run_id"]
        self.ok("POST", "runs/log-batch", {"run_id": self.run, "metrics": [
            {"key": "loss", "value": 0.5 - i / 10, "timestamp": 1000 + i, "step": i} for i in range(3)]})
        self.model = unique("gqlmodel")
        self.ok("POST", "registered-models/create", {"name": self.model})
        self.ok("POST", "model-versions/create", {"name": self.model, "source": "s3://b/m", "run_id": self.run})

    def test_run_with_experiment_and_versions_selects_only_what_was_asked(self):
        got = self.graphql("""
            query Q($id: String!) @component(name: "ringo") {
              mlflowGetRun(input: {runId: $id}) {
                run { info { runId status startTime } experiment { name } versions: modelVersions { name version } }
                apiError { code }
              }
            }""", variables={"id": self.run}, operation="Q")
        self.assertIsNone(got["errors"])
        run = got["data"]["mlflowGetRun"]["run"]
        self.assertEqual(set(run["info"]), {"runId", "status", "startTime"})
        self.assertEqual(run["info"]["runId"], self.run)
        self.assertEqual(run["info"]["status"], "RUNNING")
        self.assertIsInstance(run["info"]["startTime"], str)  # int64 as MLflow's LongString
        self.assertTrue(run["experiment"]["name"].startswith("gql-"))
        self.assertEqual(run["versions"], [{"name": self.model, "version": "1"}])
        self.assertIsNone(got["data"]["mlflowGetRun"]["apiError"])

    def test_searches_through_fragments_aliases_and_get(self):
        second = self.new_run(self.exp)["info"]["run_id"]
        query = """
            fragment Ids on MlflowRun { info { runId } }
            mutation { all: mlflowSearchRuns(input: {experimentIds: ["%s"], orderBy: "attributes.start_time DESC"}) {
                runs { ...Ids } }
              one: mlflowSearchRuns(input: {experimentIds: ["%s"], filter: "attributes.run_name = 'r1'"}) {
                runs { ...Ids } } }""" % (self.exp, self.exp)
        got = self.graphql(query)
        self.assertIsNone(got["errors"])
        self.assertEqual({r["info"]["runId"] for r in got["data"]["all"]["runs"]}, {self.run, second})
        self.assertEqual(got["data"]["one"]["runs"], [{"info": {"runId": self.run}}])
        interval = self.graphql(
            '{ mlflowGetMetricHistoryBulkInterval(input: {runIds: ["%s"], metricKey: "loss"}) '
            '{ metrics { step value runId } } }' % self.run, method="GET")
        self.assertEqual(interval["data"]["mlflowGetMetricHistoryBulkInterval"]["metrics"],
                         [{"step": str(i), "value": 0.5 - i / 10, "runId": self.run} for i in range(3)])

    def test_errors_in_mlflows_shape(self):
        missing = self.graphql('{ a: mlflowGetExperiment(input: {experimentId: "987654"}) { experiment { name } } '
                               '  b: mlflowGetExperiment(input: {experimentId: "%s"}) { experiment { name } } }' % self.exp)
        self.assertIsNone(missing["data"]["a"])
        self.assertTrue(missing["data"]["b"]["experiment"]["name"].startswith("gql-"))
        self.assertEqual(len(missing["errors"]), 1)
        self.assertIn("987654", missing["errors"][0])
        for bad, part in [("{ mlflowGetRun(input: {runId: 1}) { run { info { runId } } } }", "String"),
                          ("{ mlflowGetRun(input: {nope: \"x\"}) { run { info { runId } } } }", "nope"),
                          ("{ mlflowGetRun { run { secret } } }", "Cannot query field 'secret'"),
                          ("{ mlflowGetRun(input: {runId: \"x\"}) { run { info { runId } } }", "Syntax Error"),
                          ("{ " + " ".join("f%d: test(inputString: \"x\") { output }" % i for i in range(11)) + " }",
                           "at most 10 root fields")]:
            got = self.graphql(bad)
            self.assertIsNone(got["data"], bad)
            self.assertIn(part, got["errors"][0], bad)
        self.assertEqual(self.server.request("POST", "/graphql", body={"variables": {}}).status, 400)

    def test_mutations_write_nothing(self):
        before = self.ok("POST", "runs/search", {"experiment_ids": [self.exp]})
        got = self.graphql('mutation { testMutation(inputString: "echo") { output } '
                           'mlflowSearchDatasets(input: {experimentIds: ["%s"]}) { datasetSummaries { name } } }' % self.exp)
        self.assertEqual(got["data"]["testMutation"], {"output": "echo"})
        self.assertEqual(got["data"]["mlflowSearchDatasets"], {"datasetSummaries": []})
        self.assertEqual(self.ok("POST", "runs/search", {"experiment_ids": [self.exp]}), before)


if __name__ == "__main__":
    unittest.main()
