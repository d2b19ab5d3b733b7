"""Module-level tracking API shaped like mlflow's fluent API (one active run stack per thread)."""

import getpass
import json
import os
import random
import sys
import threading

from . import _yaml
from .client import RingoClient, RingoError, now_ms

DEFAULT_TRACKING_URI = "http://127.0.0.1:5000"

# Tag keys with meaning to MLflow clients and UIs.
TAG_USER = "mlflow.user"
TAG_SOURCE_NAME = "mlflow.source.name"
TAG_SOURCE_TYPE = "mlflow.source.type"
TAG_RUN_NAME = "mlflow.runName"
TAG_PARENT_RUN_ID = "mlflow.parentRunId"
TAG_NOTE = "mlflow.note.content"
TAG_DATASET_CONTEXT = "mlflow.data.context"

_state = threading.local()
_lock = threading.Lock()
_tracking_uri = None
_experiment_id = None
_clients = {}
_consumed_env_run_ids = set()
_last_run_id = None


def _env(name):
    """Reads MLFLOW_<name>, falling back to its twin RINGO_<name>."""
    return os.environ.get("MLFLOW_" + name) or os.environ.get("RINGO_" + name) or None


def _stack():
    s = getattr(_state, "stack", None)
    if s is None:
        s = _state.stack = []
    return s


def set_tracking_uri(uri):
    """Sets the tracking server URL for this process (overrides the environment).
    None reverts to the environment / default."""
    global _tracking_uri
    _tracking_uri = uri


def get_tracking_uri():
    """Returns the tracking URI in effect: set_tracking_uri(), else
    MLFLOW_TRACKING_URI, else RINGO_TRACKING_URI, else http://127.0.0.1:5000."""
    return _tracking_uri or _env("TRACKING_URI") or DEFAULT_TRACKING_URI


def get_client():
    """Returns the (shared, thread-safe) RingoClient of the current tracking URI."""
    uri = get_tracking_uri()
    with _lock:
        c = _clients.get(uri)
        if c is None:
            c = _clients[uri] = RingoClient(uri)
        return c


class ActiveRun:
    """The run started by start_run(). Usable as a context manager: leaving the
    block ends the run as FINISHED, or FAILED if an exception escaped it
    (KILLED for KeyboardInterrupt). `info`, `data` and `inputs` are the run's
    dicts as returned when the run was started or resumed."""

    def __init__(self, run):
        self._run = run

    @property
    def info(self):
        return self._run["info"]

    @property
    def data(self):
        return self._run.get("data", {})

    @property
    def inputs(self):
        return self._run.get("inputs", {})

    @property
    def run_id(self):
        return self.info["run_id"]

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            status = "FINISHED"
        elif issubclass(exc_type, KeyboardInterrupt):
            status = "KILLED"
        else:
            status = "FAILED"
        if any(r.run_id == self.run_id for r in _stack()):
            end_run(status)
        return False

    def __repr__(self):
        return "<ActiveRun run_id=%s>" % self.run_id


def _random_run_name():
    adjectives = ["amber", "brisk", "calm", "dapper", "eager", "fuzzy", "gentle", "honest",
                  "jolly", "keen", "lucid", "mellow", "nimble", "placid", "quiet", "rustic"]
    nouns = ["otter", "heron", "maple", "comet", "badger", "lynx", "willow", "falcon",
             "pebble", "cedar", "finch", "meadow", "quartz", "sparrow", "tide", "yak"]
    return "%s-%s-%d" % (random.choice(adjectives), random.choice(nouns), random.randint(100, 999))


def _source_name():
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None) or (sys.argv[0] if sys.argv and sys.argv[0] else "<console>")
    return os.path.abspath(path) if path not in ("-c", "<console>", "") else path


def _user():
    try:
        return getpass.getuser()
    except Exception:  # no user name in this environment (e.g. uid without passwd entry)
        return "unknown"


def _resolve_experiment_id(experiment_id=None):
    if experiment_id is not None:
        return str(experiment_id)
    if _experiment_id is not None:
        return _experiment_id
    env = _env("EXPERIMENT_ID")
    if env:
        return env
    name = _env("EXPERIMENT_NAME")
    if name:
        return set_experiment(name)["experiment_id"]
    return "0"


