// Helpers shared by the output tests: parameter trees built by hand, a sample check result,
// temporary directories and a bounded event loop.
#pragma once

#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "connectors/runtime.h"
#include "core/params/value.h"
#include "core/result/check_result.h"

namespace weir::connectors::testing {

inline params::value scalar(std::string text) {
    params::value v;
    v.type = params::value::kind::scalar;
    v.text = std::move(text);
    v.pos = {"t.yaml", 1, 1};
    return v;
}

inline params::value mapping(std::vector<std::pair<std::string, params::value>> entries) {
    params::value v;
    v.type = params::value::kind::mapping;
    v.pos = {"t.yaml", 1, 1};
    for (auto& [key, val] : entries) v.entries.push_back({key, {"t.yaml", 1, 1}, std::move(val)});
    return v;
}

// 2026-11-20T10:00:00Z
inline constexpr time::timestamp_ns t0 = 1'795'168'800'000'000'000;

inline check_result sample_result(outcome o = outcome::fail, std::string device = "d-17") {
    check_result r;
    r.pipeline = "sensors";
    r.node = "quality";
    r.check = "volume";
    r.window_start = t0;
    r.window_end = t0 + 60 * time::ns_per_s;
    if (!device.empty()) r.group = {{"device_id", measure_value::make_string(std::move(device))}};
    r.measure = "count()";
    r.value = measure_value::make_number(42);
    r.must_be = "> 50";
    r.outcome = o;
    r.records = 42;
    r.emitted_at = t0 + 70 * time::ns_per_s + 204 * time::ns_per_ms;
    return r;
}

inline std::string json_line(const check_result& r) {
    std::string out;
    append_json(r, out);
    out += '\n';
    return out;
}

inline std::string read_file(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

// A fresh directory under TMPDIR, removed with everything in it at scope exit.
class temp_dir {
  public:
    temp_dir() {
        std::string pattern =
            (std::filesystem::temp_directory_path() / "weir-out-test-XXXXXX").string();
        if (::mkdtemp(pattern.data()) == nullptr) std::abort();
        path_ = pattern;
    }
    ~temp_dir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;
    const std::filesystem::path& path() const { return path_; }

  private:
    std::filesystem::path path_;
};

// Runs `io` until `done()` or `limit` passed; returns done(). Never waits unbounded.
inline bool run_until(boost::asio::io_context& io, const std::function<bool()>& done,
                      std::chrono::milliseconds limit = std::chrono::seconds(10)) {
    const auto end = std::chrono::steady_clock::now() + limit;
    while (!done() && std::chrono::steady_clock::now() < end) {
        io.restart();
        io.run_for(std::chrono::milliseconds(5));
    }
    return done();
}

// What an output's flush answered, once it did.
struct flush_answer {
    bool answered = false;
    bool ok = false;
    std::string error;
};

// Flushes `out` and runs `io` until the flush answers (at most 10 s; `answered` says whether it
// did).
inline flush_answer flush_and_wait(boost::asio::io_context& io, output& out) {
    flush_answer a;
    out.flush([&a](bool ok, const std::string& error) {
        a.answered = true;
        a.ok = ok;
        a.error = error;
    });
    run_until(io, [&a] { return a.answered; });
    return a;
}

// Runs `io` for `d` (to see that nothing more happens, or to let timers fire).
inline void run_for(boost::asio::io_context& io, std::chrono::milliseconds d) {
    const auto end = std::chrono::steady_clock::now() + d;
    while (std::chrono::steady_clock::now() < end) {
        io.restart();
        io.run_for(std::chrono::milliseconds(5));
    }
}

}  // namespace weir::connectors::testing
