// The generator input: renders seeded synthetic records as JSON lines into a reusable buffer,
// paced by a steady timer (or as fast as possible in batches that yield to the executor).
#include "connectors/generator/generator_input.h"

#include <algorithm>
#include <array>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "connectors/common/input_facade.h"
#include "core/checkpoint/byte_codec.h"
#include "core/record/padded_buffer.h"
#include "core/time/timestamp.h"

namespace weir::connectors {

namespace asio = boost::asio;

namespace {

constexpr std::size_t npos = static_cast<std::size_t>(-1);
constexpr std::int64_t forever = std::numeric_limits<std::int64_t>::max();
constexpr std::uint8_t position_version = 1;
constexpr std::size_t batch_records = 4096;
constexpr auto tick = std::chrono::milliseconds(10);

std::uint64_t splitmix64(std::uint64_t& x) {
    std::uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

// xoshiro256** (Blackman and Vigna): small state that a checkpoint can hold, the same output
// on every platform.
class prng {
  public:
    void seed(std::uint64_t seed) {
        for (auto& word : s_) word = splitmix64(seed);
    }
    std::uint64_t next() {
        const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
        const std::uint64_t t = s_[1] << 17;
        s_[2] ^= s_[0];
        s_[3] ^= s_[1];
        s_[1] ^= s_[2];
        s_[0] ^= s_[3];
        s_[2] ^= t;
        s_[3] = rotl(s_[3], 45);
        return result;
    }
    // [0, 1) with 53 random bits.
    double unit() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
    // [0, n), unbiased.
    std::uint64_t below(std::uint64_t n) {
        if (n <= 1) return 0;
        const std::uint64_t threshold = (0 - n) % n;
        for (;;) {
            const std::uint64_t r = next();
            if (r >= threshold) return r % n;
        }
    }
    // Irwin-Hall(12) - 6: a normal deviate clipped at +-6 sigma, from arithmetic alone (the
    // transcendental functions of exact methods are not identical across libm versions).
    double standard_normal() {
        double sum = 0;
        for (int i = 0; i < 12; ++i) sum += unit();
        return sum - 6.0;
    }
    bool chance(double p) { return p >= 1.0 || (p > 0.0 && unit() < p); }

    std::array<std::uint64_t, 4>& state() { return s_; }
    const std::array<std::uint64_t, 4>& state() const { return s_; }

  private:
    static std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
    std::array<std::uint64_t, 4> s_{};
};

void append_json_string(std::string& out, std::string_view s) {
    static constexpr char hex[] = "0123456789abcdef";
    out.push_back('"');
    for (const char ch : s) {
        const auto c = static_cast<unsigned char>(ch);
        if (c == '"' || c == '\\') {
            out.push_back('\\');
            out.push_back(ch);
        } else if (c < 0x20) {
            out.append("\\u00");
            out.push_back(hex[c >> 4]);
            out.push_back(hex[c & 15]);
        } else {
            out.push_back(ch);
        }
    }
    out.push_back('"');
}

// `Out`: a std::string or a padded_buffer.
template <class Out>
void append_shortest(Out& out, double v) {
    char buf[64];
    const auto r = std::to_chars(buf, buf + sizeof buf, v);
    out.append(std::string_view(buf, static_cast<std::size_t>(r.ptr - buf)));
}

enum class field_type { number, integer, string, boolean, timestamp };
enum class distribution { uniform, normal, random_walk };
enum class problem_type {
    silent_group,
    stuck_value,
    out_of_range,
    missing_field,
    burst,
    level_shift
};

constexpr std::int64_t ns_per_day = 86'400 * time::ns_per_s;

// cos(2 pi x) for x in [-0.5, 0.5] turns, from + - * / alone (libm's cos may differ in the last
// bit between versions, and the stream must not): the angle is folded into [-pi/2, pi/2] and
// the Taylor series summed to the 16th power, within 1e-12 of the true value.
double cos_turns(double x) {
    constexpr double pi = 3.14159265358979323846;
    double a = (x < 0 ? -x : x) * 2 * pi;  // [0, pi]
    double sign = 1;
    if (a > pi / 2) {
        a = pi - a;
        sign = -1;
    }
    const double a2 = a * a;
    double sum = 1;
    double term = 1;
    for (int k = 1; k <= 8; ++k) {
        term = -term * a2 / static_cast<double>((2 * k - 1) * (2 * k));
        sum += term;
    }
    return sign * sum;
}

struct field_config {
    std::string key;  // `,"name":` ready to append
    field_type type = field_type::number;
    distribution dist = distribution::uniform;
    double min = 0, max = 100, mean = 50, std_dev = 0, step = 1;
    bool clamp = false;  // normal: only within [min, max] when the user gave them
    int decimals = 2;
    std::vector<std::string> values;  // JSON texts
    std::size_t length = 8;
    double null_fraction = 0, missing_fraction = 0;
    // daily/weekly: the level (mean, or the centre of [min, max]) is multiplied by
    // shape(t); values move by level x (shape - 1).
    double level = 0;
    double amplitude = 0;      // daily: 0 = none
    std::int64_t peak_ns = 0;  // daily: time of day of the peak, UTC
    double weekend = 1;        // weekly: factor on Saturdays and Sundays
    bool shaped = false;
    std::size_t walk_slot = npos;  // index into the per-group walk state
    std::size_t last_slot = npos;  // index into the per-group last values (stuck_value)
};

struct problem_config {
    problem_type type = problem_type::silent_group;
    std::size_t field = npos;
    std::optional<std::uint64_t> group;  // 0-based; none = every group
    std::int64_t begin = 0;              // ns after start_time
    std::int64_t end = forever;
    std::optional<double> value;
    double fraction = 1, factor = 10;
    std::size_t frozen_base = npos;  // stuck_value: first index into frozen_
};

// One generated value, small enough to keep per group for stuck_value.
struct gen_value {
    // number_text: a stuck_value's number written as a string field's value.
    enum class kind : std::uint8_t { none, null, number, text, choice, boolean, time, number_text };
    kind k = kind::none;  // none: absent (or "no value yet")
    double num = 0;
    std::uint64_t bits = 0;
};

struct settings {
    std::uint64_t seed = 1;
    double rate = 10;
    std::uint64_t count = 0;
    std::optional<time::timestamp_ns> start_time;  // none: now less start_before
    std::int64_t start_before = 0;                 // start_time "-2d": ns before now
    std::int64_t step_ns = 100 * time::ns_per_ms;
    std::int64_t disorder_ns = 0;
    std::uint64_t groups = 1;
    std::string time_key;   // `{"ts":`
    std::string group_key;  // `,"group":"g-` without the closing quote
    std::vector<field_config> fields;
    std::vector<problem_config> problems;
    std::size_t walks = 0;        // random-walk fields
    std::size_t stuck_lasts = 0;  // fields whose last value stuck_value may need
};

field_config read_field(const std::string& name, const params::reader& f) {
    field_config c;
    c.key = ",";
    append_json_string(c.key, name);
    c.key.push_back(':');
    const std::string type = f.string("type").value;
    c.type = type == "integer"     ? field_type::integer
             : type == "string"    ? field_type::string
             : type == "boolean"   ? field_type::boolean
             : type == "timestamp" ? field_type::timestamp
                                   : field_type::number;
    const bool numeric = c.type == field_type::number || c.type == field_type::integer;
    if (numeric) {
        const std::string dist = f.string("distribution").value;
        c.dist = dist == "normal"        ? distribution::normal
                 : dist == "random_walk" ? distribution::random_walk
                                         : distribution::uniform;
        c.min = f.number("min").value;
        c.max = f.number("max").value;
        c.clamp = f.has("min") || f.has("max");
        c.mean = f.has("mean") ? f.number("mean").value : (c.min + c.max) / 2;
        c.std_dev = f.has("std_dev") ? f.number("std_dev").value : (c.max - c.min) / 6;
        c.step = f.has("step") ? f.number("step").value : (c.max - c.min) / 100;
        if (c.type == field_type::number)
            c.decimals = static_cast<int>(f.integer("decimals").value);
        c.level = c.dist == distribution::normal ? c.mean : (c.min + c.max) / 2;
        if (const auto daily = f.object("daily"); daily && f.has("daily")) {
            c.amplitude = daily->number("amplitude").value;
            const std::string peak = daily->string("peak").value;
            const auto colon = peak.find(':');
            const auto hours = params::parse_integer(peak.substr(0, colon));
            const auto minutes = colon == std::string::npos
                                     ? std::nullopt
                                     : params::parse_integer(peak.substr(colon + 1));
            if (!hours || !minutes) {
                throw std::runtime_error("field " + name + ": daily.peak is not HH:MM: " + peak);
            }
            c.peak_ns = (*hours * 60 + *minutes) * 60 * time::ns_per_s;
        }
        if (const auto weekly = f.object("weekly"); weekly && f.has("weekly")) {
            c.weekend = weekly->number("weekend").value;
        }
        c.shaped = c.amplitude != 0 || c.weekend != 1;
    }
    if (c.type == field_type::string)
        c.length = static_cast<std::size_t>(f.integer("length").value);
    c.null_fraction = f.number("null_fraction").value;
    c.missing_fraction = f.number("missing_fraction").value;
    if (c.type != field_type::timestamp && f.has("values")) {
        for (const auto& v : f.strings("values")) {
            std::string json;
            switch (c.type) {
                case field_type::string:
                    append_json_string(json, v.value);
                    break;
                case field_type::boolean: {
                    const auto b = params::parse_boolean(v.value);
                    if (!b)
                        throw std::runtime_error("field " + name + ": \"" + v.value +
                                                 "\" in values is not true or false");
                    json = *b ? "true" : "false";
                    break;
                }
                case field_type::integer: {
                    const auto i = params::parse_integer(v.value);
                    if (!i)
                        throw std::runtime_error("field " + name + ": \"" + v.value +
                                                 "\" in values is not an integer");
                    json = std::to_string(*i);
                    break;
                }
                default: {
                    const auto d = params::parse_number(v.value);
                    if (!d || !std::isfinite(*d)) {
                        throw std::runtime_error("field " + name + ": \"" + v.value +
                                                 "\" in values is not a number");
                    }
                    append_shortest(json, *d);
                    break;
                }
            }
            c.values.push_back(std::move(json));
        }
    }
    return c;
}

std::vector<std::pair<std::string, field_config>> default_fields() {
    std::vector<std::pair<std::string, field_config>> out;
    auto make = [](const std::string& name, double lo, double hi, double nulls) {
        field_config c;
        c.key = ",";
        append_json_string(c.key, name);
        c.key.push_back(':');
        c.min = lo;
        c.max = hi;
        c.mean = (lo + hi) / 2;
        c.std_dev = (hi - lo) / 6;
        c.step = (hi - lo) / 100;
        c.null_fraction = nulls;
        return c;
    };
    out.emplace_back("temperature", make("temperature", 15, 35, 0.01));
    out.emplace_back("humidity", make("humidity", 20, 80, 0));
    field_config status;
    status.key = R"(,"status":)";
    status.type = field_type::string;
    status.values = {R"("ok")", R"("warn")", R"("error")"};
    out.emplace_back("status", std::move(status));
    return out;
}

settings read_settings(const params::reader& p) {
    settings s;
    s.seed = static_cast<std::uint64_t>(p.integer("seed").value);
    s.rate = p.number("rate").value;
    s.count = static_cast<std::uint64_t>(p.integer("count").value);
    const std::string start = p.string("start_time").value;
    if (start.starts_with('-')) {
        const auto before = params::parse_duration(std::string_view(start).substr(1));
        if (!before) throw std::runtime_error("start_time: not a duration before now: " + start);
        s.start_before = before->count() * time::ns_per_ms;
    } else if (start != "now") {
        time::timestamp_ns t = 0;
        if (!time::parse_rfc3339(start, t)) {
            throw std::runtime_error("start_time: not an RFC 3339 timestamp: " + start);
        }
        s.start_time = t;
    }
    if (p.has("time_step")) {
        s.step_ns = p.duration("time_step").value.count() * time::ns_per_ms;
    } else if (s.rate > 0) {
        const double speed = p.number("speed").value;
        // Clamped so that a huge speed over a tiny rate cannot overflow the conversion.
        s.step_ns = std::llround(std::clamp(speed * 1e9 / s.rate, 1.0, 1e18));
    }
    s.disorder_ns = p.duration("disorder").value.count() * time::ns_per_ms;
    s.groups = static_cast<std::uint64_t>(p.integer("groups").value);
    s.time_key = "{";
    append_json_string(s.time_key, p.string("time_field").value);
    s.time_key.push_back(':');
    s.group_key = ",";
    append_json_string(s.group_key, p.string("group_field").value);
    s.group_key.push_back(':');
    append_json_string(s.group_key, p.string("group_prefix").value);
    s.group_key.pop_back();  // the group's number goes before the closing quote

    std::vector<std::string> names;
    if (p.has("fields")) {
        for (const auto& [name, f] : p.object_map("fields")) {
            names.push_back(name.value);
            s.fields.push_back(read_field(name.value, f));
        }
    } else {
        for (auto& [name, f] : default_fields()) {
            names.push_back(name);
            s.fields.push_back(std::move(f));
        }
    }
    for (auto& f : s.fields) {
        if (f.dist == distribution::random_walk) f.walk_slot = s.walks++;
    }

    const std::string prefix = p.string("group_prefix").value;
    std::size_t frozen = 0;
    for (const auto& q : p.object_list("problems")) {
        problem_config c;
        const std::string type = q.string("type").value;
        c.type = type == "stuck_value"     ? problem_type::stuck_value
                 : type == "out_of_range"  ? problem_type::out_of_range
                 : type == "missing_field" ? problem_type::missing_field
                 : type == "burst"         ? problem_type::burst
                 : type == "level_shift"   ? problem_type::level_shift
                                           : problem_type::silent_group;
        if (q.has("field")) {
            const std::string field = q.string("field").value;
            const auto it = std::find(names.begin(), names.end(), field);
            if (it == names.end()) throw std::runtime_error("problems: unknown field " + field);
            c.field = static_cast<std::size_t>(it - names.begin());
        }
        if (q.has("group")) {
            const std::string group = q.string("group").value;
            std::optional<std::int64_t> n;
            if (group.size() > prefix.size() && group.starts_with(prefix)) {
                n = params::parse_integer(group.substr(prefix.size()));
            }
            if (!n || *n < 1 || static_cast<std::uint64_t>(*n) > s.groups) {
                throw std::runtime_error("problems: unknown group " + group);
            }
            c.group = static_cast<std::uint64_t>(*n - 1);
        }
        c.begin = q.duration("after").value.count() * time::ns_per_ms;
        const std::int64_t duration = q.duration("duration").value.count() * time::ns_per_ms;
        c.end = duration > 0 ? c.begin + duration : forever;
        if (q.has("value")) c.value = q.number("value").value;
        c.fraction = q.number("fraction").value;
        c.factor = q.number("factor").value;
        if (c.type == problem_type::stuck_value) {
            field_config& f = s.fields[c.field];
            if (f.last_slot == npos) f.last_slot = s.stuck_lasts++;
            c.frozen_base = frozen;
            frozen += c.group ? 1 : s.groups;
        }
        s.problems.push_back(std::move(c));
    }
    return s;
}

class generator_impl : public std::enable_shared_from_this<generator_impl> {
  public:
    generator_impl(settings s, const input_context& ctx)
        : s_(std::move(s)),
          executor_(ctx.executor),
          once_(ctx.once),
          clock_(ctx.clock),
          timer_(ctx.executor) {
        rng_.seed(s_.seed);
        // Initial random-walk values come from their own stream, so they do not depend on
        // how many draws the records take.
        prng init;
        init.seed(s_.seed ^ 0x5bd1e9955bd1e995ULL);
        walk_.resize(s_.walks * s_.groups);
        for (std::uint64_t g = 0; g < s_.groups; ++g) {
            for (const auto& f : s_.fields) {
                if (f.walk_slot == npos) continue;
                walk_[g * s_.walks + f.walk_slot] = f.min + init.unit() * (f.max - f.min);
            }
        }
        last_.resize(s_.stuck_lasts * s_.groups);
        std::size_t frozen = 0;
        for (const auto& p : s_.problems) {
            if (p.type == problem_type::stuck_value) frozen += p.group ? 1 : s_.groups;
        }
        frozen_.resize(frozen);
        buf_.reserve(1 << 20);
    }

    void start(input_events& events) {
        events_ = &events;
        if (!start_) {
            start_ = s_.start_time
                         ? *s_.start_time
                         : (clock_ ? clock_()
                                   : std::chrono::duration_cast<std::chrono::nanoseconds>(
                                         std::chrono::system_clock::now().time_since_epoch())
                                         .count()) -
                               s_.start_before;
        }
        if (once_ && s_.count == 0) {
            post([](generator_impl& self) {
                self.events_->on_failure(
                    "a generator without count never ends; --once needs count");
            });
            return;
        }
        started_ = true;
        schedule();
    }

    void pause() { paused_ = true; }

    void resume() {
        if (!paused_) return;
        paused_ = false;
        if (started_ && !stopped_) schedule();
    }

    void stop() {
        stopped_ = true;
        timer_.cancel();
    }

    bool bounded() const { return s_.count > 0; }

    std::string position() const {
        byte_writer w;
        w.u8(position_version);
        w.u64(s_.seed);
        w.varint(s_.groups);
        w.varint(s_.walks);
        w.varint(s_.stuck_lasts);
        w.varint(frozen_.size());
        for (const auto word : rng_.state()) w.u64(word);
        w.varint(slot_);
        w.varint(emitted_);
        w.i64(start_.value_or(0));
        w.boolean(start_.has_value());
        for (const double v : walk_) w.f64(v);
        for (const auto& v : last_) write_value(w, v);
        for (const auto& v : frozen_) write_value(w, v);
        return w.take();
    }

    bool restore(std::string_view position, std::string& error) {
        byte_reader r(position);
        if (r.u8() != position_version) {
            error = "generator position: unknown version";
            return false;
        }
        const std::uint64_t seed = r.u64();
        const std::uint64_t groups = r.varint();
        const std::uint64_t walks = r.varint();
        const std::uint64_t lasts = r.varint();
        const std::uint64_t frozen = r.varint();
        if (!r.ok()) {
            error = "generator position: " + std::string(to_string(r.error()));
            return false;
        }
        if (seed != s_.seed || groups != s_.groups || walks != s_.walks ||
            lasts != s_.stuck_lasts || frozen != frozen_.size()) {
            error = "generator position: saved for a different seed, groups, fields or problems";
            return false;
        }
        prng rng;
        for (auto& word : rng.state()) word = r.u64();
        const std::uint64_t slot = r.varint();
        const std::uint64_t emitted = r.varint();
        const std::int64_t start = r.i64();
        const bool has_start = r.boolean();
        std::vector<double> walk(walk_.size());
        for (double& v : walk) v = r.f64();
        std::vector<gen_value> last(last_.size());
        for (auto& v : last) read_value(r, v);
        std::vector<gen_value> frozen_values(frozen_.size());
        for (auto& v : frozen_values) read_value(r, v);
        if (!r.ok() || !r.at_end()) {
            error = "generator position: " +
                    std::string(r.ok() ? "trailing bytes" : to_string(r.error()));
            return false;
        }
        rng_ = rng;
        slot_ = slot;
        emitted_ = emitted;
        if (has_start) start_ = start;
        walk_ = std::move(walk);
        last_ = std::move(last);
        frozen_ = std::move(frozen_values);
        return true;
    }

  private:
    template <class F>
    void post(F f) {
        asio::post(executor_, [self = shared_from_this(), f = std::move(f)] {
            if (!self->stopped_) f(*self);
        });
    }

    static void write_value(byte_writer& w, const gen_value& v) {
        w.u8(static_cast<std::uint8_t>(v.k));
        w.f64(v.num);
        w.u64(v.bits);
    }
    static void read_value(byte_reader& r, gen_value& v) {
        const std::uint8_t k = r.u8();
        if (k > static_cast<std::uint8_t>(gen_value::kind::number_text)) r.fail();
        v.k = static_cast<gen_value::kind>(k);
        v.num = r.f64();
        v.bits = r.u64();
    }

    bool done() const { return s_.count > 0 && emitted_ >= s_.count; }

    void schedule() {
        if (done()) {
            finish();
            return;
        }
        if (s_.rate <= 0) {
            post([](generator_impl& self) { self.run_fast(); });
            return;
        }
        pace_start_ = std::chrono::steady_clock::now();
        released_ = 0;
        arm(pace_start_ + tick);
    }

    void finish() {
        if (ended_) return;
        ended_ = true;
        post([](generator_impl& self) { self.events_->on_end(); });
    }

    void arm(std::chrono::steady_clock::time_point at) {
        timer_.expires_at(at);
        timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
            if (ec || self->stopped_) return;
            self->on_tick();
        });
    }

