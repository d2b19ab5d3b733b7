"""Core ML models as MLflow 3 logged models.

log_model() logs a .mlmodel file or .mlpackage folder as a LoggedModel of the active run (or of
`run_id`), with an MLmodel file naming the `coreml` flavor and, when the `ringo` binary is at
hand, the model's inspect summary, so that any MLflow client can find, download and register it.
"""

import datetime
import json
import os
import shutil
import subprocess
import tempfile

from . import _yaml
from .client import RingoError
from .fluent import active_run, end_run, get_client, start_run

FLAVOR = "coreml"


def _ringo_binary():
    return os.environ.get("RINGO_BIN") or shutil.which("ringo")


def inspect(path):
    """The model's summary as `ringo inspect --json` prints it, or None without the binary.
    Raises RingoError when the binary cannot read the model."""
    binary = _ringo_binary()
    if not binary:
        return None
    p = subprocess.run([binary, "inspect", "--json", path], capture_output=True, text=True)
    if p.returncode != 0:
        raise RingoError("%s is not a readable Core ML model: %s" % (path, p.stderr.strip()))
    return json.loads(p.stdout)


def _mlmodel_text(file_name, model_id, run_id, summary):
    flavor = {"model_file": file_name}
    if summary:
        for key in ("model_type", "specification_version", "minimum_ios", "minimum_macos",
                    "weight_precision", "parameter_count", "file_size"):
            if key in summary:
                flavor[key] = summary[key]
        flavor["inputs"] = [{"name": f["name"], "type": f["type"]} for f in summary.get("inputs", [])]
        flavor["outputs"] = [{"name": f["name"], "type": f["type"]} for f in summary.get("outputs", [])]
    doc = {
        "artifact_path": "",
        "flavors": {FLAVOR: flavor},
        "model_id": model_id,
        "run_id": run_id,
        "utc_time_created": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f"),
    }
    return _yaml.dump(doc)


def log_model(path, name=None, run_id=None, registered_model_name=None, params=None, tags=None):
    """Logs the Core ML model at `path` (.mlmodel or .mlpackage) as a logged model named `name`
    (default: the file's stem) and returns the logged model's dict ({"info", "data"}).

    The model is an output of the active run (one is started and ended when none is active and
    `run_id` is None). With `registered_model_name`, a new registry version is created from it
    (the registered model is created when missing) and its number is in
    returned["registered_version"]. Raises RingoError on failure; the logged model is then marked
    LOGGED_MODEL_UPLOAD_FAILED.
    """
    path = os.path.normpath(path)
    if not os.path.exists(path):
        raise RingoError("%s does not exist" % path)
    ext = os.path.splitext(path)[1].lower()
    if ext not in (".mlmodel", ".mlpackage"):
        raise RingoError("%s is not a .mlmodel or .mlpackage" % path)
    summary = inspect(path)
    client = get_client()
    started = None
    if run_id is None:
        run = active_run()
        if run is None:
            started = start_run()
            run = started
        run_id = run.run_id
    try:
        info = client.get_run(run_id)["info"]
        file_name = os.path.basename(path)
        model = client.create_logged_model(info["experiment_id"], name=name or os.path.splitext(file_name)[0],
                                           source_run_id=run_id, model_type=FLAVOR, params=params, tags=tags)
        model_id = model["info"]["model_id"]
        uri = model["info"]["artifact_uri"]
        try:
            client.upload_to_uri(uri, path)
            with tempfile.TemporaryDirectory() as d:
                mlmodel = os.path.join(d, "MLmodel")
                with open(mlmodel, "w") as f:
                    f.write(_mlmodel_text(file_name, model_id, run_id, summary))
                client.upload_to_uri(uri, mlmodel)
        except Exception:
            client.finalize_logged_model(model_id, "LOGGED_MODEL_UPLOAD_FAILED")
            raise
        model = client.finalize_logged_model(model_id)
        client.log_outputs(run_id, [model_id])
        if registered_model_name:
            try:
                client._post("registered-models/create", {"name": registered_model_name})
            except RingoError as e:
                if e.error_code != "RESOURCE_ALREADY_EXISTS":
                    raise
            v = client._post("model-versions/create", {"name": registered_model_name, "source": uri,
                                                       "run_id": run_id})["model_version"]
            model["registered_version"] = v["version"]
        return model
    finally:
        if started is not None:
            end_run()
