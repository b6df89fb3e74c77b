"""https:// outputs with the real binary against TLS servers on loopback (Python's ssl module,
certificates made by the openssl command for each run): delivery with a private CA, refusal of
an untrusted certificate and of a certificate for another host, `verify: false`, mutual TLS, and
an Alertmanager output over TLS."""
import http.server
import json
import os
import signal
import ssl
import subprocess
import tempfile
import threading
import unittest

from weir_test_util import WEIR, http_port, metric_sum, wait_for


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def make_certificates(d):
    """A CA, server certificates for 127.0.0.1 and for another host, and a client certificate,
    all signed by the CA."""
    key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    openssl("req", "-x509", *key, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
            "-subj", "/CN=weir test CA", "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=d)

    def signed(name, subject, extensions):
        openssl("req", *key, "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", subject,
                cwd=d)
        with open(os.path.join(d, f"{name}.ext"), "w") as f:
            f.write(extensions)
        openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                "-CAcreateserial", "-out", f"{name}.pem", "-days", "2", "-extfile", f"{name}.ext",
                cwd=d)

    signed("server", "/CN=127.0.0.1", "subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    signed("other", "/CN=other.example", "subjectAltName=DNS:other.example\n")
    signed("client", "/CN=weir", "extendedKeyUsage=clientAuth\n")


class tls_webhook:
    """An HTTPS server on loopback that counts the result lines it receives; with
    `client_ca`, it asks for a client certificate signed by that CA."""

    def __init__(self, cert, key, client_ca=None):
        self.records = 0
        self.bodies = []
        self.lock = threading.Lock()
        outer = self

        class handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with outer.lock:
                    outer.bodies.append((self.path, body))
                    outer.records += sum(1 for line in body.splitlines() if line.strip())
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        class server(http.server.ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address):
                pass  # refused handshakes are what some tests are about

        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        if client_ca:
            context.verify_mode = ssl.CERT_REQUIRED
            context.load_verify_locations(client_ca)
        self.server = server(("127.0.0.1", 0), handler)
        # The handshake runs in the handler's thread, so a slow or refused one blocks nobody.
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True,
                                                 do_handshake_on_connect=False)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.port = self.server.server_address[1]

    def received(self):
        with self.lock:
            return self.records

    def close(self):
        self.server.shutdown()
        self.server.server_close()


PIPELINE = """
pipeline: tls
inputs:
  sensors:
    type: generator
    seed: 5
    rate: 2000
    start_time: "2026-11-20T10:00:00Z"
    time_step: 10ms
    groups: 3
nodes:
  quality:
    from: sensors
    time: {{field: ts}}
    window: {{type: tumbling, size: 1s}}
    group_by: [group]
    checks:
      - {{name: volume, measure: count(), must_be: "> 1000"}}
    outputs: [hook]
outputs:
  hook:
    type: {type}
    url: "{url}"
    retries: 0
    timeout: 5s
{extra}
"""