    // Paced: release the slots due since the pacing started, in batches.
    void on_tick() {
        if (paused_) return;
        const auto now = std::chrono::steady_clock::now();
        const double elapsed = std::chrono::duration<double>(now - pace_start_).count();
        const auto due = static_cast<std::uint64_t>(elapsed * s_.rate);
        std::uint64_t owed = due > released_ ? due - released_ : 0;
        // A loop that cannot keep up drops what is more than a second behind instead of
        // bursting ever larger batches.
        const auto cap = static_cast<std::uint64_t>(std::max(1.0, s_.rate));
        if (owed > cap) {
            released_ += owed - cap;
            owed = cap;
        }
        while (owed > 0 && !paused_ && !stopped_ && !done()) {
            const std::uint64_t slots = std::min<std::uint64_t>(owed, batch_records);
            released_ += slots;
            owed -= slots;
            produce(slots);
        }
        if (stopped_) return;
        if (done()) {
            finish();
            return;
        }
        if (paused_) return;
        auto next = timer_.expiry() + tick;
        if (next < now) next = now + tick;
        arm(next);
    }

    // As fast as possible: one batch per handler, so other work on the executor interleaves.
    void run_fast() {
        if (paused_ || done()) {
            if (done()) finish();
            return;
        }
        produce(batch_records);
        if (stopped_ || paused_) return;
        if (done()) {
            finish();
            return;
        }
        post([](generator_impl& self) { self.run_fast(); });
    }

