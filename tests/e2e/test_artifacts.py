"""Black-box tests of the artifact proxy (/api/2.0/mlflow-artifacts/artifacts) of `ringo server`:
upload, download, HEAD, Range, listing, delete, path-escape attempts and body limits."""

import io
import os
import shutil
import socket
import tempfile
import unittest
import zipfile

import private_s3
from harness import API, ARTIFACTS, Server, ServerTestCase, unique

JSON_BODY_LIMIT = 16 * 1024 * 1024


class ArtifactTest(ServerTestCase):
    def setUp(self):
        self.eid = self.new_experiment("art")
        self.run = self.new_run(self.eid)
        self.rid = self.run["info"]["run_id"]
        self.root = "%s/%s/artifacts" % (self.eid, self.rid)
        self.assertEqual(self.run["info"]["artifact_uri"], "mlflow-artifacts:/" + self.root)

    def url(self, rel):
        return "%s/%s/%s" % (ARTIFACTS, self.root, rel)

    def put(self, rel, data, status=200):
        r = self.server.request("PUT", self.url(rel), body=data, headers={"Content-Type": "application/octet-stream"})
        self.assertEqual(r.status, status, r)
        return r

    def listing(self, rel=""):
        path = self.root + ("/" + rel if rel else "")
        r = self.server.request("GET", ARTIFACTS, query={"path": path})
        self.assertEqual(r.status, 200, r)
        return {f["path"]: f for f in (r.json or {}).get("files", [])}

    def disk_path(self, rel):
        """Finds where the server stored artifact `rel` of this run (layout-agnostic)."""
        marker = unique("marker") + ".txt"
        self.put(marker, b"m")
        # With artifacts on S3 the files are in the S3 server's directory.
        top = self.server.s3.root if self.server.s3 else self.server.store
        for dirpath, _, files in os.walk(top):
            if marker in files:
                run_dir = dirpath
                break
        else:
            self.fail("uploaded artifact not found under the store directory")
        self.server.request("DELETE", self.url(marker))
        return os.path.join(run_dir, *rel.split("/")) if rel else run_dir

    # ----------------------------------------------------------------- basics

    def test_put_get_head(self):
        data = bytes(range(256)) * 4
        r = self.put("model/weights.bin", data)
        self.assertEqual(r.json or {}, {})
        r = self.server.request("GET", self.url("model/weights.bin"))
        self.assertEqual((r.status, r.body), (200, data))
        self.assertEqual(int(r.header("Content-Length")), len(data))
        self.assertEqual(r.header("X-Content-Type-Options"), "nosniff")
        self.assertIn("attachment", r.header("Content-Disposition") or "")
        self.assertIn("weights.bin", r.header("Content-Disposition") or "")
        r = self.server.request("HEAD", self.url("model/weights.bin"))
        self.assertEqual((r.status, r.body), (200, b""))
        self.assertEqual(int(r.header("Content-Length")), len(data))
        self.put("notes.txt", "héllo\n".encode("utf-8"))
        r = self.server.request("GET", self.url("notes.txt"))
        self.assertTrue(r.header("Content-Type").startswith("text/plain"), r.header("Content-Type"))
        self.assertEqual(r.body.decode("utf-8"), "héllo\n")

    def test_overwrite_and_empty_file(self):
        self.put("f.txt", b"first version")
        self.put("f.txt", b"second")
        self.assertEqual(self.server.request("GET", self.url("f.txt")).body, b"second")
        self.put("empty.txt", b"")
        r = self.server.request("GET", self.url("empty.txt"))
        self.assertEqual((r.status, r.body), (200, b""))

    def test_names_needing_escapes(self):
        self.put("dir%20x/with%20space%20%26%20percent%2525.txt", b"escaped")
        self.assertIn("with space & percent%25.txt", self.listing("dir x"))
        r = self.server.request("GET", self.url("dir%20x/with%20space%20%26%20percent%2525.txt"))
        self.assertEqual((r.status, r.body), (200, b"escaped"))

    def test_missing_file_is_404(self):
        r = self.server.request("GET", self.url("nope.txt"))
        self.assertError(r, 404, "RESOURCE_DOES_NOT_EXIST")
        self.assertEqual(self.server.request("HEAD", self.url("nope.txt")).status, 404)

    def test_range_requests(self):
        data = b"0123456789"
        self.put("r.txt", data)

        def get(rng):
            return self.server.request("GET", self.url("r.txt"), headers={"Range": rng})

        r = get("bytes=2-5")
        self.assertEqual((r.status, r.body, r.header("Content-Range")), (206, b"2345", "bytes 2-5/10"))
        self.assertEqual(int(r.header("Content-Length")), 4)
        r = get("bytes=7-")
        self.assertEqual((r.status, r.body, r.header("Content-Range")), (206, b"789", "bytes 7-9/10"))
        r = get("bytes=-3")
        self.assertEqual((r.status, r.body, r.header("Content-Range")), (206, b"789", "bytes 7-9/10"))
        r = get("bytes=8-100")
        self.assertEqual((r.status, r.body, r.header("Content-Range")), (206, b"89", "bytes 8-9/10"))
        r = get("bytes=10-20")
        self.assertEqual(r.status, 416)
        self.assertEqual(r.header("Content-Range"), "bytes */10")
        r = get("bytes=5-2")
        self.assertIn(r.status, (200, 416))
        if r.status == 200:
            self.assertEqual(r.body, data)
        r = self.server.request("HEAD", self.url("r.txt"), headers={"Range": "bytes=0-0"})
        self.assertEqual((r.status, r.header("Content-Range"), r.body), (206, "bytes 0-0/10", b""))

    def test_list_nested_dirs(self):
        self.put("a.txt", b"12345")
        self.put("d1/b.txt", b"1")
        self.put("d1/d2/d3/c.txt", b"12")
        root = self.listing()
        self.assertEqual(set(root), {"a.txt", "d1"})
        self.assertEqual((root["a.txt"]["is_dir"], int(root["a.txt"]["file_size"])), (False, 5))
        self.assertTrue(root["d1"]["is_dir"])
        d1 = self.listing("d1")
        self.assertEqual({k: v["is_dir"] for k, v in d1.items()}, {"b.txt": False, "d2": True})
        self.assertEqual(set(self.listing("d1/d2/d3")), {"c.txt"})
        # Listing a file gives no entries (the client then downloads it as a file).
        self.assertEqual(self.listing("a.txt"), {})
        r = self.server.request("GET", ARTIFACTS, query={"path": self.root + "/no-such-dir"})
        self.assertIn(r.status, (200, 404))
        if r.status == 200:
            self.assertFalse((r.json or {}).get("files"))

    def test_delete(self):
        self.put("keep.txt", b"k")
        self.put("gone.txt", b"g")
        self.put("tree/x/y.txt", b"y")
        r = self.server.request("DELETE", self.url("gone.txt"))
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.server.request("GET", self.url("gone.txt")).status, 404)
        r = self.server.request("DELETE", self.url("tree"))
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.server.request("GET", self.url("tree/x/y.txt")).status, 404)
        self.assertEqual(set(self.listing()), {"keep.txt"})
        self.assertEqual(self.server.request("DELETE", self.url("never-existed.txt")).status, 404)

    def test_artifact_above_json_limit_is_accepted(self):
        data = os.urandom(1024) * (17 * 1024)
        self.put("big.bin", data)
        r = self.server.request("HEAD", self.url("big.bin"))
        self.assertEqual(int(r.header("Content-Length")), len(data))
        r = self.server.request("GET", self.url("big.bin"), headers={"Range": "bytes=%d-" % (len(data) - 10)})
        self.assertEqual((r.status, r.body), (206, data[-10:]))

    # --------------------------------------------------------------- escapes

    def _outside_snapshot(self):
        """Every file under the test's temp dir (store included)."""
        out = set()
        for dirpath, _, files in os.walk(self.server.workdir):
            for f in files:
                out.add(os.path.join(dirpath, f))
        return out

    def test_traversal_attempts_are_refused(self):
        os.makedirs(self.server.store, exist_ok=True)
        canary = os.path.join(self.server.store, "canary.txt")
        with open(canary, "wb") as f:
            f.write(b"do not touch")
        before = self._outside_snapshot()
        probes = [
            self.url("../../../../escape1.txt"),
            self.url("a/../../../../../escape2.txt"),
            self.url("%2e%2e/%2e%2e/%2e%2e/%2e%2e/escape3.txt"),
            self.url("%2E%2E%2F%2E%2E%2F%2E%2E%2F%2E%2E%2Fescape4.txt"),
            self.url("..%2F..%2F..%2F..%2Fescape5.txt"),
            ARTIFACTS + "/../../escape6.txt",
            ARTIFACTS + "/%2e%2e/escape7.txt",
            ARTIFACTS + "/%2Ftmp%2Fescape8.txt",
            ARTIFACTS + "//tmp/escape9.txt",
            self.url("nul%00byte.txt"),
            self.url("nul%00/../../../../escape10.txt"),
        ]
        for path in probes:
            with self.subTest(path=path):
                r = self.server.request("PUT", path, body=b"pwned")
                self.assertTrue(400 <= r.status < 500, "PUT %s -> %r" % (path, r))
        for path in probes[:9] + [self.url("../../../../canary.txt"),
                                   self.url("%2e%2e/%2e%2e/%2e%2e/%2e%2e/canary.txt")]:
            with self.subTest(get=path):
                r = self.server.request("GET", path)
                self.assertTrue(400 <= r.status < 500, "GET %s -> %r" % (path, r))
                self.assertNotIn(b"do not touch", r.body)
                r = self.server.request("DELETE", path)
                self.assertTrue(400 <= r.status < 500, "DELETE %s -> %r" % (path, r))
        for q in ("..", self.root + "/../../..", "../" * 6, "/etc", self.root + "/\x00"):
            with self.subTest(list=q):
                r = self.server.request("GET", ARTIFACTS, query={"path": q})
                self.assertTrue(400 <= r.status < 500, "list %r -> %r" % (q, r))
        # On Linux a backslash is an ordinary file-name byte: the server may refuse
        # or store such a name, but only inside the run's directory.
        self.server.request("PUT", self.url("%2e%2e%5c%2e%2e%5cescape11.txt"), body=b"pwned")
        inside = self.disk_path("")
        with open(canary, "rb") as f:
            self.assertEqual(f.read(), b"do not touch")
        created = self._outside_snapshot() - before
        self.assertFalse([p for p in created if "escape" in p and not p.startswith(inside + os.sep)], created)
        for p in ("/tmp/escape8.txt", "/tmp/escape9.txt"):
            self.assertFalse(os.path.exists(p), p)
        for dirpath, _, files in os.walk(self.server.workdir):
            for fn in files:
                if fn.startswith("escape") or fn.startswith("nul"):
                    self.fail("probe wrote %s" % os.path.join(dirpath, fn))

    @unittest.skipIf(private_s3.artifacts_backend() == "s3",
                     "a symlink is a local disk's: S3 stores objects")
    def test_symlink_inside_artifacts_is_not_followed(self):
        run_dir = self.disk_path("")
        outside = tempfile.mkdtemp(prefix="ringo-outside-")
        self.addCleanup(shutil.rmtree, outside, True)
        with open(os.path.join(outside, "secret.txt"), "wb") as f:
            f.write(b"top secret")
        os.symlink(outside, os.path.join(run_dir, "linkdir"))
        os.symlink(os.path.join(outside, "secret.txt"), os.path.join(run_dir, "linkfile.txt"))
        for rel in ("linkdir/secret.txt", "linkfile.txt"):
            with self.subTest(rel=rel):
                r = self.server.request("GET", self.url(rel))
                self.assertTrue(400 <= r.status < 500, r)
                self.assertNotIn(b"top secret", r.body)
                r = self.server.request("GET", self.url(rel), headers={"Range": "bytes=0-3"})
                self.assertTrue(400 <= r.status < 500, r)
        r = self.server.request("PUT", self.url("linkdir/new.txt"), body=b"through link")
        self.assertTrue(400 <= r.status < 500, r)
        self.assertFalse(os.path.exists(os.path.join(outside, "new.txt")))
        r = self.server.request("PUT", self.url("linkfile.txt"), body=b"overwrite")
        if 200 <= r.status < 300:
            # Replacing the link itself is acceptable; writing through it is not.
            self.assertFalse(os.path.islink(os.path.join(run_dir, "linkfile.txt")))
        with open(os.path.join(outside, "secret.txt"), "rb") as f:
            self.assertEqual(f.read(), b"top secret")
        r = self.server.request("GET", ARTIFACTS, query={"path": self.root + "/linkdir"})
        self.assertNotIn(b"secret.txt", r.body)
        r = self.server.request("DELETE", self.url("linkdir/secret.txt"))
        self.assertTrue(400 <= r.status < 500, r)
        self.assertTrue(os.path.exists(os.path.join(outside, "secret.txt")))


