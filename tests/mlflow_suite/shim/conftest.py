"""Markers MLflow's test files use, registered so pytest accepts them, and the two monkeypatch
helpers their auth tests call (several variables set or removed at once)."""

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
