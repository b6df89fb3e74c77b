"""The end-to-end workloads of bench/run: datasets, weir pipelines and their SQL twins.

Each check is declared once, with the weir measure and the DuckDB expression that computes the
same value, so the pipeline files under bench/workloads/ and the oracle cannot drift apart
(`bench/run --write-workloads` regenerates the files; the runner refuses stale ones)."""
import math
from dataclasses import dataclass

HLL_PRECISION = 14          # core/sketch/hyperloglog.h k_default_precision
HLL_STD_ERROR = 1.04 / math.sqrt(2 ** HLL_PRECISION)
DDSKETCH_ALPHA = 0.01       # core/sketch/quantile.h k_default_alpha
EXACT_QUANTILE_LIMIT = 4096  # core/measure/approx.h k_default_exact_quantile_limit


@dataclass(frozen=True)
class check:
    name: str
    measure: str            # weir's measure expression
    must_be: str
    sql: str                # DuckDB aggregate over the window's non-late records
    # exact | hll | linear | nearest (median and percentile: exact, so equal to DuckDB's
    # quantile_cont and quantile_disc, while a window holds at most EXACT_QUANTILE_LIMIT
    # records; within the DDSketch bound and marked approximate beyond)
    kind: str = "exact"
    filter: str = ""        # the check's filter (a weir expression); `sql` applies it itself


def _in_range(f, lo, hi):
    return (f"count(*) filter (where {f} between {lo} and {hi})::double "
            f"/ nullif(count({f}), 0)")


W1_CHECKS = [
    check("volume", "count()", "> 0", "count(*)"),
    check("value_missing", "missing_fraction(value)", "< 10%",
          "avg(case when value is null then 1.0 else 0.0 end)"),
    check("value_mean", "mean(value)", "[10, 30]", "avg(value)"),
    check("value_min", "min(value)", "> -100", "min(value)"),
    check("value_max", "max(value)", "< 100", "max(value)"),
    check("value_std_dev", "std_dev(value)", "< 10", "stddev_samp(value)"),
    check("latency_mean", "mean(latency_ms)", "< 500", "avg(latency_ms)"),
    check("latency_min", "min(latency_ms)", ">= 1", "min(latency_ms)::double"),
    check("latency_max", "max(latency_ms)", "< 100000", "max(latency_ms)::double"),
    check("latency_std_dev", "std_dev(latency_ms)", "< 1000", "stddev_samp(latency_ms)"),
]

W2_EXTRA = [
    check("latency_distinct", "approx_distinct_count(latency_ms)", "> 0",
          "count(distinct latency_ms)::double", "hll"),
    check("latency_p50", "percentile(latency_ms, 0.5)", "< 1000",
          "quantile_cont(latency_ms, 0.5)", "linear"),
    check("latency_p95", "percentile(latency_ms, 0.95)", "< 2000",
          "quantile_cont(latency_ms, 0.95)", "linear"),
    check("latency_p99", "percentile(latency_ms, 0.99)", "< 5000",
          "quantile_cont(latency_ms, 0.99)", "linear"),
]

# Exact quantiles over sliding windows (pane merges), both methods, a float field with nulls
# and an integer one.
W12_CHECKS = [
    check("volume", "count()", "> 0", "count(*)"),
    check("value_median", "median(value)", "[10, 30]", "quantile_cont(value, 0.5)", "linear"),
    check("value_p10", "percentile(value, 0.1)", "> -100", "quantile_cont(value, 0.1)",
          "linear"),
    check("latency_p90", "percentile(latency_ms, 0.9)", "< 2000",
          "quantile_cont(latency_ms, 0.9)", "linear"),
    check("value_median_nearest", "median(value, nearest)", "[10, 30]",
          "quantile_disc(value, 0.5)", "nearest"),
    check("latency_p99_nearest", "percentile(latency_ms, 0.99, nearest)", "< 5000",
          "quantile_disc(latency_ms, 0.99)::double", "nearest"),
]

def _where(cond, of=None):
    """count(*) FILTER (WHERE cond) over all records, or over those `of` matches."""
    return f"count(*) filter (where {cond if of is None else f'({of}) and ({cond})'})"


