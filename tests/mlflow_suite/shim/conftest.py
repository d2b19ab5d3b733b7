"""Markers MLflow's test files use, registered so pytest accepts them, the two monkeypatch
helpers their auth tests call (several variables set or removed at once), and the per-test
SQLite URI (`db_uri`) the 3.x files ask for."""

import pytest


def _setenvs(self, envs, prepend=None):
    for name, value in envs.items():
        self.setenv(name, value, prepend)


def _delenvs(self, names, raising=True):
    for name in names:
        self.delenv(name, raising)


pytest.MonkeyPatch.setenvs = _setenvs
pytest.MonkeyPatch.delenvs = _delenvs


def pytest_configure(config):
    for marker in ("allow_infer_pip_requirements_fallback", "notrackingurimock", "skipcacheclean"):
        config.addinivalue_line("markers", marker)


@pytest.fixture(scope="session")
def _template_db(tmp_path_factory):
    """One SQLite database of MLflow's schema, made once: the 3.x files initialise MLflow's
    own stores on `db_uri` before their server starts (ringo's server keeps its own store)."""
    path = tmp_path_factory.mktemp("template-db") / "mlflow.db"
    try:
        from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore
    except ImportError:
        return path
    SqlAlchemyStore("sqlite:///%s" % path, (path.parent / "artifacts").as_uri()).engine.dispose()
    return path


@pytest.fixture
def db_uri(_template_db, tmp_path):
    """A fresh SQLite URI per test, a copy of the template database."""
    import shutil

    path = tmp_path / "db" / "mlflow.db"
    path.parent.mkdir()
    if _template_db.exists():
        shutil.copy(_template_db, path)
    return "sqlite:///%s" % path


@pytest.fixture(autouse=True)
def _fresh_client_state(monkeypatch):
    """Each test starts without the previous one's active experiment, run or tracking URI, as
    in MLflow's own test session (a stale experiment id would name another server's)."""
    import mlflow
    from mlflow.tracking import fluent

    monkeypatch.delenv("MLFLOW_EXPERIMENT_ID", raising=False)
    monkeypatch.delenv("MLFLOW_RUN_ID", raising=False)
    fluent._active_experiment_id = None
    yield
    while mlflow.active_run():
        mlflow.end_run()
    fluent._active_experiment_id = None
    mlflow.set_tracking_uri(None)