class ZipDownloadTest(ServerTestCase):
    """GET /api/ringo/v1/artifacts/zip: a folder or .mlpackage of a run as one zip."""

    ZIP = "/api/ringo/v1/artifacts/zip"

    def setUp(self):
        self.rid = self.new_run(self.new_experiment("zip"))["info"]["run_id"]
        root = "%s/%s/artifacts" % (self.get_run(self.rid)["info"]["experiment_id"], self.rid)
        self.files = {
            "m.mlpackage/Manifest.json": b'{"fileFormatVersion": "1.0.0"}',
            "m.mlpackage/Data/com.apple.CoreML/model.mlmodel": bytes(range(256)) * 300,
            "m.mlpackage/Data/com.apple.CoreML/weights/weight.bin": os.urandom(300_000),
            "notes.txt": b"hello",
        }
        for rel, data in self.files.items():
            r = self.server.request("PUT", "%s/%s/%s" % (ARTIFACTS, root, rel), body=data)
            self.assertEqual(r.status, 200, r)

    def zip(self, path=None, run_id=None):
        query = {"run_id": run_id or self.rid}
        if path is not None:
            query["path"] = path
        return self.server.request("GET", self.ZIP, query=query)

    def read_zip(self, r):
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.header("Content-Type"), "application/zip")
        self.assertEqual(int(r.header("Content-Length")), len(r.body))
        z = zipfile.ZipFile(io.BytesIO(r.body))
        self.assertIsNone(z.testzip(), "every CRC matches")
        return z

    def test_package_zips_with_every_file_and_folder(self):
        r = self.zip("m.mlpackage")
        self.assertIn('filename="m.mlpackage.zip"', r.header("Content-Disposition"))
        z = self.read_zip(r)
        files = {n: z.read(n) for n in z.namelist() if not n.endswith("/")}
        want = {k: v for k, v in self.files.items() if k.startswith("m.mlpackage/")}
        self.assertEqual(files, want)
        self.assertIn("m.mlpackage/Data/com.apple.CoreML/weights/", z.namelist())
        for info in z.infolist():
            self.assertEqual(info.compress_type, zipfile.ZIP_STORED)

    def test_whole_run_and_single_file(self):
        z = self.read_zip(self.zip())
        self.assertIn("artifacts/notes.txt", z.namelist())
        self.assertEqual(z.read("artifacts/m.mlpackage/Manifest.json"),
                         self.files["m.mlpackage/Manifest.json"])
        z = self.read_zip(self.zip("notes.txt"))
        self.assertEqual(z.namelist(), ["notes.txt"])

    def test_refusals(self):
        self.assertError(self.zip("missing.mlpackage"), 404, "RESOURCE_DOES_NOT_EXIST",
                         "missing.mlpackage")
        self.assertError(self.zip("../../other"), 400, "INVALID_PARAMETER_VALUE")
        self.assertError(self.zip("m.mlpackage", run_id="0" * 32), 404, "RESOURCE_DOES_NOT_EXIST")
        self.assertError(self.server.request("GET", self.ZIP), 400, "INVALID_PARAMETER_VALUE",
                         "run_id")

    def test_head_sizes_without_a_body(self):
        get = self.zip("m.mlpackage")
        head = self.server.request("HEAD", self.ZIP,
                                   query={"run_id": self.rid, "path": "m.mlpackage"})
        self.assertEqual(head.status, 200)
        self.assertEqual(head.body, b"")
        self.assertEqual(int(head.header("Content-Length")), len(get.body))