# Conditional measures and check filters (issue #18), against DuckDB's FILTER clauses. A
# weir condition that is null (value is null) does not match; neither does an SQL one.
W11_CHECKS = [
    check("volume", "count()", "> 0", "count(*)"),
    check("errors", "count_where(status == 'error')", "< 100", _where("status = 'error'")),
    check("not_ok", "fraction_where(status != 'ok')", "< 10%",
          _where("status <> 'ok'") + "::double / nullif(count(*), 0)"),
    check("high_fast", "fraction_where(value > 25 and latency_ms < 60)", "< 50%",
          _where("value > 25 and latency_ms < 60") + "::double / nullif(count(*), 0)"),
    check("null_or_slow", "count_where(value == null or latency_ms >= 150)", ">= 0",
          _where("value is null or latency_ms >= 150")),
    check("retry_per_value", "count_where(status == 'retry') / count(value)", "< 1",
          _where("status = 'retry'") + "::double / nullif(count(value), 0)"),
    check("ok_volume", "count()", "> 0", _where("status = 'ok'"), filter="status == 'ok'"),
    check("ok_latency", "mean(latency_ms)", "< 500", "avg(latency_ms) filter (where status = 'ok')",
          filter="status == 'ok'"),
    check("failed_slow", "fraction_where(latency_ms > 80)", "< 50%",
          _where("latency_ms > 80", of="status <> 'ok'") + "::double / nullif("
          + _where("status <> 'ok'") + ", 0)",
          filter="status != 'ok'"),
    check("de_missing", "missing_fraction(value)", "< 10%",
          "avg(case when value is null then 1.0 else 0.0 end) filter (where country = 'DE')",
          filter="country == 'DE'"),
    check("de_max", "max(value)", "< 100", "max(value) filter (where country = 'DE' and latency_ms > 20)",
          filter="country == 'DE' and latency_ms > 20"),
]

W6_CHECKS = [
    check("volume", "count()", "> 0", "count(*)"),
    check("value_mean", "mean(value)", "[10, 30]", "avg(value)"),
    check("countries", "distinct_count(country)", ">= 1", "count(distinct country)::double"),
]


# Sample (n - 1) and population (n) statistics (issue #15): weir's std_dev/variance are
# DuckDB's stddev_samp/var_samp (null below 2 values), std_dev_pop/variance_pop its
# stddev_pop/var_pop (null below 1 value).
STATS_CHECKS = [
    check("volume", "count()", "> 0", "count(*)"),
    check("value_std_dev", "std_dev(value)", ">= 0", "stddev_samp(value)"),
    check("value_variance", "variance(value)", ">= 0", "var_samp(value)"),
    check("value_std_dev_pop", "std_dev_pop(value)", ">= 0", "stddev_pop(value)"),
    check("value_variance_pop", "variance_pop(value)", ">= 0", "var_pop(value)"),
    check("latency_std_dev_pop", "std_dev_pop(latency_ms)", ">= 0", "stddev_pop(latency_ms)"),
    check("latency_variance_pop", "variance_pop(latency_ms)", ">= 0", "var_pop(latency_ms)"),
]


# Wide float records (schema F: f00..f19): W1's kinds of measure over four of the twenty.
F_FIELDS = ("f00", "f07", "f13", "f19")
F_CHECKS = [check("volume", "count()", "> 0", "count(*)")] + [
    check(f"{f}_{m}", f"{m}({f})", bound, sql)
    for f in F_FIELDS
    for m, bound, sql in (("mean", "> 0", f"avg({f})"), ("min", "> -1e9", f"min({f})"),
                          ("max", "< 1e9", f"max({f})"),
                          ("std_dev", ">= 0", f"stddev_samp({f})"))
]


