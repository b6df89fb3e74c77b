// Seeded dataset generator of the end-to-end benchmarks (bench/run): schemas S, M, F and C in
// arrival order under a disorder profile, with a per-key sequence number; and the two streams
// of the multi-stream workloads, orders (O) and the payments of those orders (P), each a file
// of its own generated from the same seed. Same seed, same bytes.
#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <queue>
#include <string>
#include <string_view>
#include <vector>

namespace {

// splitmix64: tiny, fast and identical on every platform (std:: distributions are not).
struct rng {
    std::uint64_t state;
    std::uint64_t next() {
        std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
    }
    double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
    std::uint64_t below(std::uint64_t n) { return next() % n; }
    // Box-Muller; one draw per call keeps the stream of draws per record fixed.
    double normal(double mean, double sd) {
        const double u1 = std::max(uniform(), 1e-300);
        const double u2 = uniform();
        return mean + sd * std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
    }
};

enum class schema { s, m, f, c, orders, payments };
enum class disorder { in_order, up_to_2s, ten_pct_30s, one_pct_late };

struct options {
    schema kind = schema::s;
    disorder profile = disorder::up_to_2s;
    std::uint64_t events = 1'000'000;
    std::uint64_t keys = 1000;
    double rate = 10'000;                       // events per second of event time
    std::int64_t lateness_ms = 5000;            // what one_pct_late goes beyond
    std::int64_t start_ms = 1'795'168'800'000;  // 2026-11-20T10:00:00Z, a whole hour
    std::uint64_t seed = 42;
    std::string out;
};

[[noreturn]] void usage(const char* why) {
    std::fprintf(stderr,
                 "error: %s\nusage: weir_bench_gen --out FILE [--schema S|M|F|C|O|P] [--events N] "
                 "[--keys N] [--rate EVENTS_PER_S]\n  [--disorder in_order|up_to_2s|"
                 "ten_pct_30s|one_pct_late] [--lateness-ms MS] [--start-ms MS] [--seed N]\n",
                 why);
    std::exit(64);
}

options parse(int argc, char** argv) {
    options o;
    for (int i = 1; i < argc; ++i) {
        const std::string_view a = argv[i];
        if (i + 1 >= argc) usage("missing value");
        const char* v = argv[++i];
        if (a == "--out") {
            o.out = v;
        } else if (a == "--schema") {
            const std::string_view s = v;
            if (s == "S")
                o.kind = schema::s;
            else if (s == "M")
                o.kind = schema::m;
            else if (s == "F")
                o.kind = schema::f;
            else if (s == "C")
                o.kind = schema::c;
            else if (s == "O")
                o.kind = schema::orders;
            else if (s == "P")
                o.kind = schema::payments;
            else
                usage("--schema is one of S, M, F, C, O, P");
        } else if (a == "--disorder") {
            const std::string_view s = v;
            if (s == "in_order")
                o.profile = disorder::in_order;
            else if (s == "up_to_2s")
                o.profile = disorder::up_to_2s;
            else if (s == "ten_pct_30s")
                o.profile = disorder::ten_pct_30s;
            else if (s == "one_pct_late")
                o.profile = disorder::one_pct_late;
            else
                usage("unknown --disorder");
        } else if (a == "--events") {
            o.events = std::strtoull(v, nullptr, 10);
        } else if (a == "--keys") {
            o.keys = std::max<std::uint64_t>(1, std::strtoull(v, nullptr, 10));
        } else if (a == "--rate") {
            o.rate = std::strtod(v, nullptr);
        } else if (a == "--lateness-ms") {
            o.lateness_ms = std::strtoll(v, nullptr, 10);
        } else if (a == "--start-ms") {
            o.start_ms = std::strtoll(v, nullptr, 10);
        } else if (a == "--seed") {
            o.seed = std::strtoull(v, nullptr, 10);
        } else {
            usage("unknown option");
        }
    }
    if (o.out.empty()) usage("--out is required");
    if (!(o.rate > 0)) usage("--rate must be positive");
    return o;
}

// Output buffered in large blocks: the generator must not be the slow part of a run.
class writer {
  public:
    explicit writer(const std::string& path) : file_(std::fopen(path.c_str(), "wb")) {
        if (file_ == nullptr) {
            std::perror(path.c_str());
            std::exit(1);
        }
        buf_.reserve(k_block + 4096);
    }
    ~writer() {
        flush();
        if (std::fclose(file_) != 0) {
            std::perror("close");
            std::exit(1);
        }
    }
    void put(std::string_view s) { buf_.append(s); }
    void put(char c) { buf_.push_back(c); }
    void integer(std::int64_t v) {
        char tmp[24];
        auto r = std::to_chars(tmp, tmp + sizeof tmp, v);
        buf_.append(tmp, r.ptr);
    }
    // Fixed decimals, rounded: the text both engines read is the value compared.
    void fixed(double v, int decimals) {
        char tmp[40];
        auto r = std::to_chars(tmp, tmp + sizeof tmp, v, std::chars_format::fixed, decimals);
        buf_.append(tmp, r.ptr);
    }
    void end_record() {
        buf_.push_back('\n');
        if (buf_.size() >= k_block) flush();
    }
    void flush() {
        if (!buf_.empty() && std::fwrite(buf_.data(), 1, buf_.size(), file_) != buf_.size()) {
            std::perror("write");
            std::exit(1);
        }
        written_ += buf_.size();
        buf_.clear();
    }
    std::uint64_t written() const { return written_ + buf_.size(); }

