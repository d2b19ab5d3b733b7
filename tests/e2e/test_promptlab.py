"""MLflow's prompt lab over REST: runs/create-promptlab-run and gateway-proxy."""

import json
import unittest

from harness import AJAX, Server, ServerTestCase, kv


class PromptlabTest(ServerTestCase):
    """MLflow's prompt lab (runs/create-promptlab-run): a finished run with the prompt's
    parameters, MLflow's tags, a pyfunc model of the prompt and the evaluation table."""

    BODY = {"prompt_template": "Say {{ word }}", "prompt_parameters": [{"key": "word", "value": "hi"}],
            "model_route": "chat", "model_parameters": [{"key": "temperature", "value": 0.5}],
            "model_input": "Say hi", "model_output": "hi", "model_output_parameters": [{"key": "latency", "value": "12"}],
            "mlflow_version": "2.17.2", "user_id": "ana", "start_time": 456, "run_name": "p1"}

    def test_records_the_prompt_as_a_finished_run(self):
        exp = self.new_experiment("plab")
        run = self.ok("POST", "runs/create-promptlab-run", dict(self.BODY, experiment_id=exp), prefix=AJAX)["run"]
        info = run["info"]
        self.assertEqual((info["status"], info["user_id"], info["start_time"], info["run_name"]),
                         ("FINISHED", "ana", 456, "p1"))
        self.assertEqual(kv(run["data"]["params"]),
                         {"temperature": "0.5", "model_route": "chat", "prompt_template": "Say {{ word }}"})
        tags = kv(run["data"]["tags"])
        self.assertEqual(tags["mlflow.runSourceType"], "PROMPT_ENGINEERING")
        self.assertEqual(tags["mlflow.loggedArtifacts"], '[{"path": "eval_results_table.json", "type": "table"}]')
        self.assertEqual(json.loads(tags["mlflow.log-model.history"])[0]["artifact_path"], "model")
        root = info["artifact_uri"][len("mlflow-artifacts:/"):]
        table = self.server.request("GET", "/api/2.0/mlflow-artifacts/artifacts/%s/eval_results_table.json" % root).json
        self.assertEqual(table, {"columns": ["word", "prompt", "output", "latency"], "data": [["hi", "Say hi", "hi", "12"]]})
        mlmodel = self.server.request("GET", "/api/2.0/mlflow-artifacts/artifacts/%s/model/MLmodel" % root).json
        self.assertEqual(mlmodel["flavors"]["python_function"]["loader_module"], "mlflow.promptlab")
        self.assertEqual(mlmodel["run_id"], info["run_id"])

    def test_missing_fields_are_refused_in_mlflows_words_and_write_nothing(self):
        exp = self.new_experiment("plab")
        for field in ("experiment_id", "prompt_template", "prompt_parameters", "model_route", "model_input",
                      "mlflow_version"):
            body = dict(self.BODY, experiment_id=exp)
            del body[field]
            self.err(400, "INVALID_PARAMETER_VALUE", "POST", "runs/create-promptlab-run", body, prefix=AJAX,
                     msg_contains="CreatePromptlabRun request must specify %s." % field)
        self.err(400, "INVALID_PARAMETER_VALUE", "POST", "runs/create-promptlab-run",
                 dict(self.BODY, experiment_id=exp, prompt_parameters=[]), prefix=AJAX,
                 msg_contains="must specify prompt_parameters")
        self.assertEqual(self.ok("POST", "runs/search", {"experiment_ids": [exp]}), {})

    def test_gateway_proxy_answers_as_far_as_it_is_served(self):
        self.assertEqual(self.ok("GET", "gateway-proxy", query={"gateway_path": "api/2.0/endpoints/"}, prefix=AJAX),
                         {"endpoints": []})
        server = Server(env={"MLFLOW_DEPLOYMENTS_TARGET": "http://127.0.0.1:9"})
        try:
            server.start()
            r = server.request("POST", AJAX + "gateway-proxy", body={})
            self.assertEqual((r.status, r.json["error_code"]), (400, "INVALID_PARAMETER_VALUE"), r)
            self.assertIn("Deployments proxy request must specify a gateway_path.", r.json["message"])
            for method, path in (("POST", "foo/bar"), ("POST", "gateway/a/b/invocations"),
                                 ("GET", "hello/world")):
                r = server.request(method, AJAX + "gateway-proxy", body={"gateway_path": path}
                                   if method == "POST" else None,
                                   query={"gateway_path": path} if method == "GET" else None)
                self.assertEqual((r.status, r.json["message"]),
                                 (400, "Invalid gateway_path: %s for method: %s" % (path, method)), r)
            r = server.request("POST", AJAX + "gateway-proxy", body={"gateway_path": "gateway/chat/invocations"})
            self.assertEqual((r.status, r.json["error_code"]), (501, "NOT_IMPLEMENTED"), r)
        finally:
            server.stop()
            server.cleanup()


if __name__ == "__main__":
    unittest.main()
