"""The http (webhook) output in a running daemon: a window's results leave when it closes, in
requests of at most batch_max_records, without waiting for batch_timeout."""
import json
import os
import tempfile
import unittest

from backpressure_test import stalling_webhook
from weir_test_util import log_excerpt, wait_for, weir_process

GROUPS = 7


class webhook_window_test(unittest.TestCase):
    def test_a_windows_results_leave_when_it_closes_not_a_batch_timeout_later(self):
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        hook = stalling_webhook()
        self.addCleanup(hook.close)

        data = os.path.join(tmp.name, "readings.jsonl")
        open(data, "w").close()
        path = os.path.join(tmp.name, "hook.yaml")
        with open(path, "w") as f:
            f.write(f"""
pipeline: hook
inputs:
  readings: {{type: file, path: "{data}", follow: true}}
nodes:
  quality:
    from: readings
    time: {{field: ts}}
    window: {{type: tumbling, size: 1s}}
    group_by: [key]
    checks:
      - {{name: volume, measure: count(), must_be: "> 0"}}
      - {{name: level, measure: max(v), must_be: "< 100"}}
    outputs: [hook]
outputs:
  hook: {{type: http, url: "{hook.url}", batch_max_records: 4, batch_timeout: 10m}}
""")
        # Checkpoints flush the outputs (which sends the open batch): not within the test.
        settings = os.path.join(tmp.name, "weir.yaml")
        with open(settings, "w") as f:
            f.write("checkpoint: {interval: 10m}\n")
        w = weir_process(self, tmp.name, [settings, path])
        w.wait_port(60)

        def append(second, keys):
            with open(data, "a") as f:
                for k in keys:
                    f.write(json.dumps({"ts": f"2026-11-20T10:00:{second:02d}.500Z",
                                        "key": f"k{k}", "v": k}) + "\n")

        # One window of GROUPS groups (two checks each: 14 results), closed by a record of the
        # next window. With a batch_timeout of ten minutes, they arrive only if the window's
        # close sends them: in requests of at most four.
        append(0, range(GROUPS))
        append(1, [0])
        try:
            wait_for(lambda: hook.received() >= 2 * GROUPS, 60,
                     "the window's results at the webhook")
        except AssertionError as e:
            raise AssertionError(f"{e}\n{log_excerpt(w.log_text())}") from None
        got = hook.results()
        self.assertEqual({r["window_start"] for r in got}, {"2026-11-20T10:00:00.000Z"})
        self.assertEqual(len({r["id"] for r in got}), 2 * GROUPS, "each result once")
        self.assertEqual([len(b) for b in hook.batches()], [4, 4, 4, 2])
        # The next window's results come the same way.
        append(2, [1])
        wait_for(lambda: any(r["window_start"] == "2026-11-20T10:00:01.000Z"
                             for b in hook.batches() for r in b), 60, "the second window's results")
        self.assertEqual(w.stop(), 0, log_excerpt(w.log_text()))


if __name__ == "__main__":
    unittest.main()
