"""Markers MLflow's test files use, registered so pytest accepts them."""


def pytest_configure(config):
    for marker in ("allow_infer_pip_requirements_fallback", "notrackingurimock", "skipcacheclean"):
        config.addinivalue_line("markers", marker)
