"""The helpers MLflow's test files import from their own package, as ringo's runner provides
them: a free port on 127.0.0.1, random names, and stopping a process tree."""

import random
import socket
import string

LOCALHOST = "127.0.0.1"


def get_safe_port():
    with socket.socket() as s:
        s.bind((LOCALHOST, 0))
        return s.getsockname()[1]


def random_str(size=10):
    return "".join(random.choice(string.ascii_lowercase) for _ in range(size))


def kill_process_tree(pid):
    """Kills a process and everything it started (MLflow's auth tests stop servers this way)."""
    import psutil

    try:
        root = psutil.Process(pid)
    except psutil.NoSuchProcess:
        return
    procs = root.children(recursive=True) + [root]
    for p in procs:
        try:
            p.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(procs, timeout=10)