def set_experiment(experiment_name=None, experiment_id=None):
    """Makes an experiment the active one for runs started later and returns its
    dict. By name: looks it up (experiments/get-by-name) and creates it when the
    server answers 404. Raises RingoError if the experiment is deleted or (by id)
    unknown."""
    global _experiment_id
    if (experiment_name is None) == (experiment_id is None):
        raise ValueError("pass exactly one of experiment_name, experiment_id")
    c = get_client()
    if experiment_id is not None:
        exp = c.get_experiment(str(experiment_id))
    else:
        exp = c.get_experiment_by_name(experiment_name)
        if exp is None:
            try:
                eid = c.create_experiment(experiment_name)
            except RingoError as e:
                # Another process created it between our lookup and create.
                if e.error_code != "RESOURCE_ALREADY_EXISTS":
                    raise
                exp = c.get_experiment_by_name(experiment_name)
            else:
                exp = c.get_experiment(eid)
    if exp.get("lifecycle_stage") == "deleted":
        raise RingoError("experiment %r (id %s) is deleted; restore it or use another name"
                         % (exp.get("name"), exp.get("experiment_id")),
                         error_code="INVALID_PARAMETER_VALUE")
    _experiment_id = str(exp["experiment_id"])
    return exp


def start_run(run_id=None, experiment_id=None, run_name=None, nested=False, tags=None, description=None):
    """Starts a new run, or resumes one, and makes it the active run.

    - `run_id` given: resumes that run (status set back to RUNNING).
    - no `run_id`, no active run, and MLFLOW_RUN_ID (or RINGO_RUN_ID) set: resumes
      that run; the variable is honoured once per process, so a later
      start_run() creates a new run as mlflow does.
    - otherwise creates a run in `experiment_id`, else the set_experiment()
      one, else MLFLOW_EXPERIMENT_ID / RINGO_EXPERIMENT_ID, else
      MLFLOW_EXPERIMENT_NAME, else "0". New runs get tags mlflow.user,
      mlflow.source.name, mlflow.source.type=LOCAL, mlflow.runName (a random
      name if `run_name` is None), mlflow.parentRunId when nested, and
      mlflow.note.content from `description`; `tags` are added (and win).

    Raises RingoError if a run is already active and `nested` is False, or if a
    resumed run is deleted. Returns an ActiveRun.
    """
    global _last_run_id
    stack = _stack()
    if stack and not nested:
        raise RingoError("run %s is already active; end it with end_run() or pass nested=True"
                         % stack[-1].run_id)
    c = get_client()
    resume = run_id
    if resume is None and not stack:
        env_run = _env("RUN_ID")
        if env_run and env_run not in _consumed_env_run_ids:
            _consumed_env_run_ids.add(env_run)
            resume = env_run
    if resume is not None:
        run = c.get_run(resume)
        if run["info"].get("lifecycle_stage") == "deleted":
            raise RingoError("cannot resume run %s: it is deleted" % resume,
                             error_code="INVALID_PARAMETER_VALUE")
        if experiment_id is not None and str(run["info"]["experiment_id"]) != str(experiment_id):
            raise RingoError("run %s belongs to experiment %s, not %s"
                             % (resume, run["info"]["experiment_id"], experiment_id),
                             error_code="INVALID_PARAMETER_VALUE")
        c.update_run(resume, status="RUNNING", run_name=run_name)
        extra = dict(tags or {})
        if description is not None:
            extra[TAG_NOTE] = description
        if run_name is not None:
            extra[TAG_RUN_NAME] = run_name
        if extra:
            c.log_batch(resume, tags=extra)
        run = c.get_run(resume)
    else:
        name = run_name if run_name is not None else _random_run_name()
        all_tags = {TAG_USER: _user(), TAG_SOURCE_NAME: _source_name(), TAG_SOURCE_TYPE: "LOCAL",
                    TAG_RUN_NAME: name}
        if stack:
            all_tags[TAG_PARENT_RUN_ID] = stack[-1].run_id
        if description is not None:
            all_tags[TAG_NOTE] = description
        all_tags.update({str(k): str(v) for k, v in (tags or {}).items()})
        run = c.create_run(_resolve_experiment_id(experiment_id), start_time=now_ms(), tags=all_tags,
                           run_name=name, user_id=all_tags[TAG_USER])
    active = ActiveRun(run)
    stack.append(active)
    _last_run_id = active.run_id
    return active


def active_run():
    """Returns the innermost active run (ActiveRun) of this thread, or None."""
    s = _stack()
    return s[-1] if s else None


def last_active_run_id():
    """Returns the id of the run most recently started or resumed, or None."""
    return _last_run_id


def end_run(status="FINISHED"):
    """Ends the innermost active run with `status` ("FINISHED", "FAILED",
    "KILLED") and end_time now. Does nothing if no run is active."""
    s = _stack()
    if not s:
        return
    run = s[-1]
    get_client().set_terminated(run.run_id, status=status)
    s.pop()


def _run_id():
    """Id of the active run, starting one (like mlflow) if none is active."""
    r = active_run()
    if r is None:
        r = start_run()
    return r.run_id


def log_param(key, value):
    """Logs a parameter on the active run; returns `value`."""
    get_client().log_param(_run_id(), key, value)
    return value


