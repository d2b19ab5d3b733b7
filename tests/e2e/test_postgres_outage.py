"""ringo on PostgreSQL through an outage of the database: 503 while it is down (no crash, no
hang), and back to normal by itself once it is up again."""

import threading
import time
import unittest

from harness import API, Server, unique
from private_postgres import PrivatePostgres


class PostgresOutageTest(unittest.TestCase):
    def setUp(self):
        self.pg = PrivatePostgres()
        self.pg.start()
        self.server = Server(extra_args=["--backend-store-uri", self.pg.uri])
        self.server.start()

    def tearDown(self):
        try:
            rc = self.server.stop()
            self.assertEqual(rc, 0, self.server.stderr_tail())
        finally:
            self.server.cleanup()
            self.pg.stop()

    def create(self, name):
        return self.server.api("POST", "experiments/create", {"name": name})

    def test_unavailable_while_down_then_recovers(self):
        before = self.create(unique("before"))
        self.assertEqual(before.status, 200, before.body)
        exp_id = before.json["experiment_id"]

        self.pg._ctl("-m", "fast", "stop")
        started = time.monotonic()
        r = self.server.api("GET", "experiments/get", query={"experiment_id": exp_id})
        self.assertEqual(r.status, 503, r.body)
        self.assertEqual(r.json["error_code"], "TEMPORARILY_UNAVAILABLE")
        w = self.create(unique("during"))
        self.assertEqual(w.status, 503, w.body)
        self.assertLess(time.monotonic() - started, 30)
        self.assertEqual(self.server.request("GET", "/health").status, 200)

        self.pg.start()
        after = self.create(unique("after"))
        self.assertEqual(after.status, 200, after.body)
        got = self.server.api("GET", "experiments/get", query={"experiment_id": exp_id})
        self.assertEqual(got.status, 200, got.body)


class StartBeforePostgresTest(unittest.TestCase):
    """A replica started before its database waits for it (--backend-wait) instead of exiting."""

    def test_server_started_before_its_database_comes_up_when_it_does(self):
        pg = PrivatePostgres()
        server = Server(extra_args=["--backend-store-uri", pg.uri, "--backend-wait", "20"])
        starter = threading.Thread(target=lambda: time.sleep(3) or pg.start())
        starter.start()
        try:
            server.start()
            starter.join()
            r = server.api("POST", "experiments/create", {"name": unique("late")})
            self.assertEqual(r.status, 200, r.body)
            self.assertIn("waiting up to 20 s for PostgreSQL", server.stderr_tail())
        finally:
            starter.join()
            server.stop()
            server.cleanup()
            pg.stop()

    def test_without_waiting_an_unreachable_database_ends_the_start(self):
        pg = PrivatePostgres()  # never started
        server = Server(extra_args=["--backend-store-uri", pg.uri, "--backend-wait", "0"])
        try:
            with self.assertRaises(Exception):
                server.start()
        finally:
            server.cleanup()


if __name__ == "__main__":
    unittest.main()
