"""In-memory stand-in for the tracking server, for offline tests of the Python client.

It records every request and answers the subset of the REST API the client uses
(no search filters). It is deliberately strict where the client's request shapes
matter: bare NaN/Infinity JSON tokens and oversized log-batch requests are refused.
Run as `fake_server.py server --host H --port 0 --store DIR` it prints the same
"listening on" line as ringo, which helps smoke-test tests/e2e's harness.
"""

import base64
import json
import sys
import threading
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class _Fail(Exception):
    def __init__(self, status, code, message):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _no_bare_constants(token):
    raise _Fail(400, "BAD_REQUEST", "bare %s token in JSON" % token)


class FakeState:
    def __init__(self):
        self.lock = threading.Lock()
        self.requests = []  # (method, path, query dict, parsed json or None, raw bytes)
        self.experiments = {"0": {"experiment_id": "0", "name": "Default", "lifecycle_stage": "active",
                                  "artifact_location": "mlflow-artifacts:/0", "tags": []}}
        self.runs = {}
        self.history = {}  # (run_id, key) -> [metric]
        self.artifacts = {}  # path -> bytes
        self.history_page_size = 3
        self.next_exp = 1


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    state = None  # set per server

    # One buffered write per response, and no Nagle delay on it.
    wbufsize = -1
    disable_nagle_algorithm = True

    def log_message(self, fmt, *args):
        pass

    def _send(self, status, body=b"", ctype="application/json"):
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self.wfile.flush()

    def _handle(self):
        u = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(u.query, keep_blank_values=True)
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        st = self.state
        try:
            body = None
            if raw and (self.headers.get("Content-Type") or "").startswith("application/json"):
                try:
                    body = json.loads(raw, parse_constant=_no_bare_constants)
                except ValueError as e:
                    raise _Fail(400, "BAD_REQUEST", str(e))
            with st.lock:
                st.requests.append((self.command, u.path, query, body, raw))
                out = self._route(u.path, query, body or {}, raw)
            if isinstance(out, bytes):
                self._send(200, out, "application/octet-stream")
            else:
                self._send(200, out)
        except _Fail as f:
            self._send(f.status, {"error_code": f.code, "message": f.message})

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _handle

    # -------------------------------------------------------------------------------------

    def _route(self, path, q, b, raw):
        st = self.state
        if path == "/health":
            return b"OK"
        art = "/api/2.0/mlflow-artifacts/artifacts"
        if path.startswith(art):
            rel = urllib.parse.unquote(path[len(art):]).strip("/")
            if self.command == "PUT":
                st.artifacts[rel] = raw
                return {}
            if self.command == "GET" and not rel:
                base = q.get("path", [""])[0].strip("/")
                if base in st.artifacts:
                    return {}
                seen = {}
                for p, data in st.artifacts.items():
                    if p.startswith(base + "/") if base else True:
                        rest = p[len(base) + 1:] if base else p
                        head = rest.split("/", 1)[0]
                        if "/" in rest:
                            seen[head] = {"path": head, "is_dir": True}
                        else:
                            seen[head] = {"path": head, "is_dir": False, "file_size": len(data)}
                return {"files": sorted(seen.values(), key=lambda f: f["path"])} if seen else {}
            if self.command == "GET":
                if rel not in st.artifacts:
                    raise _Fail(404, "RESOURCE_DOES_NOT_EXIST", "no artifact " + rel)
                return st.artifacts[rel]
            if self.command == "DELETE":
                for p in [p for p in st.artifacts if p == rel or p.startswith(rel + "/")]:
                    del st.artifacts[p]
                return {}
        for prefix in ("/api/2.0/mlflow/", "/ajax-api/2.0/mlflow/"):
            if path.startswith(prefix):
                ep = path[len(prefix):]
                fn = getattr(self, "ep_" + ep.replace("/", "_").replace("-", "_"), None)
                if fn is not None:
                    return fn(q, b)
        raise _Fail(404, "ENDPOINT_NOT_FOUND", "no route " + path)

    def _exp(self, eid):
        e = self.state.experiments.get(str(eid))
        if e is None:
            raise _Fail(404, "RESOURCE_DOES_NOT_EXIST", "no experiment " + str(eid))
        return e

    def _run(self, b, q=None):
        rid = b.get("run_id") or b.get("run_uuid") or (q or {}).get("run_id", [None])[0]
        r = self.state.runs.get(rid)
        if r is None:
            raise _Fail(404, "RESOURCE_DOES_NOT_EXIST", "no run %s" % rid)
        return r

    def _live(self, b):
        r = self._run(b)
        if r["info"]["lifecycle_stage"] != "active":
            raise _Fail(400, "INVALID_STATE", "run is deleted")
        return r

    def ep_experiments_create(self, q, b):
        st = self.state
        if any(e["name"] == b["name"] for e in st.experiments.values()):
            raise _Fail(400, "RESOURCE_ALREADY_EXISTS", "exists")
        eid = str(st.next_exp)
        st.next_exp += 1
        st.experiments[eid] = {"experiment_id": eid, "name": b["name"], "lifecycle_stage": "active",
                               "artifact_location": "mlflow-artifacts:/" + eid, "tags": b.get("tags", [])}
        return {"experiment_id": eid}

    def ep_experiments_get(self, q, b):
        return {"experiment": self._exp(q["experiment_id"][0])}

    def ep_experiments_get_by_name(self, q, b):
        for e in self.state.experiments.values():
            if e["name"] == q["experiment_name"][0]:
                return {"experiment": e}
        raise _Fail(404, "RESOURCE_DOES_NOT_EXIST", "no such name")

    def ep_experiments_delete(self, q, b):
        self._exp(b["experiment_id"])["lifecycle_stage"] = "deleted"
        return {}

    def ep_experiments_restore(self, q, b):
        self._exp(b["experiment_id"])["lifecycle_stage"] = "active"
        return {}

    def ep_runs_create(self, q, b):
        eid = str(b.get("experiment_id", "0"))
        self._exp(eid)
        rid = uuid.uuid4().hex
        name = b.get("run_name") or "unnamed"
        tags = list(b.get("tags", []))
        if not any(t["key"] == "mlflow.runName" for t in tags):
            tags.append({"key": "mlflow.runName", "value": name})
        run = {"info": {"run_id": rid, "run_uuid": rid, "experiment_id": eid, "run_name": name,
                        "status": "RUNNING", "start_time": b.get("start_time"), "lifecycle_stage": "active",
                        "artifact_uri": "mlflow-artifacts:/%s/%s/artifacts" % (eid, rid),
                        "user_id": b.get("user_id", "")},
               "data": {"metrics": [], "params": [], "tags": tags}, "inputs": {}}
        self.state.runs[rid] = run
        return {"run": run}

    def ep_runs_get(self, q, b):
        return {"run": self._run(b, q)}

    def ep_runs_update(self, q, b):
        r = self._run(b)
        for k in ("status", "end_time", "run_name"):
            if k in b:
                r["info"][k] = b[k]
        return {"run_info": r["info"]}

    def ep_runs_delete(self, q, b):
        self._run(b)["info"]["lifecycle_stage"] = "deleted"
        return {}

    def ep_runs_restore(self, q, b):
        self._run(b)["info"]["lifecycle_stage"] = "active"
        return {}

    def _put_kv(self, lst, key, value):
        for kv in lst:
            if kv["key"] == key:
                kv["value"] = value
                return
        lst.append({"key": key, "value": value})

    def _add_metric(self, r, m):
        m = {"key": m["key"], "value": m["value"], "timestamp": m.get("timestamp", 0), "step": m.get("step", 0)}
        self.state.history.setdefault((r["info"]["run_id"], m["key"]), []).append(m)
        latest = [x for x in r["data"]["metrics"] if x["key"] != m["key"]]
        latest.append(m)
        r["data"]["metrics"] = latest

    def ep_runs_log_metric(self, q, b):
        self._add_metric(self._live(b), b)
        return {}

    def ep_runs_log_parameter(self, q, b):
        r = self._live(b)
        for p in r["data"]["params"]:
            if p["key"] == b["key"] and p["value"] != b["value"]:
                raise _Fail(400, "INVALID_PARAMETER_VALUE", "param changed")
        self._put_kv(r["data"]["params"], b["key"], b["value"])
        return {}

    def ep_runs_set_tag(self, q, b):
        self._put_kv(self._live(b)["data"]["tags"], b["key"], b["value"])
        return {}

    def ep_runs_delete_tag(self, q, b):
        r = self._live(b)
        r["data"]["tags"] = [t for t in r["data"]["tags"] if t["key"] != b["key"]]
        return {}

    def ep_runs_log_batch(self, q, b):
        ms, ps, ts = b.get("metrics", []), b.get("params", []), b.get("tags", [])
        if len(ms) > 1000 or len(ps) > 100 or len(ts) > 100 or len(ms) + len(ps) + len(ts) > 1000:
            raise _Fail(400, "INVALID_PARAMETER_VALUE", "batch too large")
        r = self._live(b)
        for p in ps:
            self._put_kv(r["data"]["params"], p["key"], p["value"])
        for t in ts:
            self._put_kv(r["data"]["tags"], t["key"], t["value"])
        for m in ms:
            self._add_metric(r, m)
        return {}

    def ep_runs_log_inputs(self, q, b):
        r = self._live(b)
        r["inputs"].setdefault("dataset_inputs", []).extend(b.get("datasets", []))
        return {}

    def ep_runs_search(self, q, b):
        ids = [str(x) for x in b.get("experiment_ids", [])]
        runs = [r for r in self.state.runs.values()
                if r["info"]["experiment_id"] in ids and r["info"]["lifecycle_stage"] == "active"]
        runs.sort(key=lambda r: (-(r["info"]["start_time"] or 0), r["info"]["run_id"]))
        off = json.loads(base64.b64decode(b["page_token"]))["offset"] if b.get("page_token") else 0
        n = int(b.get("max_results", 1000))
        out = {"runs": runs[off:off + n]}
        if off + n < len(runs):
            out["next_page_token"] = base64.b64encode(json.dumps({"offset": off + n}).encode()).decode()
        return out

    def ep_metrics_get_history(self, q, b):
        rid = q.get("run_id", [None])[0]
        pts = self.state.history.get((rid, q["metric_key"][0]), [])
        off = int(q["page_token"][0]) if "page_token" in q else 0
        n = self.state.history_page_size
        out = {"metrics": pts[off:off + n]}
        if off + n < len(pts):
            out["next_page_token"] = str(off + n)
        return out


def make_server(host="127.0.0.1", port=0):
    """Returns (server, state); call server.serve_forever() in a thread."""
    state = FakeState()
    handler = type("Handler", (_Handler,), {"state": state})
    srv = ThreadingHTTPServer((host, port), handler)
    srv.daemon_threads = True
    return srv, state


def main(argv):
    import argparse
    import signal
    ap = argparse.ArgumentParser()
    ap.add_argument("cmd")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--store", default=None)
    a = ap.parse_args(argv)
    srv, _ = make_server(a.host, a.port)
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=srv.shutdown).start())
    print("ringo server listening on http://%s:%d" % (a.host, srv.server_address[1]), flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