    // Renders up to `slots` slots (fewer when count is reached) and delivers them.
    void produce(std::uint64_t slots) {
        buf_.clear();
        for (std::uint64_t i = 0; i < slots && !done(); ++i) render_slot();
        if (buf_.empty()) return;
        events_->on_records("", record_delivery{.bytes = buf_.view()});
    }

    bool active(const problem_config& p, std::int64_t offset, std::uint64_t group) const {
        return offset >= p.begin && offset < p.end && (!p.group || *p.group == group);
    }

    void render_slot() {
        const std::uint64_t slot = slot_++;
        const std::uint64_t group = slot % s_.groups;
        const std::int64_t offset = static_cast<std::int64_t>(slot) * s_.step_ns;
        std::uint64_t records = 1;
        for (const auto& p : s_.problems) {
            if (!active(p, offset, group)) continue;
            if (p.type == problem_type::silent_group && rng_.chance(p.fraction)) records = 0;
            if (p.type == problem_type::burst && records == 1 && rng_.chance(p.fraction)) {
                const double whole = std::floor(p.factor);
                records = static_cast<std::uint64_t>(whole);
                if (rng_.chance(p.factor - whole)) ++records;
            }
        }
        for (std::uint64_t j = 0; j < records && !done(); ++j) {
            std::int64_t t =
                *start_ + offset +
                static_cast<std::int64_t>(j) * s_.step_ns / static_cast<std::int64_t>(records);
            if (s_.disorder_ns > 0) {
                t -= static_cast<std::int64_t>(
                    rng_.below(static_cast<std::uint64_t>(s_.disorder_ns) + 1));
            }
            render_record(group, offset, t);
            ++emitted_;
        }
    }

