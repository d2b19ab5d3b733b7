"""Standard-library-only Python client of ringo's MLflow-compatible tracking server.

Two layers:
  - RingoClient: one method per REST endpoint, raising RingoError on failure.
  - module functions (set_experiment, start_run, log_metric, ...) shaped like
    mlflow's fluent API, acting on the active run of the calling thread.
  - run(): runs an MLproject with `ringo run` as a nested run, like mlflow.run().
"""

from .client import (
    MAX_ENTITIES_PER_BATCH,
    MAX_METRICS_PER_BATCH,
    MAX_PARAMS_PER_BATCH,
    MAX_TAGS_PER_BATCH,
    Page,
    RingoClient,
    RingoError,
    chunk_batch,
    decode_metric_value,
    encode_metric_value,
    now_ms,
)
from .fluent import (
    ActiveRun,
    active_run,
    create_experiment,
    delete_experiment,
    delete_run,
    delete_tag,
    download_artifacts,
    end_run,
    get_client,
    get_experiment,
    get_experiment_by_name,
    get_metric_history,
    get_run,
    get_tracking_uri,
    last_active_run_id,
    list_artifacts,
    log_artifact,
    log_artifacts,
    log_dict,
    log_input,
    log_metric,
    log_metrics,
    log_param,
    log_params,
    log_text,
    restore_run,
    search_runs,
    set_experiment,
    set_tag,
    set_tags,
    set_tracking_uri,
    start_run,
)
from .projects import ExecutionError, ProjectRun, run

__version__ = "0.1.0"
from . import coreml  # noqa: E402  (after fluent: it builds on it)
