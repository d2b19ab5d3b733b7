"""Low-level client of ringo's MLflow-compatible REST API (one method per endpoint)."""

import http.client
import json
import math
import mimetypes
import os
import posixpath
import socket
import ssl
import threading
import time
import urllib.parse

__all__ = [
    "RingoError",
    "RingoClient",
    "Page",
    "MAX_METRICS_PER_BATCH",
    "MAX_PARAMS_PER_BATCH",
    "MAX_TAGS_PER_BATCH",
    "MAX_ENTITIES_PER_BATCH",
    "encode_metric_value",
    "decode_metric_value",
    "now_ms",
    "chunk_batch",
]

# Per-request limits of runs/log-batch. Larger calls are split by the client.
MAX_METRICS_PER_BATCH = 1000
MAX_PARAMS_PER_BATCH = 100
MAX_TAGS_PER_BATCH = 100
MAX_ENTITIES_PER_BATCH = 1000

# Statuses worth retrying: the server is overloaded or a proxy in front of it is.
_RETRY_STATUSES = (429, 502, 503, 504)

_API = "/api/2.0/mlflow/"
_ARTIFACTS = "/api/2.0/mlflow-artifacts/artifacts"


class RingoError(Exception):
    """A request failed.

    Attributes:
      status: HTTP status code, or None when no response was received
        (connection refused, reset, timed out, or a client-side check failed).
      error_code: the server's MLflow error code (e.g. "RESOURCE_DOES_NOT_EXIST"),
        or None when the response carried none.
      message: human-readable explanation.
    """

    def __init__(self, message, status=None, error_code=None):
        super().__init__(message)
        self.status = status
        self.error_code = error_code
        self.message = message

    def __str__(self):
        parts = []
        if self.status is not None:
            parts.append("HTTP %d" % self.status)
        if self.error_code:
            parts.append(self.error_code)
        prefix = " ".join(parts)
        return "%s: %s" % (prefix, self.message) if prefix else self.message


class Page(list):
    """One page of search results: a list plus `token`, the next page's token
    (None when this is the last page)."""

    def __init__(self, items=(), token=None):
        super().__init__(items)
        self.token = token


def now_ms():
    """Current wall-clock time in integer milliseconds since the epoch."""
    return int(time.time() * 1000)


def encode_metric_value(value):
    """Returns `value` as a float, or as the proto3 JSON strings "NaN",
    "Infinity", "-Infinity" for non-finite values (JSON has no tokens for them).
    Raises ValueError if `value` is not a number."""
    if isinstance(value, bool):
        value = float(value)
    v = float(value)
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "Infinity" if v > 0 else "-Infinity"
    return v


def decode_metric_value(value):
    """Inverse of encode_metric_value: accepts numbers or their string forms."""
    if isinstance(value, str):
        return float({"NaN": "nan", "Infinity": "inf", "-Infinity": "-inf"}.get(value, value))
    if value is None:
        return None
    return float(value)


def _decode_metric(m):
    """Normalises one metric dict from a response: value as float, step and
    timestamp as int (int64 fields may arrive as JSON strings)."""
    out = dict(m)
    if "value" in out:
        out["value"] = decode_metric_value(out["value"])
    for k in ("timestamp", "step"):
        if k in out and out[k] is not None:
            out[k] = int(out[k])
    out.setdefault("step", 0)
    return out


def _decode_run(run):
    data = run.get("data") or {}
    if "metrics" in data:
        data = dict(data)
        data["metrics"] = [_decode_metric(m) for m in data["metrics"]]
        run = dict(run)
        run["data"] = data
    return run


def _metric(key, value, timestamp=None, step=None):
    return {
        "key": key,
        "value": encode_metric_value(value),
        "timestamp": int(timestamp) if timestamp is not None else now_ms(),
        "step": int(step) if step is not None else 0,
    }


def _kv(items):
    """Accepts a dict or an iterable of (key, value) / {"key","value"} and returns
    a list of {"key": str, "value": str}."""
    if items is None:
        return []
    if isinstance(items, dict):
        items = items.items()
    out = []
    for it in items:
        if isinstance(it, dict):
            out.append({"key": str(it["key"]), "value": str(it["value"])})
        else:
            k, v = it
            out.append({"key": str(k), "value": str(v)})
    return out