    gen_value draw(const field_config& f, std::uint64_t group, time::timestamp_ns t) {
        gen_value v;
        if (!f.values.empty()) {
            v.k = gen_value::kind::choice;
            v.bits = rng_.below(f.values.size());
            return v;
        }
        switch (f.type) {
            case field_type::string:
                v.k = gen_value::kind::text;
                v.bits = rng_.next();
                return v;
            case field_type::boolean:
                v.k = gen_value::kind::boolean;
                v.bits = rng_.next() >> 63;
                return v;
            case field_type::timestamp:
                v.k = gen_value::kind::time;
                v.bits = static_cast<std::uint64_t>(
                    t - static_cast<std::int64_t>(rng_.below(time::ns_per_s + 1)));
                return v;
            default:
                break;
        }
        v.k = gen_value::kind::number;
        switch (f.dist) {
            case distribution::uniform:
                if (f.type == field_type::integer) {
                    const double lo = std::ceil(f.min);
                    const double hi = std::floor(f.max);
                    const double span = hi >= lo ? hi - lo + 1 : 1;
                    v.num = lo + static_cast<double>(rng_.below(
                                     static_cast<std::uint64_t>(std::min(span, 9.0e18))));
                } else {
                    v.num = f.min + rng_.unit() * (f.max - f.min);
                }
                break;
            case distribution::normal:
                v.num = f.mean + rng_.standard_normal() * f.std_dev;
                if (f.clamp) v.num = std::clamp(v.num, f.min, f.max);
                break;
            case distribution::random_walk: {
                double& w = walk_[group * s_.walks + f.walk_slot];
                w += (rng_.unit() * 2 - 1) * f.step;
                if (w > f.max) w = 2 * f.max - w;
                if (w < f.min) w = 2 * f.min - w;
                w = std::clamp(w, f.min, f.max);
                v.num = w;
                break;
            }
        }
        if (f.shaped) v.num += f.level * (shape(f, t) - 1);
        return v;
    }

