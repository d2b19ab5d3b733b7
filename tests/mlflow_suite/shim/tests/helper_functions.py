"""The helpers MLflow's test files import from their own package, as ringo's runner provides
them: a free port on 127.0.0.1 and random names."""

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