class tls_output_test(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.certs = tempfile.TemporaryDirectory()
        make_certificates(cls.certs.name)

    @classmethod
    def tearDownClass(cls):
        cls.certs.cleanup()

    def cert(self, name):
        return os.path.join(self.certs.name, name)

    def server(self, name="server", client_ca=None):
        s = tls_webhook(self.cert(f"{name}.pem"), self.cert(f"{name}.key"), client_ca)
        self.addCleanup(s.close)
        return s

    def start(self, url, tls_lines=(), output_type="http", wait=True):
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        extra = ""
        if tls_lines:
            extra = "    tls:\n" + "".join(f"      {line}\n" for line in tls_lines)
        path = os.path.join(tmp.name, "p.yaml")
        with open(path, "w") as f:
            f.write(PIPELINE.format(type=output_type, url=url, extra=extra))
        self.log_path = os.path.join(tmp.name, "log")
        log = open(self.log_path, "w")
        self.addCleanup(log.close)
        self.proc = subprocess.Popen([WEIR, "run", "--http-listen", "127.0.0.1:0", "--data-dir",
                                      os.path.join(tmp.name, "data"), path],
                                     stdout=subprocess.DEVNULL, stderr=log)
        self.addCleanup(self.kill)
        if not wait:
            return
        wait_for(lambda: http_port(self.log_path) is not None, 15, "the HTTP server")
        self.base = f"http://127.0.0.1:{http_port(self.log_path)}"

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.assertEqual(self.proc.wait(40), 0, self.log())

    def log(self):
        with open(self.log_path) as f:
            return f.read()

    def expect_refused(self, server, tls_lines, message=None):
        """weir runs, but every delivery to `server` fails: counted as an output error, nothing
        received, and `message` in the log once stopped."""
        self.start(f"https://127.0.0.1:{server.port}/hook", tls_lines)
        wait_for(lambda: metric_sum(self.base, "weir_output_errors_total", output="hook") >= 1,
                 30, "a counted output error")
        self.assertEqual(server.received(), 0)
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(40)
        if message:
            self.assertIn(message, self.log())

    def test_delivers_to_a_server_of_a_private_ca(self):
        s = self.server()
        self.start(f"https://127.0.0.1:{s.port}/hook", [f"ca_file: {self.cert('ca.pem')}"])
        wait_for(lambda: s.received() >= 9, 30, "results over https")
        self.stop()
        self.assertNotIn("could not flush", self.log())
        for path, body in s.bodies:
            self.assertEqual(path, "/hook")
            for line in body.splitlines():
                self.assertEqual(json.loads(line)["check"], "volume")

    def test_an_untrusted_certificate_is_refused(self):
        # The system's CAs do not know ours.
        self.expect_refused(self.server(), [], "certificate verify failed")

    def test_a_certificate_for_another_host_is_refused(self):
        self.expect_refused(self.server("other"), [f"ca_file: {self.cert('ca.pem')}"],
                            "certificate verify failed")

    def test_verify_false_accepts_any_certificate(self):
        s = self.server("other")
        self.start(f"https://127.0.0.1:{s.port}/hook", ["verify: false"])
        wait_for(lambda: s.received() >= 9, 30, "results over https")
        self.stop()

    def test_mutual_tls(self):
        s = self.server(client_ca=self.cert("ca.pem"))
        self.start(f"https://127.0.0.1:{s.port}/hook",
                   [f"ca_file: {self.cert('ca.pem')}", f"cert_file: {self.cert('client.pem')}",
                    f"key_file: {self.cert('client.key')}"])
        wait_for(lambda: s.received() >= 9, 30, "results over mutual TLS")
        self.stop()

    def test_mutual_tls_without_a_client_certificate_fails(self):
        self.expect_refused(self.server(client_ca=self.cert("ca.pem")),
                            [f"ca_file: {self.cert('ca.pem')}"])

    def test_tls_files_that_cannot_be_used_stop_the_start_with_their_names(self):
        s = self.server()
        cases = [
            (["ca_file: /nonexistent/weir-ca.pem"],
             "tls.ca_file /nonexistent/weir-ca.pem: No such file or directory"),
            ([f"ca_file: {self.cert('ca.key')}"], f"tls.ca_file {self.cert('ca.key')}: cannot"),
            ([f"ca_file: {self.cert('ca.pem')}", f"cert_file: {self.cert('client.pem')}",
              f"key_file: {self.cert('server.key')}"],  # not the certificate's key
             f"tls.key_file {self.cert('server.key')}: cannot use it"),
        ]
        for tls_lines, message in cases:
            with self.subTest(message=message):
                self.start(f"https://127.0.0.1:{s.port}/hook", tls_lines, wait=False)
                self.assertEqual(self.proc.wait(30), 1, self.log())
                self.assertIn(message, self.log())

    def test_alertmanager_over_tls(self):
        s = self.server()
        self.start(f"https://127.0.0.1:{s.port}/am", [f"ca_file: {self.cert('ca.pem')}"],
                   output_type="alertmanager")
        # count() > 1000 fails for every 1 s window of 100 records: alerts are posted.
        wait_for(lambda: any(path == "/am/api/v2/alerts" for path, _ in list(s.bodies)), 30,
                 "alerts over https")
        alerts = json.loads(next(b for p, b in s.bodies if p == "/am/api/v2/alerts"))
        self.assertEqual(alerts[0]["labels"]["check"], "volume")
        self.stop()


if __name__ == "__main__":
    unittest.main()