    // The daily and weekly factor of a shaped field's level at event time t (UTC).
    static double shape(const field_config& f, time::timestamp_ns t) {
        double s = 1;
        std::int64_t day = t / ns_per_day;
        std::int64_t time_of_day = t % ns_per_day;
        if (time_of_day < 0) {
            time_of_day += ns_per_day;
            --day;
        }
        if (f.amplitude != 0) {
            // From the peak, folded into [-12h, 12h).
            std::int64_t from_peak = time_of_day - f.peak_ns;
            if (from_peak < -ns_per_day / 2) from_peak += ns_per_day;
            if (from_peak >= ns_per_day / 2) from_peak -= ns_per_day;
            s += f.amplitude *
                 cos_turns(static_cast<double>(from_peak) / static_cast<double>(ns_per_day));
        }
        if (f.weekend != 1) {
            // 1970-01-01 was a Thursday: Monday is 0, Saturday 5, Sunday 6.
            const std::int64_t weekday = ((day + 3) % 7 + 7) % 7;
            if (weekday >= 5) s *= f.weekend;
        }
        return s;
    }

    gen_value problem_value(const field_config& f, const problem_config& p) const {
        gen_value v;
        if (p.type == problem_type::out_of_range) {
            v.k = gen_value::kind::number;
            const double width = f.max - f.min;
            v.num = p.value ? *p.value : f.max + (width > 0 ? width : 1);
            return v;
        }
        // stuck_value with an explicit value
        switch (f.type) {
            case field_type::boolean:
                v.k = gen_value::kind::boolean;
                v.bits = *p.value != 0 ? 1 : 0;
                break;
            case field_type::timestamp:
                v.k = gen_value::kind::time;
                v.bits = static_cast<std::uint64_t>(std::llround(*p.value * 1e9));
                break;
            case field_type::string:
                v.k = gen_value::kind::number_text;
                v.num = *p.value;
                break;
            default:
                v.k = gen_value::kind::number;
                v.num = *p.value;
                break;
        }
        return v;
    }