class BodyLimitTest(ServerTestCase):
    def test_declared_oversized_json_body_is_413(self):
        conn = self.server.connect(timeout=20)
        try:
            conn.putrequest("POST", API + "runs/log-batch")
            conn.putheader("Content-Type", "application/json")
            conn.putheader("Content-Length", str(JSON_BODY_LIMIT + 1024 * 1024))
            conn.endheaders()
            conn.send(b'{"run_id": "x", "metrics": [')
            resp = conn.getresponse()
            self.assertEqual(resp.status, 413)
            resp.read()
        finally:
            conn.close()
        self.assertEqual(self.server.request("GET", "/health").status, 200)

    def test_sent_oversized_json_body_is_413(self):
        run = self.new_run("0")
        rid = run["info"]["run_id"]
        metric = b'{"key": "m", "value": 1.0, "timestamp": 1, "step": 0},'
        body = b'{"run_id": "' + rid.encode() + b'", "metrics": [' + metric * (JSON_BODY_LIMIT // len(metric) + 20000)
        body = body.rstrip(b",") + b"]}"
        self.assertGreater(len(body), JSON_BODY_LIMIT)
        conn = self.server.connect(timeout=30)
        status = None
        try:
            conn.putrequest("POST", API + "runs/log-batch")
            conn.putheader("Content-Type", "application/json")
            conn.putheader("Content-Length", str(len(body)))
            conn.endheaders()
            try:
                for i in range(0, len(body), 1 << 20):
                    conn.send(body[i:i + (1 << 20)])
            except (BrokenPipeError, ConnectionResetError):
                pass  # The server may answer and close before reading everything.
            try:
                resp = conn.getresponse()
                status = resp.status
                resp.read()
            except (ConnectionResetError, BrokenPipeError, socket.timeout, OSError):
                status = None
        finally:
            conn.close()
        if status is not None:
            self.assertEqual(status, 413)
        # Either way nothing was logged and the server keeps serving.
        self.assertEqual(self.server.request("GET", "/health").status, 200)
        got = self.ok("GET", "metrics/get-history", query={"run_id": rid, "metric_key": "m"})
        self.assertFalse(got.get("metrics"))

    def test_chunked_oversized_body_is_413(self):
        conn = self.server.connect(timeout=30)
        status = None
        try:
            conn.putrequest("POST", API + "experiments/create")
            conn.putheader("Content-Type", "application/json")
            conn.putheader("Transfer-Encoding", "chunked")
            conn.endheaders()
            chunk = b" " * (1 << 20)
            try:
                conn.send(b"%x\r\n{\r\n" % 1)
                for _ in range(JSON_BODY_LIMIT // len(chunk) + 2):
                    conn.send(b"%x\r\n" % len(chunk) + chunk + b"\r\n")
                conn.send(b"0\r\n\r\n")
            except (BrokenPipeError, ConnectionResetError):
                pass
            try:
                resp = conn.getresponse()
                status = resp.status
                resp.read()
            except OSError:
                status = None
        finally:
            conn.close()
        if status is not None:
            self.assertEqual(status, 413)
        self.assertEqual(self.server.request("GET", "/health").status, 200)


class LocalArtifactRootTest(unittest.TestCase):
    """MLflow's --default-artifact-root file:///DIR: experiments and runs get file:// locations the
    client writes to directly; the server lists and registers what is there, and with
    --no-serve-artifacts its proxy is off. The proxied default is unchanged (ArtifactTest)."""

    def start(self, *args):
        d = tempfile.mkdtemp(prefix="ringo-e2e-root-")
        self.addCleanup(shutil.rmtree, d, True)
        server = Server(store=os.path.join(d, "store"), extra_args=list(args))
        if server.s3 is not None:
            server.cleanup()
            self.skipTest("with artifacts on S3 there is no local artifact root to test")
        server.start()
        self.addCleanup(server.cleanup)
        self.addCleanup(server.stop)
        return d, server

    def call(self, server, method, endpoint, body=None, query=None, status=200):
        r = server.api(method, endpoint, body=body, query=query)
        self.assertEqual(r.status, status, r)
        return r.json

    def test_default_experiment_and_new_ones_live_under_the_root(self):
        root = os.path.join(os.path.realpath(tempfile.mkdtemp(prefix="ringo-e2e-files-")), "art root")
        self.addCleanup(shutil.rmtree, os.path.dirname(root), True)
        _, server = self.start("--default-artifact-root", "file://" + root.replace(" ", "%20"))
        uri = "file://" + root
        default = self.call(server, "GET", "experiments/get", query={"experiment_id": "0"})["experiment"]
        self.assertEqual(default["artifact_location"], uri + "/0")
        exp = self.call(server, "POST", "experiments/create", {"name": unique("local")})["experiment_id"]
        run = self.call(server, "POST", "runs/create", {"experiment_id": exp})["run"]["info"]
        self.assertEqual(run["artifact_uri"], "%s/%s/%s/artifacts" % (uri, exp, run["run_id"]))
        # The client writes straight into the directory, as MLflow's LocalArtifactRepository does.
        run_dir = os.path.join(root, exp, run["run_id"], "artifacts")
        os.makedirs(os.path.join(run_dir, "model"))
        with open(os.path.join(run_dir, "model", "MLmodel"), "w") as f:
            f.write("flavors: {}\n")
        listing = self.call(server, "GET", "artifacts/list", query={"run_id": run["run_id"], "path": "model"})
        self.assertEqual([(f["path"], f["file_size"]) for f in listing["files"]], [("model/MLmodel", 12)])
        name = unique("m")
        self.call(server, "POST", "registered-models/create", {"name": name})
        mv = self.call(server, "POST", "model-versions/create",
                       {"name": name, "source": run["artifact_uri"] + "/model", "run_id": run["run_id"]})
        self.assertEqual(mv["model_version"]["source"], run["artifact_uri"] + "/model")
        uri_back = self.call(server, "GET", "model-versions/get-download-uri", query={"name": name, "version": "1"})
        self.assertEqual(uri_back["artifact_uri"], run["artifact_uri"] + "/model")
        # An experiment placed elsewhere is not the server's to read.
        other = self.call(server, "POST", "experiments/create",
                          {"name": unique("elsewhere"), "artifact_location": "file:///etc"})["experiment_id"]
        orun = self.call(server, "POST", "runs/create", {"experiment_id": other})["run"]["info"]["run_id"]
        r = server.api("GET", "artifacts/list", query={"run_id": orun})
        self.assertEqual(r.status, 400, r)
        # The proxy still serves its own paths.
        self.assertEqual(server.request("GET", ARTIFACTS, query={"path": ""}).status, 200)

    def test_no_serve_artifacts_turns_the_proxy_off(self):
        _, server = self.start("--no-serve-artifacts")
        run = self.call(server, "POST", "runs/create", {"experiment_id": "0"})["run"]["info"]
        self.assertTrue(run["artifact_uri"].startswith("file:///"), run)
        self.assertTrue(run["artifact_uri"].endswith("/mlruns/0/%s/artifacts" % run["run_id"]), run)
        r = server.request("PUT", ARTIFACTS + "/0/x.txt", body=b"x")
        self.assertEqual(r.status, 503, r)
        self.assertIn("--no-serve-artifacts", r.json["message"])

    def test_bad_roots_are_refused_at_startup(self):
        for args in (["--default-artifact-root", "file://otherhost/x"],
                     ["--default-artifact-root", "mlflow-artifacts:/", "--no-serve-artifacts"]):
            d = tempfile.mkdtemp(prefix="ringo-e2e-root-")
            self.addCleanup(shutil.rmtree, d, True)
            server = Server(store=os.path.join(d, "store"), extra_args=args)
            with self.assertRaises(Exception, msg=args):
                server.start()
            server.cleanup()


if __name__ == "__main__":
    unittest.main()