def _w9_checks(n):
    """n checks over the fields W1 reads (value, latency_ms): W1's, then sums, variances and
    in-range fractions over different ranges."""
    if n == 1:
        return [W1_CHECKS[2]]
    pool = list(W1_CHECKS) + [
        check("value_sum", "sum(value)", "> -1e12", "sum(value)"),
        check("value_variance", "variance(value)", "< 100", "var_samp(value)"),
        check("latency_sum", "sum(latency_ms)", ">= 0", "sum(latency_ms)::double"),
        check("latency_variance", "variance(latency_ms)", ">= 0", "var_samp(latency_ms)"),
    ]
    i = 0
    while len(pool) < n:
        lo = 5 + i % 20
        pool.append(check(f"value_in_{i:02d}", f"in_range_fraction(value, {lo}, {lo + 10})",
                          "> 0%", _in_range("value", lo, lo + 10)))
        if len(pool) < n:
            lo = 10 + 5 * (i % 40)
            pool.append(check(f"latency_in_{i:02d}",
                              f"in_range_fraction(latency_ms, {lo}, {lo * 4})", ">= 0%",
                              _in_range("latency_ms", lo, lo * 4)))
        i += 1
    return pool[:n]


@dataclass(frozen=True)
class dataset:
    schema: str = "S"
    events: int = 5_000_000
    keys: int = 1000
    rate: int = 10_000          # events per second of event time
    disorder: str = "up_to_2s"  # in_order | up_to_2s | ten_pct_30s | one_pct_late
    lateness_ms: int = 5000     # what one_pct_late goes beyond
    seed: int = 42

    def file_name(self):
        return (f"{self.schema}-e{self.events}-k{self.keys}-r{self.rate}-{self.disorder}"
                f"-l{self.lateness_ms}-s{self.seed}.{'csv' if self.schema == 'C' else 'jsonl'}")

    def max_delay_ms(self):
        return {"in_order": 0, "up_to_2s": 2000, "ten_pct_30s": 30000,
                "one_pct_late": self.lateness_ms + 60000}[self.disorder]


@dataclass(frozen=True)
class workload:
    name: str
    title: str
    data: dataset
    checks: tuple
    window: str = "tumbling"    # tumbling | sliding | session
    size_ms: int = 60_000
    slide_ms: int = 60_000
    gap_ms: int = 0
    lateness_ms: int = 5000
    max_groups: int = 100_000
    fields: tuple = ("value", "latency_ms")
    # Two-stream workloads (streams.py): the right-hand dataset, how the node relates the two
    # ("reconcile": measures over both inputs; "join": an interval join), the field whose
    # value is the group in the results, and the pipeline file.
    right: "dataset" = None
    relation: str = ""
    join: str = ""
    group_field: str = "key"

    def inputs(self):
        return [self.data] if self.right is None else [self.data, self.right]

    def yaml(self):
        if self.right is not None:
            import streams
            return streams.pipeline_yaml(self)
        w = {"tumbling": f"{{type: tumbling, size: {self.size_ms // 1000}s, "
                         f"allowed_lateness: {self.lateness_ms // 1000}s}}",
             "sliding": f"{{type: sliding, size: {self.size_ms // 1000}s, "
                        f"slide: {self.slide_ms // 1000}s, "
                        f"allowed_lateness: {self.lateness_ms // 1000}s}}",
             "session": f"{{type: session, gap: {self.gap_ms // 1000}s, "
                        f"allowed_lateness: {self.lateness_ms // 1000}s}}"}[self.window]
        csv = self.data.schema == "C"
        lines = [
            f"# {self.name}: {self.title}",
            "# Generated by `bench/run --write-workloads` from bench/workloads.py; run by bench/run",
            "# with BENCH_INPUT (the dataset) and BENCH_RESULTS (where results go) set:",
            f"#   weir run --once --threads 1 bench/workloads/{self.name}.yaml",
            f"pipeline: {self.name}",
            "inputs:",
            "  events:",
            "    type: file",
            "    path: ${BENCH_INPUT}",
            "    format: csv" if csv else "    format: json",
            *(["    csv: {header: true}"] if csv else []),
            "    read_buffer_size: 1MiB",
            "nodes:",
            "  quality:",
            "    from: events",
            # CSV cells are text: the schema makes numbers of the measured columns.
            *(["    schema:", "      fields:", "        value: {type: number}",
               "        latency_ms: {type: integer}"] if csv else []),
            "    time: {field: ts, format: rfc3339}",
            f"    window: {w}",
            "    group_by: [key]",
            f"    max_groups: {self.max_groups}",
            "    checks:",
        ]
        for c in self.checks:
            lines.append(f"      - {{name: {c.name}, measure: \"{c.measure}\", "
                         f"must_be: \"{c.must_be}\""
                         + (f", filter: \"{c.filter}\"" if c.filter else "") + "}")
        lines += [
            "    outputs: [results]",
            "outputs:",
            "  results: {type: file, path: \"${BENCH_RESULTS}\", append: false}",
            "",
        ]
        return "\n".join(lines)