def chunk_batch(metrics=(), params=(), tags=()):
    """Splits a batch into pieces that each respect the log-batch limits
    (<= 1000 metrics, <= 100 params, <= 100 tags, <= 1000 entities in total).
    Yields (metrics, params, tags) lists; yields nothing for an empty batch.
    Order within each kind is preserved, so a later value of a repeated tag
    is still sent later."""
    metrics, params, tags = list(metrics), list(params), list(tags)
    mi = pi = ti = 0
    while mi < len(metrics) or pi < len(params) or ti < len(tags):
        p = params[pi:pi + MAX_PARAMS_PER_BATCH]
        t = tags[ti:ti + MAX_TAGS_PER_BATCH]
        room = min(MAX_METRICS_PER_BATCH, MAX_ENTITIES_PER_BATCH - len(p) - len(t))
        m = metrics[mi:mi + room]
        pi, ti, mi = pi + len(p), ti + len(t), mi + len(m)
        yield m, p, t


def _q(path):
    """Percent-encodes an artifact path for use in a URL path (keeps '/')."""
    return urllib.parse.quote(path, safe="/")


def tls_context():
    """The TLS context of https tracking URIs, read from MLflow's variables as its clients do:
    the system's CAs plus MLFLOW_TRACKING_SERVER_CERT_PATH (a PEM bundle), or no verification
    when MLFLOW_TRACKING_INSECURE_TLS is "true". ValueError when both are set."""
    insecure = os.environ.get("MLFLOW_TRACKING_INSECURE_TLS", "").lower() in ("true", "1")
    ca = os.environ.get("MLFLOW_TRACKING_SERVER_CERT_PATH") or None
    if insecure and ca:
        raise ValueError("MLFLOW_TRACKING_INSECURE_TLS=true and MLFLOW_TRACKING_SERVER_CERT_PATH "
                         "exclude each other: unset one")
    ctx = ssl.create_default_context()
    if insecure:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    elif ca:
        ctx.load_verify_locations(cafile=ca)
    return ctx


