"""The status page at / of a running weir, as a person sees it: rendered by a real headless
Chromium, with a screenshot taken and the page's text read back from the rendered DOM. One check
fails for one group (whose name holds markup, from the data), one fails outright, one passes."""
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import unittest

from weir_test_util import WEIR, http_get, http_port, log_excerpt, wait_for

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"

# Event time runs 20 s per second of wall clock: two 10 s windows close every second.
PIPELINE = """
pipeline: shop_web
inputs:
  access_log:
    type: generator
    seed: 7
    rate: 200
    time_step: 100ms
    groups: 3
    group_field: host
    group_prefix: "<script>alert(1)</script>web-"
    start_time: "2026-11-20T10:00:00Z"
    problems:
      - {type: out_of_range, field: temperature, group: "<script>alert(1)</script>web-3"}
      - {type: missing_field, field: humidity, fraction: 0.3}
nodes:
  clean:
    from: access_log
    transforms:
      - filter: 'status != "maintenance"'
  per_host:
    from: clean
    time: {field: ts}
    window: {type: tumbling, size: 10s}
    group_by: [host]
    checks:
      - {name: too_hot, measure: max(temperature), must_be: "< 40"}
      - {name: volume, measure: count(), must_be: "> 10"}
    outputs: [results]
  overall:
    from: clean
    time: {field: ts}
    window: {type: tumbling, size: 10s}
    checks:
      - {name: humidity_missing, measure: missing_fraction(humidity), must_be: "< 5%"}
    outputs: [results]
outputs:
  results: {type: file, path: RESULTS}
"""


def chromium(*args, tmp, timeout=120):
    """Runs headless Chromium with a profile of its own, resolving no name but the loopback
    address (the page must need nothing from elsewhere)."""
    profile = tempfile.mkdtemp(dir=tmp, prefix="chromium-")
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
           "--no-first-run", "--no-default-browser-check", "--disable-extensions",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           "--hide-scrollbars", f"--user-data-dir={profile}",
           "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "HOME": profile})


class status_page_test(unittest.TestCase):
    def test_the_page_shows_the_failing_check_and_group_in_a_browser(self):
        self.assertTrue(os.access(CHROMIUM, os.X_OK),
                        "chromium is missing: scripts/setup-deps installs it")
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "shop_web.yaml")
            with open(path, "w") as f:
                f.write(PIPELINE.replace("RESULTS", os.path.join(tmp, "results.jsonl")))
            log_path = os.path.join(tmp, "log")
            log = open(log_path, "w")
            self.addCleanup(log.close)
            p = subprocess.Popen([WEIR, "run", "--http-listen", "127.0.0.1:0", "--data-dir",
                                  os.path.join(tmp, "d"), path],
                                 stdout=subprocess.DEVNULL, stderr=log)
            try:
                wait_for(lambda: http_port(log_path) is not None, 30, "the HTTP server")
                base = f"http://127.0.0.1:{http_port(log_path)}"

                def page():
                    status, body = http_get(base + "/", timeout=10)
                    return body if status == 200 else ""
                def windows_of_overall():
                    status, body = http_get(base + "/api/v1/status", timeout=10)
                    if status != 200:
                        return 0
                    return sum(q.get("results", 0) for q in json.loads(body)["queries"]
                               if q["query"] == "overall")
                # Several windows, so that the charts have points to draw.
                wait_for(lambda: windows_of_overall() >= 8, 90, "eight windows")
                wait_for(lambda: page().count("FAIL</span>") >= 2, 60, "failing checks")
                html = page()
                for where in ["/", "/status"]:
                    status, _ = http_get(base + where, timeout=10)
                    self.assertEqual(status, 200, where)

                # Nothing outside the page: no script, stylesheet, image, font or frame.
                self.assertNotRegex(html, r"(?i)<script|<link|<img|<iframe|@import|src=")
                self.assertNotRegex(html, r"(?i)https?://")
                for href in re.findall(r'href="([^"]*)"', html):
                    self.assertTrue(href.startswith("/"), href)

                shot = os.path.join(tmp, "page.png")
                out = chromium("--window-size=1280,900", f"--screenshot={shot}", base + "/",
                               tmp=tmp)
                self.assertEqual(out.returncode, 0, log_excerpt(out.stderr, 2000))
                with open(shot, "rb") as f:
                    png = f.read()
                self.assertEqual(png[:8], b"\x89PNG\r\n\x1a\n")
                self.assertGreater(len(png), 10_000)
                # For people to look at, when asked.
                if os.environ.get("WEIR_STATUS_PAGE_PNG"):
                    shutil.copyfile(shot, os.environ["WEIR_STATUS_PAGE_PNG"])

                out = chromium("--window-size=1280,900", "--dump-dom", base + "/", tmp=tmp)
                self.assertEqual(out.returncode, 0, log_excerpt(out.stderr, 2000))
                dom = out.stdout
                text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", dom))
                self.assertIn("Pipeline shop_web", text)
                self.assertRegex(text, r"\d+ checks? failing")
                # The failing checks come first, each with its outcome in words.
                rows = re.findall(r'<tr class="check row-(\w+)"[^>]*>(.*?)</tr>', dom, re.S)
                self.assertEqual(len(rows), 3, dom[:3000])
                outcomes = [r[0] for r in rows]
                self.assertEqual(outcomes[:2], ["fail", "fail"], outcomes)
                self.assertEqual(outcomes[2], "pass")
                by_name = {re.search(r'class="name">([^<]*)<', r[1]).group(1): r for r in rows}
                self.assertEqual(set(by_name), {"too_hot", "volume", "humidity_missing"})
                self.assertEqual(by_name["too_hot"][0], "fail")
                self.assertIn("FAIL", by_name["too_hot"][1])
                self.assertEqual(by_name["humidity_missing"][0], "fail")
                self.assertEqual(by_name["volume"][0], "pass")
                self.assertIn("PASS", by_name["volume"][1])
                # The failing group, named and escaped: its markup came from the data.
                hot = by_name["too_hot"][1]
                self.assertRegex(hot, r"1 group failing")
                self.assertIn("host=&lt;script&gt;alert(1)&lt;/script&gt;web-3", hot)
                self.assertNotIn("web-1", hot)
                self.assertNotRegex(dom, r"(?i)<script")
                # A fraction judged against a percentage reads as one.
                self.assertRegex(by_name["humidity_missing"][1], r">\s*\d+(\.\d)? %")
                # The graph: input, derived node, checked nodes, output; the sparklines.
                graph = re.search(r'<svg class="graph".*?</svg>', dom, re.S).group(0)
                for name in ["access_log", "clean", "per_host", "overall", "results"]:
                    self.assertIn(f">{name}</text>", graph)
                self.assertIn("1 of 2 checks FAIL", graph)
                self.assertGreaterEqual(dom.count('<svg class="spark"'), 3)

                # The JSON API is unchanged beside it.
                status, body = http_get(base + "/api/v1/status", timeout=10)
                self.assertEqual(status, 200)
                self.assertTrue(body.startswith('{"state":'), body[:100])
            finally:
                p.send_signal(signal.SIGTERM)
                p.wait(timeout=60)
            self.assertEqual(p.returncode, 0)


if __name__ == "__main__":
    unittest.main()