S5M = dataset()
# Exact quantiles: up to about 2 400 records per 10 min window and key, under the limit.
W12_SMOKE = workload("w12", "exact quantiles, 50 K events, 50 keys, sliding 10 min by 10 s",
                     dataset(events=50_000, keys=50, rate=200, disorder="ten_pct_30s"),
                     tuple(W12_CHECKS), window="sliding", size_ms=600_000, slide_ms=10_000)
W11_FIELDS = ("value", "latency_ms", "status", "country")


def full_suite():
    w1 = workload("w1", "S, 5 M events, 1 K keys, tumbling 60 s, lateness 5 s, 10 checks",
                  S5M, tuple(W1_CHECKS))
    suite = [w1]
    for profile in ("in_order", "ten_pct_30s", "one_pct_late"):
        suite.append(workload(f"w1_{profile}", f"W1 with disorder {profile}",
                              dataset(disorder=profile), tuple(W1_CHECKS)))
    suite += [
        workload("w2", "S, 5 M events, 100 K keys, W1 + approx_distinct_count, p50/p95/p99",
                 dataset(keys=100_000, rate=100_000), tuple(W1_CHECKS + W2_EXTRA),
                 max_groups=200_000),
        workload("w3", "M (~1 KB), 1 M events, 1 K keys, W1's checks",
                 dataset(schema="M", events=1_000_000, rate=2000), tuple(W1_CHECKS)),
        workload("w5", "W1 with a sliding window of 10 min by 10 s", S5M, tuple(W1_CHECKS),
                 window="sliding", size_ms=600_000, slide_ms=10_000),
        workload("w6", "S, 5 M events, 100 K keys, session windows (gap 30 s), count/mean/"
                 "distinct", dataset(keys=100_000, rate=20_000), tuple(W6_CHECKS),
                 window="session", gap_ms=30_000, max_groups=200_000,
                 fields=("value", "country")),
    ]
    suite.append(W12_SMOKE)
    for n in (1, 10, 100):
        suite.append(workload(f"w9_{n}", f"W1's data and window, {n} check(s)", S5M,
                              tuple(_w9_checks(n))))
    suite += [
        workload("w14", "C (S as CSV with a header), 5 M events, 1 K keys, W1's checks",
                 dataset(schema="C"), tuple(W1_CHECKS)),
        workload("w15", "F (20 float fields), 2 M events, 1 K keys, count and mean/min/max/"
                 "std_dev of four fields", dataset(schema="F", events=2_000_000, rate=4000),
                 tuple(F_CHECKS), fields=F_FIELDS),
    ]
    suite += two_stream_workloads(full=True)
    suite.append(workload("w11", "W1's data, conditional measures and check filters",
                          S5M, tuple(W11_CHECKS), fields=W11_FIELDS))
    for keys in (1, 1000, 100_000, 1_000_000):
        # All events in one 60 s window (50 s of event time), so every group seen is live at
        # once when the input ends: the peak of live (window, group) states is the key count.
        suite.append(workload(f"w10_{keys}", f"W1's checks, 2 M events, {keys} key(s)",
                              dataset(events=2_000_000, keys=keys, rate=40_000),
                              tuple(W1_CHECKS), max_groups=max(100_000, 2 * keys)))
    return suite