class RingoClient:
    """Client of one tracking server.

    `tracking_uri` is an http(s) URL such as "http://127.0.0.1:5000" (an optional
    path prefix is kept). Each thread uses its own keep-alive connection, so one
    client may be shared between threads. Every method raises RingoError on a
    non-2xx response or a transport failure. Requests answered with 429/502/503/504
    are retried `max_retries` times with exponential backoff.
    """

    def __init__(self, tracking_uri, timeout=120.0, max_retries=3, backoff=0.5):
        u = urllib.parse.urlsplit(tracking_uri)
        if u.scheme not in ("http", "https") or not u.hostname:
            raise ValueError("tracking URI must be an http(s) URL, got %r" % (tracking_uri,))
        self.tracking_uri = tracking_uri.rstrip("/")
        self._scheme = u.scheme
        self._host = u.hostname
        self._port = u.port or (443 if u.scheme == "https" else 80)
        self._netloc = u.netloc
        self._prefix = u.path.rstrip("/")
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff = backoff
        self._local = threading.local()
        self._artifact_uris = {}

    # ------------------------------------------------------------------ transport

    def _conn(self):
        c = getattr(self._local, "conn", None)
        if c is None:
            if self._scheme == "https":
                c = http.client.HTTPSConnection(self._host, self._port, timeout=self.timeout,
                                                context=tls_context())
            else:
                c = http.client.HTTPConnection(self._host, self._port, timeout=self.timeout)
            self._local.conn = c
            self._local.used = False
        return c

    def _drop_conn(self):
        c = getattr(self._local, "conn", None)
        if c is not None:
            c.close()
        self._local.conn = None

    def close(self):
        """Closes this thread's connection (others close when their threads end)."""
        self._drop_conn()

    def _once(self, method, target, body, headers, sink):
        """One request on this thread's connection. Retries once on a fresh
        connection if a reused keep-alive connection turns out to be closed."""
        for attempt in (0, 1):
            conn = self._conn()
            reused = self._local.used
            try:
                if conn.sock is None:
                    conn.connect()
                    # Headers and a streamed body go out in separate writes; without
                    # TCP_NODELAY, Nagle + delayed ACK would stall each request ~40 ms.
                    conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    reused = False
                if hasattr(body, "seek"):
                    body.seek(0)
                conn.request(method, target, body=body, headers=headers)
                resp = conn.getresponse()
            except (http.client.RemoteDisconnected, ConnectionResetError,
                    BrokenPipeError, http.client.CannotSendRequest) as e:
                self._drop_conn()
                if reused and attempt == 0:
                    continue
                raise RingoError("connection to %s failed: %s" % (self.tracking_uri, e)) from e
            except OSError as e:
                self._drop_conn()
                raise RingoError("connection to %s failed: %s" % (self.tracking_uri, e)) from e
            self._local.used = True
            try:
                if sink is not None and 200 <= resp.status < 300:
                    while True:
                        chunk = resp.read(1 << 20)
                        if not chunk:
                            break
                        sink.write(chunk)
                    data = b""
                else:
                    data = resp.read()
            except OSError as e:
                self._drop_conn()
                raise RingoError("reading response from %s failed: %s" % (self.tracking_uri, e)) from e
            if resp.will_close:
                self._drop_conn()
            return resp.status, resp.headers, data
        raise AssertionError("unreachable")

    def request(self, method, path, query=None, body=None, headers=None, sink=None):
        """Sends one request and returns (status, headers, body bytes) for a 2xx
        answer; raises RingoError otherwise.

        `path` is appended to the tracking URI's path prefix. `query` is a dict
        (list values become repeated parameters; None values are dropped). `body`
        is bytes, a binary file object, or a JSON-serialisable object (sent as
        application/json; NaN/Infinity are refused here: encode them first). With
        `sink`, a 2xx body is streamed into that binary file object instead.
        """
        hdrs = {"Accept": "application/json"}
        # A server with tokens wants them as a bearer token, as MLflow's client sends them.
        token = os.environ.get("MLFLOW_TRACKING_TOKEN") or os.environ.get("RINGO_TOKEN")
        if token:
            hdrs["Authorization"] = "Bearer " + token
        if body is not None and not isinstance(body, (bytes, bytearray)) and not hasattr(body, "read"):
            body = json.dumps(body, allow_nan=False).encode("utf-8")
            hdrs["Content-Type"] = "application/json"
        if headers:
            hdrs.update(headers)
        target = self._prefix + path
        if query:
            pairs = []
            for k, v in query.items():
                if v is None:
                    continue
                if isinstance(v, (list, tuple)):
                    pairs.extend((k, str(x)) for x in v)
                else:
                    pairs.append((k, str(v)))
            if pairs:
                target += "?" + urllib.parse.urlencode(pairs)
        attempt = 0
        while True:
            status, rh, data = self._once(method, target, body, hdrs, sink)
            if status in _RETRY_STATUSES and attempt < self.max_retries:
                time.sleep(self.backoff * (2 ** attempt))
                attempt += 1
                continue
            break
        if 200 <= status < 300:
            return status, rh, data
        code, msg = None, data.decode("utf-8", "replace")[:2000]
        try:
            j = json.loads(data)
            if isinstance(j, dict):
                code = j.get("error_code")
                msg = j.get("message", msg)
        except ValueError:
            pass
        raise RingoError(msg or ("%s %s failed" % (method, path)), status=status, error_code=code)

    def _json(self, method, endpoint, query=None, body=None):
        _, _, data = self.request(method, _API + endpoint, query=query, body=body)
        if not data.strip():
            return {}
        return json.loads(data)

    def _get(self, endpoint, **query):
        return self._json("GET", endpoint, query=query)

    def _post(self, endpoint, body):
        return self._json("POST", endpoint, body={k: v for k, v in body.items() if v is not None})

    # ---------------------------------------------------------------- experiments

    def create_experiment(self, name, artifact_location=None, tags=None):
        """Creates an experiment and returns its id (str). Raises RingoError
        (400 RESOURCE_ALREADY_EXISTS) if the name is taken."""
        body = {"name": name, "artifact_location": artifact_location}
        if tags:
            body["tags"] = _kv(tags)
        return str(self._post("experiments/create", body)["experiment_id"])

    def get_experiment(self, experiment_id):
        """Returns the experiment dict (experiment_id, name, artifact_location,
        lifecycle_stage, creation_time, last_update_time, tags). 404 if unknown."""
        return self._get("experiments/get", experiment_id=experiment_id)["experiment"]

    def get_experiment_by_name(self, name):
        """Returns the experiment dict with that name, or None if there is none
        (the server answered 404 RESOURCE_DOES_NOT_EXIST)."""
        try:
            return self._get("experiments/get-by-name", experiment_name=name)["experiment"]
        except RingoError as e:
            if e.status == 404:
                return None
            raise

    def search_experiments(self, filter_string=None, order_by=None, view_type="ACTIVE_ONLY",
                           max_results=1000, page_token=None):
        """Returns one Page of experiment dicts; `.token` is the next page token."""
        body = {"filter": filter_string or None, "order_by": list(order_by) if order_by else None,
                "view_type": view_type, "max_results": max_results, "page_token": page_token}
        r = self._post("experiments/search", body)
        return Page(r.get("experiments", []), r.get("next_page_token") or None)

    def search_all_experiments(self, filter_string=None, order_by=None, view_type="ACTIVE_ONLY",
                               page_size=1000):
        """Returns every matching experiment, following next_page_token."""
        out, token = [], None
        while True:
            page = self.search_experiments(filter_string, order_by, view_type, page_size, token)
            out.extend(page)
            token = page.token
            if not token:
                return out

    def update_experiment(self, experiment_id, new_name):
        """Renames an experiment."""
        self._post("experiments/update", {"experiment_id": experiment_id, "new_name": new_name})

    def delete_experiment(self, experiment_id):
        """Marks an experiment (and so its runs) deleted."""
        self._post("experiments/delete", {"experiment_id": experiment_id})

    def restore_experiment(self, experiment_id):
        """Restores a deleted experiment."""
        self._post("experiments/restore", {"experiment_id": experiment_id})

    def set_experiment_tag(self, experiment_id, key, value):
        """Sets (or overwrites) one experiment tag."""
        self._post("experiments/set-experiment-tag",
                   {"experiment_id": experiment_id, "key": key, "value": str(value)})

    def delete_experiment_tag(self, experiment_id, key):
        """Deletes one experiment tag. 404 if the tag does not exist."""
        self._post("experiments/delete-experiment-tag", {"experiment_id": experiment_id, "key": key})

    # ----------------------------------------------------------------------- runs

    def create_run(self, experiment_id="0", start_time=None, tags=None, run_name=None, user_id=None):
        """Creates a run and returns the run dict ({"info", "data", "inputs"})."""
        body = {"experiment_id": str(experiment_id),
                "start_time": int(start_time) if start_time is not None else now_ms(),
                "run_name": run_name, "user_id": user_id}
        if tags:
            body["tags"] = _kv(tags)
        run = _decode_run(self._post("runs/create", body)["run"])
        info = run.get("info", {})
        if info.get("artifact_uri"):
            self._artifact_uris[info["run_id"]] = info["artifact_uri"]
        return run

    def get_run(self, run_id):
        """Returns the run dict: info, data (metrics = latest value per key,
        params, tags), inputs. Raises RingoError 404 if unknown."""
        run = _decode_run(self._get("runs/get", run_id=run_id, run_uuid=run_id)["run"])
        info = run.get("info", {})
        if info.get("artifact_uri"):
            self._artifact_uris[run_id] = info["artifact_uri"]
        return run

    def update_run(self, run_id, status=None, end_time=None, run_name=None):
        """Updates status ("RUNNING", "SCHEDULED", "FINISHED", "FAILED",
        "KILLED"), end_time (ms) and/or run_name; returns the new run_info."""
        body = {"run_id": run_id, "run_uuid": run_id, "status": status,
                "end_time": int(end_time) if end_time is not None else None, "run_name": run_name}
        return self._post("runs/update", body).get("run_info", {})

    def set_terminated(self, run_id, status="FINISHED", end_time=None):
        """Ends a run: update_run with a terminal status and end_time (default now)."""
        return self.update_run(run_id, status=status, end_time=end_time if end_time is not None else now_ms())

    def delete_run(self, run_id):
        """Marks a run deleted (lifecycle_stage "deleted")."""
        self._post("runs/delete", {"run_id": run_id})

    def restore_run(self, run_id):
        """Restores a deleted run."""
        self._post("runs/restore", {"run_id": run_id})

    def log_metric(self, run_id, key, value, timestamp=None, step=None):
        """Logs one metric point. NaN/±inf are sent as "NaN"/"Infinity"/"-Infinity".
        `timestamp` defaults to now (ms), `step` to 0."""
        body = dict(_metric(key, value, timestamp, step), run_id=run_id, run_uuid=run_id)
        self._post("runs/log-metric", body)

    def log_param(self, run_id, key, value):
        """Logs a parameter (stringified). Re-logging the same value is allowed;
        a different value fails with 400 INVALID_PARAMETER_VALUE."""
        self._post("runs/log-parameter", {"run_id": run_id, "run_uuid": run_id, "key": key, "value": str(value)})

    def set_tag(self, run_id, key, value):
        """Sets (or overwrites) a run tag."""
        self._post("runs/set-tag", {"run_id": run_id, "run_uuid": run_id, "key": key, "value": str(value)})

    def delete_tag(self, run_id, key):
        """Deletes a run tag. 404 if the tag does not exist."""
        self._post("runs/delete-tag", {"run_id": run_id, "key": key})

    def log_batch(self, run_id, metrics=(), params=(), tags=()):
        """Logs metrics, params and tags, split into as many log-batch requests as
        the per-request limits require (requests are sent in order; if one fails,
        the earlier ones stay applied).

        `metrics`: iterable of dicts {"key", "value", "timestamp"?, "step"?} or
        tuples (key, value[, timestamp[, step]]). `params`/`tags`: dict or
        iterable of (key, value) pairs or {"key", "value"} dicts.
        """
        ms = []
        for m in metrics:
            if isinstance(m, dict):
                ms.append(_metric(m["key"], m["value"], m.get("timestamp"), m.get("step")))
            else:
                ms.append(_metric(*m))
        for m, p, t in chunk_batch(ms, _kv(params), _kv(tags)):
            self._post("runs/log-batch", {"run_id": run_id, "metrics": m, "params": p, "tags": t})

    def log_inputs(self, run_id, datasets):
        """Logs dataset inputs. `datasets`: list of {"dataset": {name, digest,
        source_type, source, schema?, profile?}, "tags": [{key, value}]}."""
        self._post("runs/log-inputs", {"run_id": run_id, "datasets": list(datasets)})

    def search_runs(self, experiment_ids, filter_string="", run_view_type="ACTIVE_ONLY",
                    max_results=1000, order_by=None, page_token=None):
        """Returns one Page of run dicts; `.token` is the next page token or None."""
        body = {"experiment_ids": [str(e) for e in experiment_ids], "filter": filter_string or None,
                "run_view_type": run_view_type, "max_results": int(max_results),
                "order_by": list(order_by) if order_by else None, "page_token": page_token}
        r = self._post("runs/search", body)
        return Page([_decode_run(x) for x in r.get("runs", [])], r.get("next_page_token") or None)

    def search_all_runs(self, experiment_ids, filter_string="", run_view_type="ACTIVE_ONLY",
                        order_by=None, max_results=None, page_size=1000):
        """Returns up to `max_results` (all if None) matching runs, following
        next_page_token across pages of `page_size`."""
        out, token = [], None
        while max_results is None or len(out) < max_results:
            size = page_size if max_results is None else min(page_size, max_results - len(out))
            page = self.search_runs(experiment_ids, filter_string, run_view_type, size, order_by, token)
            out.extend(page)
            token = page.token
            if not token or not page:
                break
        return out

    def get_metric_history(self, run_id, key, page_size=None):
        """Returns every point of metric `key` of a run (dicts with key, value,
        timestamp, step), following next_page_token if the server pages."""
        out, token = [], None
        while True:
            r = self._get("metrics/get-history", run_id=run_id, run_uuid=run_id, metric_key=key,
                          max_results=page_size, page_token=token)
            out.extend(_decode_metric(m) for m in r.get("metrics", []))
            token = r.get("next_page_token")
            if not token:
                return out

    def get_metric_history_bulk_interval(self, run_ids, metric_key, max_results=None,
                                         start_step=None, end_step=None):
        """Returns sampled points of one metric over several runs (each dict also
        carries run_id), as the web UI's charts request them."""
        r = self._get("metrics/get-history-bulk-interval", run_ids=list(run_ids), metric_key=metric_key,
                      max_results=max_results, start_step=start_step, end_step=end_step)
        return [_decode_metric(m) for m in r.get("metrics", [])]

    # ----------------------------------------------------- logged models (MLflow 3)

    def create_logged_model(self, experiment_id, name=None, source_run_id=None, model_type=None,
                            params=None, tags=None):
        """Creates a logged model (PENDING) and returns it: {"info": {...}, "data": {...}}."""
        body = {"experiment_id": str(experiment_id), "name": name, "source_run_id": source_run_id,
                "model_type": model_type, "params": _kv(params), "tags": _kv(tags)}
        return self._post("logged-models", body)["model"]

    def get_logged_model(self, model_id):
        return self._get("logged-models/" + _q(model_id))["model"]

    def finalize_logged_model(self, model_id, status="LOGGED_MODEL_READY"):
        """Marks a logged model READY (its files are uploaded) or LOGGED_MODEL_UPLOAD_FAILED."""
        return self._json("PATCH", "logged-models/" + _q(model_id), body={"status": status})["model"]

    def search_logged_models(self, experiment_ids, filter_string=None, max_results=None, page_token=None):
        """One page of logged models (a Page of dicts with .token)."""
        r = self._post("logged-models/search", {"experiment_ids": [str(e) for e in experiment_ids],
                                                "filter": filter_string or None,
                                                "max_results": max_results, "page_token": page_token})
        return Page(r.get("models", []), r.get("next_page_token"))

    def log_outputs(self, run_id, model_ids, step=0):
        """Records logged models as outputs of a run."""
        self._post("runs/outputs", {"run_id": run_id,
                                    "models": [{"model_id": m, "step": step} for m in model_ids]})

    def upload_to_uri(self, artifact_uri, local_path, name=None):
        """Uploads a local file, or a directory recursively, under an mlflow-artifacts: URI
        (a logged model's artifact location) as `name` (default: its base name)."""
        u = urllib.parse.urlsplit(artifact_uri)
        if u.scheme != "mlflow-artifacts":
            raise RingoError("%r is not served by the tracking server" % (artifact_uri,))
        root = self._join(u.path, name or os.path.basename(os.path.normpath(local_path)))
        paths = [(local_path, root)]
        if os.path.isdir(local_path):
            paths = []
            for dirpath, _, files in os.walk(local_path):
                rel = os.path.relpath(dirpath, local_path)
                for fn in sorted(files):
                    dest = self._join(root, "" if rel == "." else rel.replace(os.sep, "/"), fn)
                    paths.append((os.path.join(dirpath, fn), dest))
        for src, dest in paths:
            with open(src, "rb") as f:
                self.request("PUT", _ARTIFACTS + "/" + _q(dest), body=f,
                             headers={"Content-Type": "application/octet-stream",
                                      "Content-Length": str(os.path.getsize(src))})

    # ------------------------------------------------------------------ artifacts

    def _artifact_root(self, run_id):
        """Returns (base URL path on this server, path under the proxy root) of the
        run's artifact directory."""
        uri = self._artifact_uris.get(run_id)
        if uri is None:
            uri = self.get_run(run_id)["info"]["artifact_uri"]
        u = urllib.parse.urlsplit(uri)
        if u.scheme == "mlflow-artifacts":
            return u.path.strip("/")
        if u.scheme in ("http", "https"):
            marker = "/api/2.0/mlflow-artifacts/artifacts"
            i = u.path.find(marker)
            if i >= 0:
                return u.path[i + len(marker):].strip("/")
        raise RingoError("artifact_uri %r of run %s is not served by the tracking server" % (uri, run_id))

    @staticmethod
    def _join(*parts):
        return "/".join(p.strip("/") for p in parts if p and p.strip("/"))

    def log_artifact_bytes(self, run_id, data, artifact_file):
        """Uploads `data` (bytes) as the artifact at relative path `artifact_file`."""
        root = self._artifact_root(run_id)
        ctype = mimetypes.guess_type(artifact_file)[0] or "application/octet-stream"
        self.request("PUT", _ARTIFACTS + "/" + _q(self._join(root, artifact_file)), body=bytes(data),
                     headers={"Content-Type": ctype})

    def log_artifact(self, run_id, local_path, artifact_path=None):
        """Uploads one local file into the run's artifacts, under directory
        `artifact_path` (root if None), keeping its base name."""
        root = self._artifact_root(run_id)
        name = os.path.basename(local_path)
        ctype = mimetypes.guess_type(name)[0] or "application/octet-stream"
        size = os.path.getsize(local_path)
        with open(local_path, "rb") as f:
            self.request("PUT", _ARTIFACTS + "/" + _q(self._join(root, artifact_path or "", name)), body=f,
                         headers={"Content-Type": ctype, "Content-Length": str(size)})

    def log_artifacts(self, run_id, local_dir, artifact_path=None):
        """Uploads every file under `local_dir` (recursively, one PUT per file),
        mirroring its layout under `artifact_path`."""
        local_dir = os.path.abspath(local_dir)
        for dirpath, _, files in os.walk(local_dir):
            rel = os.path.relpath(dirpath, local_dir)
            rel = "" if rel == "." else rel.replace(os.sep, "/")
            for fn in sorted(files):
                self.log_artifact(run_id, os.path.join(dirpath, fn), self._join(artifact_path or "", rel))

    def list_artifacts(self, run_id, path=None):
        """Lists the direct children of artifact directory `path` (root if None).
        Returns dicts {"path": path relative to the run's artifact root, "is_dir",
        "file_size" (files only)}. A file path or missing directory gives []."""
        root = self._artifact_root(run_id)
        _, _, data = self.request("GET", _ARTIFACTS, query={"path": self._join(root, path or "")})
        r = json.loads(data) if data.strip() else {}
        out = []
        for f in r.get("files", []):
            e = {"path": self._join(path or "", f["path"]), "is_dir": bool(f.get("is_dir", False))}
            if not e["is_dir"] and "file_size" in f:
                e["file_size"] = int(f["file_size"])
            out.append(e)
        return out

    def read_artifact(self, run_id, path):
        """Returns the bytes of one artifact file."""
        root = self._artifact_root(run_id)
        _, _, data = self.request("GET", _ARTIFACTS + "/" + _q(self._join(root, path)))
        return data

    def delete_artifacts(self, run_id, path):
        """Deletes an artifact file or directory."""
        root = self._artifact_root(run_id)
        self.request("DELETE", _ARTIFACTS + "/" + _q(self._join(root, path)))

    def _is_dir(self, run_id, path):
        if not path.strip("/"):
            return True
        parent = posixpath.dirname(path.strip("/"))
        for e in self.list_artifacts(run_id, parent or None):
            if e["path"] == path.strip("/"):
                return e["is_dir"]
        return False

    def download_artifacts(self, run_id, path="", dst_path=None):
        """Downloads artifact file or directory `path` ("" = everything) into
        `dst_path` (a new temporary directory if None), recursively for
        directories, and returns the local path of what was downloaded."""
        import tempfile
        dst = dst_path if dst_path is not None else tempfile.mkdtemp(prefix="ringo-artifacts-")
        path = (path or "").strip("/")
        root = self._artifact_root(run_id)

        def fetch_file(rel):
            local = os.path.join(dst, *rel.split("/"))
            os.makedirs(os.path.dirname(local), exist_ok=True)
            tmp = local + ".part"
            with open(tmp, "wb") as f:
                self.request("GET", _ARTIFACTS + "/" + _q(self._join(root, rel)), sink=f)
            os.replace(tmp, local)
            return local

        def fetch_dir(rel):
            local = os.path.join(dst, *rel.split("/")) if rel else dst
            os.makedirs(local, exist_ok=True)
            for e in self.list_artifacts(run_id, rel or None):
                if e["is_dir"]:
                    fetch_dir(e["path"])
                else:
                    fetch_file(e["path"])
            return local

        if self._is_dir(run_id, path):
            return fetch_dir(path)
        return fetch_file(path)