    void render_record(std::uint64_t group, std::int64_t offset, time::timestamp_ns t) {
        buf_.append(s_.time_key);
        char ts[26];
        ts[0] = '"';
        time::format_rfc3339_ms(t, ts + 1);
        ts[25] = '"';
        buf_.append(std::string_view(ts, sizeof ts));
        buf_.append(s_.group_key);
        append_integer(group + 1);
        buf_.push_back('"');

        for (std::size_t i = 0; i < s_.fields.size(); ++i) {
            const field_config& f = s_.fields[i];
            // The value is always drawn, so a problem does not shift the stream after it.
            gen_value v = draw(f, group, t);
            if (f.null_fraction > 0 || f.missing_fraction > 0) {
                const double u = rng_.unit();
                if (u < f.missing_fraction) {
                    v.k = gen_value::kind::none;
                } else if (u < f.missing_fraction + f.null_fraction) {
                    v.k = gen_value::kind::null;
                }
            }
            for (const auto& p : s_.problems) {
                if (p.field != i || !active(p, offset, group)) continue;
                if (p.type == problem_type::missing_field) {
                    if (rng_.chance(p.fraction)) v.k = gen_value::kind::none;
                } else if (p.type == problem_type::out_of_range) {
                    if (rng_.chance(p.fraction)) v = problem_value(f, p);
                } else if (p.type == problem_type::level_shift) {
                    if (rng_.chance(p.fraction) && v.k == gen_value::kind::number) {
                        v.num *= p.factor;
                    }
                } else if (p.type == problem_type::stuck_value) {
                    gen_value& frozen =
                        frozen_[p.frozen_base + (p.group ? 0 : static_cast<std::size_t>(group))];
                    if (frozen.k == gen_value::kind::none) {
                        if (p.value) {
                            frozen = problem_value(f, p);
                        } else {
                            const gen_value& last = last_[group * s_.stuck_lasts + f.last_slot];
                            frozen = last.k != gen_value::kind::none ? last : v;
                            if (frozen.k == gen_value::kind::none) frozen.k = gen_value::kind::null;
                        }
                    }
                    if (rng_.chance(p.fraction)) v = frozen;
                }
            }
            if (f.last_slot != npos && v.k != gen_value::kind::none &&
                v.k != gen_value::kind::null) {
                last_[group * s_.stuck_lasts + f.last_slot] = v;
            }
            if (v.k == gen_value::kind::none) continue;
            buf_.append(f.key);
            render_value(f, v);
        }
        buf_.append("}\n");
    }