def smoke_suite():
    """Small datasets: weir against the oracle in well under two minutes even with ASan."""
    return [
        workload("w1", "W1, 100 K events, 1 % beyond the allowed lateness",
                 dataset(events=100_000, keys=200, rate=1000, disorder="one_pct_late"),
                 tuple(W1_CHECKS)),
        workload("w2", "W2's checks, 60 K events, 2 K keys",
                 dataset(events=60_000, keys=2000, rate=1000), tuple(W1_CHECKS + W2_EXTRA)),
        workload("w5", "W5, 50 K events, 10 % up to 30 s late",
                 dataset(events=50_000, keys=50, rate=200, disorder="ten_pct_30s"),
                 tuple(W1_CHECKS), window="sliding", size_ms=600_000, slide_ms=10_000),
        workload("w6", "W6, 50 K events, 2 K keys",
                 dataset(events=50_000, keys=2000, rate=500), tuple(W6_CHECKS),
                 window="session", gap_ms=30_000, fields=("value", "country")),
        workload("w11", "W11, 100 K events, 1 % beyond the allowed lateness",
                 dataset(events=100_000, keys=200, rate=1000, disorder="one_pct_late"),
                 tuple(W11_CHECKS), fields=W11_FIELDS),
        W12_SMOKE,
        # About 1.5 events per key and window: groups of 0, 1 and 2 values, where sample and
        # population statistics differ in having data.
        workload("w13", "sample and population statistics, 40 K events, 20 K keys",
                 dataset(events=40_000, keys=20_000, rate=500), tuple(STATS_CHECKS),
                 max_groups=40_000),
        workload("w14", "W1 on CSV, 60 K events, 1 % beyond the allowed lateness",
                 dataset(schema="C", events=60_000, keys=200, rate=1000,
                         disorder="one_pct_late"), tuple(W1_CHECKS)),
        workload("w15", "wide floats, 40 K events, 200 keys",
                 dataset(schema="F", events=40_000, keys=200, rate=1000), tuple(F_CHECKS),
                 fields=F_FIELDS),
        *two_stream_workloads(full=False),
    ]


def two_stream_workloads(full):
    """Orders and payments (bench/streams.py): measures over both inputs (wr), keyed
    reconciliation (wk), an interval join (wj) and a temporal join (wt). Full: wr has W1's shape (5 M events in all, 1 K keys); wj has 2 x 2.5 M events
    and 100 K orders buffered on the left at once (333 orders/s x 5 min)."""
    import streams
    if full:
        rc = dict(events=2_500_000, keys=1000, rate=5000)
        jn = dict(events=2_500_000, keys=1000, rate=333)
    else:
        rc = dict(events=40_000, keys=200, rate=100)
        jn = dict(events=30_000, keys=100, rate=50)
    return [
        workload("wr", "orders and payments: counts and sums of each and their differences",
                 dataset(schema="O", **rc), tuple(streams.RECONCILE_CHECKS),
                 right=dataset(schema="P", **rc), relation="reconcile",
                 fields=("order_id", "amount")),
        workload("wk", "orders and payments: reconcile() of their order ids per window and key",
                 dataset(schema="O", **rc), tuple(streams.KEYED_CHECKS),
                 right=dataset(schema="P", **rc), relation="keyed",
                 fields=("order_id", "amount")),
        workload("wj", "interval left join of orders and payments within 5 min",
                 dataset(schema="O", **jn), tuple(streams.JOIN_CHECKS),
                 right=dataset(schema="P", **jn), relation="join", join=streams.JOIN_5M,
                 group_field="orders.key", fields=("order_id", "amount")),
        workload("wt", "temporal (as-of) left join: each order with its customer's latest "
                 "payment, within 10 min", dataset(schema="O", **jn), tuple(streams.ASOF_CHECKS),
                 right=dataset(schema="P", **jn), relation="asof", join=streams.ASOF_10M,
                 group_field="orders.key", fields=("key", "amount")),
    ]


def stored_workloads():
    """Every pipeline file kept under bench/workloads/ (the full suite's)."""
    return {w.name: w.yaml() for w in full_suite()}


def results_by_id(path):
    """weir's results in a file output, by id, without `emitted_at` (the one field that
    differs between two runs of the same data)."""
    import json
    out = {}
    with open(path) as f:
        for line in f:
            r = json.loads(line)
            r.pop("emitted_at", None)
            out[r["id"]] = r
    return out


def same(a, b):
    """Equal results, numbers within a relative 1e-9: the order records arrive in (partitions
    interleave) changes the last bits of floating-point sums."""
    if isinstance(a, float) or isinstance(b, float):
        if not isinstance(a, (int, float)) or not isinstance(b, (int, float)):
            return False
        return abs(a - b) <= 1e-9 * max(1.0, abs(a), abs(b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return a == b