  private:
    static constexpr std::size_t k_block = 1 << 20;
    std::FILE* file_;
    std::string buf_;
    std::uint64_t written_ = 0;
};

// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian calendar.
void civil_from_days(std::int64_t z, int& y, unsigned& m, unsigned& d) {
    z += 719468;
    const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const auto doe = static_cast<unsigned>(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    d = doy - (153 * mp + 2) / 5 + 1;
    m = mp < 10 ? mp + 3 : mp - 9;
    y = static_cast<int>(yoe + era * 400 + (m <= 2 ? 1 : 0));
}

// RFC 3339 UTC with milliseconds, e.g. 2026-11-20T10:00:00.123Z (24 characters).
void format_ts(std::int64_t ms, char* out) {
    const std::int64_t days = ms >= 0 ? ms / 86'400'000 : (ms - 86'399'999) / 86'400'000;
    std::int64_t rest = ms - days * 86'400'000;
    int y;
    unsigned mo, d;
    civil_from_days(days, y, mo, d);
    const auto h = static_cast<unsigned>(rest / 3'600'000);
    rest %= 3'600'000;
    const auto mi = static_cast<unsigned>(rest / 60'000);
    rest %= 60'000;
    const auto s = static_cast<unsigned>(rest / 1000);
    const auto milli = static_cast<unsigned>(rest % 1000);
    const auto put = [&out](int at, unsigned v, int width) {
        for (int i = width - 1; i >= 0; --i) {
            out[at + i] = static_cast<char>('0' + v % 10);
            v /= 10;
        }
    };
    std::memcpy(out, "0000-00-00T00:00:00.000Z", 25);
    put(0, static_cast<unsigned>(y), 4);
    put(5, mo, 2);
    put(8, d, 2);
    put(11, h, 2);
    put(14, mi, 2);
    put(17, s, 2);
    put(20, milli, 3);
}

constexpr std::array<std::string_view, 20> k_countries = {"DE", "FR", "US", "GB", "IT", "ES", "NL",
                                                          "SE", "PL", "JP", "BR", "IN", "CA", "AU",
                                                          "CH", "AT", "BE", "DK", "NO", "FI"};

constexpr std::array<std::string_view, 24> k_words = {
    "stream", "window",  "quality", "sensor", "reading", "latency", "buffer", "record",
    "device", "gateway", "timeout", "retry",  "upload",  "payload", "region", "cluster",
    "vector", "metric",  "signal",  "sample", "offset",  "commit",  "broker", "replica"};

// One event before disorder: its event time, key and the per-key sequence number.
struct event {
    std::int64_t arrival_ms;
    std::uint64_t index;  // generation order, breaks ties of arrival so output is deterministic
    std::int64_t ts_ms;
    std::uint32_t key;
    std::uint64_t seq;  // orders and payments: the order's index
    int copy = 0;       // payments: 1 for the second payment of an order paid twice
};

struct later_arrival {
    bool operator()(const event& a, const event& b) const {
        return a.arrival_ms != b.arrival_ms ? a.arrival_ms > b.arrival_ms : a.index > b.index;
    }
};

class record_writer {
  public:
    record_writer(const options& o, writer& w) : o_(o), w_(w), key_width_(digits(o.keys - 1)) {}

    void header() {
        if (o_.kind == schema::c) w_.put("ts,key,seq,value,status,country,latency_ms\n");
    }

    // The payload fields come from their own generator seeded by the event's index, so they
    // do not depend on the disorder profile: only the order of lines changes between profiles.
    void write(const event& e) {
        char ts[32];
        format_ts(e.ts_ms, ts);
        char key[16];
        format_key(e.key, key);
        if (o_.kind == schema::orders || o_.kind == schema::payments) {
            write_order_or_payment(e, ts, key);
            return;
        }
        rng r{o_.seed * 0x2545f4914f6cdd1dULL + e.index};
        const bool null_value = r.uniform() < 0.05;
        const double value = std::round(r.normal(20.0, 5.0) * 100.0) / 100.0;
        const double u = r.uniform();
        const std::string_view status = u < 0.94 ? "ok" : (u < 0.98 ? "retry" : "error");
        const std::string_view country = k_countries[r.below(k_countries.size())];
        const auto latency = static_cast<std::int64_t>(std::max(1.0, std::exp(r.normal(4.0, 0.8))));
        if (o_.kind == schema::c) {
            w_.put(ts);
            w_.put(',');
            w_.put(key);
            w_.put(',');
            w_.integer(static_cast<std::int64_t>(e.seq));
            w_.put(',');
            if (!null_value) w_.fixed(value, 2);
            w_.put(',');
            w_.put(status);
            w_.put(',');
            w_.put(country);
            w_.put(',');
            w_.integer(latency);
            w_.end_record();
            return;
        }
        w_.put("{\"ts\":\"");
        w_.put(ts);
        w_.put("\",\"key\":\"");
        w_.put(key);
        w_.put("\",\"seq\":");
        w_.integer(static_cast<std::int64_t>(e.seq));
        if (o_.kind == schema::f) {
            for (int i = 0; i < 20; ++i) {
                char name[16];
                std::snprintf(name, sizeof name, ",\"f%02d\":", i);
                w_.put(name);
                w_.fixed(r.normal(100.0 * (i + 1), 10.0 * (i + 1)), 4);
            }
            w_.put('}');
            w_.end_record();
            return;
        }
        w_.put(",\"value\":");
        if (null_value) {
            w_.put("null");
        } else {
            w_.fixed(value, 2);
        }
        w_.put(",\"status\":\"");
        w_.put(status);
        w_.put("\",\"country\":\"");
        w_.put(country);
        w_.put("\",\"latency_ms\":");
        w_.integer(latency);
        if (o_.kind == schema::m) write_medium(r);
        w_.put('}');
        w_.end_record();
    }

    // What the payments of order `index` are: none (5 %), one, or two (0.5 %: paid twice);
    // when it is paid (most within 4 min, 1 % between 5 and 6.7 min), and whether the amount
    // paid differs from the order's (1 %). From the order's own generator, so both files agree.
    struct payment_plan {
        double amount = 0;  // the order's
        int payments = 0;
        std::int64_t delay_ms[2] = {0, 0};
        bool wrong_amount = false;
    };
    payment_plan plan_of(std::uint64_t index) const {
        rng r{o_.seed * 0x9e3779b97f4a7c15ULL + index};
        payment_plan p;
        p.amount = std::round(std::exp(r.normal(3.5, 0.9)) * 100.0) / 100.0;
        const double u = r.uniform();
        p.payments = u < 0.05 ? 0 : (u < 0.055 ? 2 : 1);
        p.delay_ms[0] = r.uniform() < 0.01 ? 300'001 + static_cast<std::int64_t>(r.below(100'000))
                                           : static_cast<std::int64_t>(r.below(240'001));
        p.delay_ms[1] = p.delay_ms[0] + 1000 + static_cast<std::int64_t>(r.below(9001));
        p.wrong_amount = r.uniform() < 0.01;
        return p;
    }

  private:
    void write_order_or_payment(const event& e, const char* ts, const char* key) {
        const payment_plan p = plan_of(e.seq);
        w_.put("{\"ts\":\"");
        w_.put(ts);
        w_.put("\",\"order_id\":\"o-");
        w_.integer(static_cast<std::int64_t>(e.seq));
        w_.put("\",\"key\":\"");
        w_.put(key);
        w_.put("\",\"amount\":");
        w_.fixed(o_.kind == schema::payments && p.wrong_amount ? p.amount + 1.0 : p.amount, 2);
        w_.put('}');
        w_.end_record();
    }

    static int digits(std::uint64_t n) {
        int d = 1;
        while (n >= 10) {
            n /= 10;
            ++d;
        }
        return std::max(d, 4);
    }
    void format_key(std::uint32_t k, char* out) const {
        out[0] = 'k';
        out[1] = '-';
        for (int i = key_width_ - 1; i >= 0; --i) {
            out[2 + i] = static_cast<char>('0' + k % 10);
            k /= 10;
        }
        out[2 + key_width_] = '\0';
    }
    // About 900 more bytes: free text and a nested object, neither of which a check reads.
    void write_medium(rng& r) {
        w_.put(",\"message\":\"");
        const int words = 95 + static_cast<int>(r.below(10));
        for (int i = 0; i < words; ++i) {
            if (i > 0) w_.put(' ');
            w_.put(k_words[r.below(k_words.size())]);
        }
        w_.put("\",\"device\":{\"model\":\"wx-");
        w_.integer(static_cast<std::int64_t>(r.below(500)));
        w_.put("\",\"firmware\":\"2.");
        w_.integer(static_cast<std::int64_t>(r.below(20)));
        w_.put('.');
        w_.integer(static_cast<std::int64_t>(r.below(100)));
        w_.put("\",\"location\":{\"lat\":");
        w_.fixed(r.uniform() * 180.0 - 90.0, 5);
        w_.put(",\"lon\":");
        w_.fixed(r.uniform() * 360.0 - 180.0, 5);
        w_.put("},\"tags\":[\"a\",\"b\",\"c\"]}");
    }

    const options& o_;
    writer& w_;
    int key_width_;
};

// Arrival delay of one event (ms) under the profile.
std::int64_t delay_ms(const options& o, rng& r) {
    switch (o.profile) {
        case disorder::in_order:
            return 0;
        case disorder::up_to_2s:
            return static_cast<std::int64_t>(r.below(2001));
        case disorder::ten_pct_30s:
            return r.uniform() < 0.10 ? static_cast<std::int64_t>(r.below(30'001)) : 0;
        case disorder::one_pct_late:
            if (r.uniform() < 0.01) {
                return o.lateness_ms + 1 + static_cast<std::int64_t>(r.below(60'000));
            }
            return static_cast<std::int64_t>(r.below(2001));
    }
    return 0;
}

// Writes `events` (in event-time order) in arrival order under the disorder profile.
void write_in_arrival_order(const options& o, record_writer& rec, std::vector<event>& events,
                            rng& delays) {
    std::priority_queue<event, std::vector<event>, later_arrival> pending;
    for (auto& e : events) {
        e.arrival_ms = e.ts_ms + delay_ms(o, delays);
        while (!pending.empty() && pending.top().arrival_ms <= e.ts_ms) {
            rec.write(pending.top());
            pending.pop();
        }
        pending.push(e);
    }
    while (!pending.empty()) {
        rec.write(pending.top());
        pending.pop();
    }
}

// Orders (O) or their payments (P): `events` orders at `rate`, uniform keys (the customer).
int orders_and_payments(const options& o) {
    rng order_rng{o.seed};
    std::vector<event> events;
    events.reserve(o.events);
    writer w(o.out);
    record_writer rec(o, w);
    for (std::uint64_t i = 0; i < o.events; ++i) {
        const auto ts_ms =
            o.start_ms + static_cast<std::int64_t>(static_cast<double>(i) * 1000.0 / o.rate);
        const auto key = static_cast<std::uint32_t>(order_rng.below(o.keys));
        if (o.kind == schema::orders) {
            events.push_back({0, i, ts_ms, key, i});
            continue;
        }
        const auto plan = rec.plan_of(i);
        for (int c = 0; c < plan.payments; ++c) {
            events.push_back({0, 0, ts_ms + plan.delay_ms[c], key, i, c});
        }
    }
    std::stable_sort(events.begin(), events.end(),
                     [](const event& a, const event& b) { return a.ts_ms < b.ts_ms; });
    for (std::size_t i = 0; i < events.size(); ++i) events[i].index = i;
    rng delays{o.seed ^ (o.kind == schema::orders ? 0x6f72ULL : 0x7061ULL)};
    write_in_arrival_order(o, rec, events, delays);
    w.flush();
    std::printf("{\"events\":%llu,\"bytes\":%llu,\"first_ts_ms\":%lld,\"last_ts_ms\":%lld}\n",
                static_cast<unsigned long long>(events.size()),
                static_cast<unsigned long long>(w.written()),
                static_cast<long long>(events.empty() ? 0 : events.front().ts_ms),
                static_cast<long long>(events.empty() ? 0 : events.back().ts_ms));
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    const options o = parse(argc, argv);
    if (o.kind == schema::orders || o.kind == schema::payments) return orders_and_payments(o);
    rng order_rng{o.seed};
    std::vector<std::uint64_t> seq(o.keys, 0);
    std::priority_queue<event, std::vector<event>, later_arrival> pending;
    std::uint64_t written = 0;
    std::int64_t first_ms = 0, last_ms = 0;
    {
        writer w(o.out);
        record_writer rec(o, w);
        rec.header();
        for (std::uint64_t i = 0; i < o.events; ++i) {
            const auto ts_ms =
                o.start_ms + static_cast<std::int64_t>(static_cast<double>(i) * 1000.0 / o.rate);
            const auto key = static_cast<std::uint32_t>(order_rng.below(o.keys));
            const std::int64_t arrival = ts_ms + delay_ms(o, order_rng);
            if (i == 0) first_ms = ts_ms;
            last_ms = ts_ms;
            // Events are generated in event-time order, so one that arrives before this
            // event's time can be written: nothing generated later arrives earlier.
            while (!pending.empty() && pending.top().arrival_ms <= ts_ms) {
                rec.write(pending.top());
                pending.pop();
                ++written;
            }
            pending.push({arrival, i, ts_ms, key, ++seq[key]});
        }
        while (!pending.empty()) {
            rec.write(pending.top());
            pending.pop();
            ++written;
        }
        w.flush();
        std::printf("{\"events\":%llu,\"bytes\":%llu,\"first_ts_ms\":%lld,\"last_ts_ms\":%lld}\n",
                    static_cast<unsigned long long>(written),
                    static_cast<unsigned long long>(w.written()), static_cast<long long>(first_ms),
                    static_cast<long long>(last_ms));
    }
    return 0;
}