    void append_chars(const char* from, const char* to) {
        buf_.append(std::string_view(from, static_cast<std::size_t>(to - from)));
    }

    void append_integer(std::uint64_t n) {
        char buf[24];
        const auto r = std::to_chars(buf, buf + sizeof buf, n);
        append_chars(buf, r.ptr);
    }

    void render_value(const field_config& f, const gen_value& v) {
        switch (v.k) {
            case gen_value::kind::none:
            case gen_value::kind::null:
                buf_.append("null");
                return;
            case gen_value::kind::choice:
                buf_.append(f.values[v.bits]);
                return;
            case gen_value::kind::boolean:
                buf_.append(v.bits != 0 ? "true" : "false");
                return;
            case gen_value::kind::time: {
                char ts[26];
                ts[0] = '"';
                time::format_rfc3339_ms(static_cast<time::timestamp_ns>(v.bits), ts + 1);
                ts[25] = '"';
                buf_.append(std::string_view(ts, sizeof ts));
                return;
            }
            case gen_value::kind::number_text:
                buf_.push_back('"');
                append_shortest(buf_, v.num);
                buf_.push_back('"');
                return;
            case gen_value::kind::text: {
                static constexpr char alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
                buf_.push_back('"');
                std::uint64_t x = v.bits;
                for (std::size_t i = 0; i < f.length; ++i) {
                    buf_.push_back(alphabet[splitmix64(x) % 36]);
                }
                buf_.push_back('"');
                return;
            }
            case gen_value::kind::number:
                break;
        }
        char buf[512];
        if (f.type != field_type::number) {
            const double clamped = std::clamp(std::round(v.num), -9.0e18, 9.0e18);
            const auto r = std::to_chars(buf, buf + sizeof buf, static_cast<std::int64_t>(clamped));
            append_chars(buf, r.ptr);
            return;
        }
        const auto r =
            std::to_chars(buf, buf + sizeof buf, v.num, std::chars_format::fixed, f.decimals);
        append_chars(buf, r.ec == std::errc() ? r.ptr : buf);
    }

    settings s_;
    asio::any_io_executor executor_;
    bool once_;
    wall_clock clock_;
    asio::steady_timer timer_;
    input_events* events_ = nullptr;

    prng rng_;
    std::uint64_t slot_ = 0;
    std::uint64_t emitted_ = 0;
    std::optional<time::timestamp_ns> start_;
    std::vector<double> walk_;       // [group][walk field]
    std::vector<gen_value> last_;    // [group][stuck field]: the last non-null value sent
    std::vector<gen_value> frozen_;  // per stuck_value problem (and group)

    padded_buffer buf_;
    std::chrono::steady_clock::time_point pace_start_;
    std::uint64_t released_ = 0;
    bool started_ = false;
    bool paused_ = false;
    bool stopped_ = false;
    bool ended_ = false;
};

}  // namespace

std::unique_ptr<input> make_generator_input(const params::reader& p, const input_context& ctx) {
    return make_facade<generator_impl>(read_settings(p), ctx);
}

}  // namespace weir::connectors
