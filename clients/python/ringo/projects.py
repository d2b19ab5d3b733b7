"""ringo.run(): runs an MLproject with the `ringo run` command line, like mlflow.run()."""

import os
import re
import shutil
import subprocess
import sys

from . import fluent
from .client import RingoError

# The last line `ringo run` prints: "ringo: run <run id> <FINISHED|FAILED|KILLED>".
_RESULT = re.compile(r"^ringo: run ([0-9A-Za-z_-]+) (FINISHED|FAILED|KILLED)$")


class ExecutionError(RingoError):
    """A project run did not finish: `run_id` (None if no run was created), `status`
    ("FAILED", "KILLED", or None) and `returncode` of `ringo run`."""

    def __init__(self, message, run_id=None, status=None, returncode=None):
        super().__init__(message)
        self.run_id = run_id
        self.status = status
        self.returncode = returncode


class ProjectRun:
    """A finished project run: `run_id`, `status` ("FINISHED") and `steps`
    ({step name: (result, run id)} for a pipeline, {} for one entry point)."""

    def __init__(self, run_id, status, steps):
        self.run_id = run_id
        self.status = status
        self.steps = steps

    def get_status(self):
        return self.status

    def __repr__(self):
        return "<ProjectRun run_id=%s status=%s>" % (self.run_id, self.status)


def _binary(ringo_bin):
    path = ringo_bin or os.environ.get("RINGO_BIN") or shutil.which("ringo")
    if not path:
        raise RingoError("no ringo binary: set RINGO_BIN or put ringo on PATH")
    return path


def run(uri, entry_point="main", parameters=None, experiment_name=None, experiment_id=None,
        run_name=None, env_manager=None, use_cache=True, jobs=None, ringo_bin=None):
    """Runs the MLproject in directory `uri` with `ringo run` and waits for it.

    The run logs to the current tracking URI (get_tracking_uri()) and, when a run
    is active in this thread, is a nested run of it (tag mlflow.parentRunId) in
    the same experiment unless `experiment_name`/`experiment_id` say otherwise.
    `parameters` become -P key=value (undeclared ones are appended to the command
    as --key value). The binary is `ringo_bin`, else $RINGO_BIN, else `ringo` on
    PATH. Output of the command is passed through to this process's stdout and
    stderr.

    Returns a ProjectRun for a FINISHED run. Raises ExecutionError when the run
    ends FAILED or KILLED, or `ringo run` fails before running anything (bad
    project, missing parameter: run_id None); RingoError when there is no binary.
    """
    cmd = [_binary(ringo_bin), "run", os.fspath(uri), "-e", entry_point,
           "--tracking-uri", fluent.get_tracking_uri()]
    for k, v in (parameters or {}).items():
        cmd += ["-P", "%s=%s" % (k, v)]
    parent = fluent.active_run()
    if experiment_name is not None:
        cmd += ["--experiment-name", experiment_name]
    elif experiment_id is not None:
        cmd += ["--experiment-id", str(experiment_id)]
    elif parent is not None:
        cmd += ["--experiment-id", str(parent.info["experiment_id"])]
    if parent is not None:
        cmd += ["--parent-run-id", parent.run_id]
    if run_name is not None:
        cmd += ["--run-name", run_name]
    if env_manager is not None:
        cmd += ["--env-manager", env_manager]
    if not use_cache:
        cmd.append("--no-cache")
    if jobs is not None:
        cmd += ["--jobs", str(int(jobs))]

    env = dict(os.environ)
    # The child creates its own run; an inherited run id would only confuse what it starts.
    for var in ("MLFLOW_RUN_ID", "RINGO_RUN_ID", "RINGO_PARENT_RUN_ID"):
        env.pop(var, None)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, env=env)
    run_id = status = None
    steps = {}
    # "  NAME: RESULT (run ID)", "  NAME: cached (run ID, reusing ID)" or "  NAME: skipped".
    step_line = re.compile(r"^  (\S+): (\S+)(?: \(run ([^,\s)]*)(?:, reusing \S+)?\))?$")
    try:
        for raw in proc.stdout:
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            sys.stdout.write(line + "\n")
            m = _RESULT.match(line)
            if m:
                run_id, status = m.group(1), m.group(2)
                steps = {}
                continue
            m = step_line.match(line)
            if m and run_id is not None:
                steps[m.group(1)] = (m.group(2), m.group(3) or "")
        sys.stdout.flush()
        rc = proc.wait()
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    finally:
        proc.stdout.close()
    if status == "FINISHED" and rc == 0:
        return ProjectRun(run_id, status, steps)
    if status is None:
        raise ExecutionError("ringo run %s exited with code %d before running it" % (uri, rc),
                             returncode=rc)
    raise ExecutionError("run %s of %s ended %s" % (run_id, uri, status), run_id=run_id,
                         status=status, returncode=rc)