def log_params(params):
    """Logs a dict of parameters on the active run (chunked to the batch limits)."""
    get_client().log_batch(_run_id(), params=params)


def log_metric(key, value, step=None, timestamp=None):
    """Logs one metric point on the active run (`step` default 0, `timestamp`
    default now in ms). NaN and infinities are allowed."""
    get_client().log_metric(_run_id(), key, value, timestamp=timestamp, step=step)


def log_metrics(metrics, step=None, timestamp=None):
    """Logs a dict {key: value} of metrics at one step/timestamp (chunked)."""
    ts = timestamp if timestamp is not None else now_ms()
    get_client().log_batch(_run_id(), metrics=[
        {"key": k, "value": v, "timestamp": ts, "step": step} for k, v in metrics.items()])


def set_tag(key, value):
    """Sets a tag on the active run."""
    get_client().set_tag(_run_id(), key, value)


def set_tags(tags):
    """Sets a dict of tags on the active run (chunked)."""
    get_client().log_batch(_run_id(), tags=tags)


def delete_tag(key):
    """Deletes a tag of the active run."""
    get_client().delete_tag(_run_id(), key)


def log_artifact(local_path, artifact_path=None):
    """Uploads a local file into the active run's artifacts under `artifact_path`."""
    get_client().log_artifact(_run_id(), local_path, artifact_path)


def log_artifacts(local_dir, artifact_path=None):
    """Uploads a local directory's files (recursively) under `artifact_path`."""
    get_client().log_artifacts(_run_id(), local_dir, artifact_path)


def log_text(text, artifact_file):
    """Stores `text` (UTF-8) as artifact file `artifact_file` (a relative path)."""
    get_client().log_artifact_bytes(_run_id(), text.encode("utf-8"), artifact_file)


def log_dict(dictionary, artifact_file):
    """Stores `dictionary` as artifact file `artifact_file`: YAML when the name
    ends in .yaml/.yml, JSON (indented) otherwise."""
    ext = os.path.splitext(artifact_file)[1].lower()
    if ext in (".yaml", ".yml"):
        text = _yaml.dump(dictionary)
    else:
        text = json.dumps(dictionary, indent=2)
    log_text(text, artifact_file)


def log_input(dataset, context=None, tags=None):
    """Records a dataset used by the active run. `dataset` is a dict with name,
    digest, source_type, source and optionally schema, profile; `context`
    (e.g. "training") becomes the input tag mlflow.data.context."""
    t = dict(tags or {})
    if context is not None:
        t[TAG_DATASET_CONTEXT] = context
    get_client().log_inputs(_run_id(), [{"dataset": dict(dataset),
                                          "tags": [{"key": k, "value": str(v)} for k, v in t.items()]}])


def get_run(run_id):
    """Returns the run dict (info, data, inputs) of `run_id`."""
    return get_client().get_run(run_id)


def get_experiment(experiment_id):
    """Returns the experiment dict of `experiment_id`."""
    return get_client().get_experiment(experiment_id)


def get_experiment_by_name(name):
    """Returns the experiment dict named `name`, or None."""
    return get_client().get_experiment_by_name(name)


def create_experiment(name, artifact_location=None, tags=None):
    """Creates an experiment and returns its id."""
    return get_client().create_experiment(name, artifact_location, tags)


def delete_experiment(experiment_id):
    """Marks an experiment deleted."""
    get_client().delete_experiment(experiment_id)


def delete_run(run_id):
    """Marks a run deleted."""
    get_client().delete_run(run_id)


def restore_run(run_id):
    """Restores a deleted run."""
    get_client().restore_run(run_id)


def get_metric_history(run_id, key):
    """Returns all points of one metric of a run."""
    return get_client().get_metric_history(run_id, key)


def list_artifacts(run_id=None, path=None):
    """Lists artifacts of `run_id` (default: active run) under `path`."""
    return get_client().list_artifacts(run_id or _run_id(), path)


def download_artifacts(run_id=None, artifact_path="", dst_path=None):
    """Downloads an artifact file or directory of `run_id` (default: active run)
    and returns its local path."""
    return get_client().download_artifacts(run_id or _run_id(), artifact_path, dst_path)


def search_runs(experiment_ids=None, filter_string="", run_view_type="ACTIVE_ONLY", max_results=1000,
                order_by=None):
    """Returns a list of up to `max_results` run dicts matching `filter_string`
    in `experiment_ids` (default: the active experiment), ordered by `order_by`
    (list of "key [ASC|DESC]"); pages are followed transparently."""
    if experiment_ids is None:
        experiment_ids = [_resolve_experiment_id()]
    elif isinstance(experiment_ids, (str, int)):
        experiment_ids = [experiment_ids]
    return get_client().search_all_runs(experiment_ids, filter_string, run_view_type, order_by,
                                        max_results=max_results)
