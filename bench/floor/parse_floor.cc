// The parse floor of the end-to-end benchmarks: reads a JSON-lines file with simdjson
// On-Demand and extracts the fields a workload reads, and nothing else, as fast as it can.
//
//   weir_parse_floor FILE [--time FIELD] FIELD...
//
// Numbers are summed, strings' lengths are summed and the --time field (RFC 3339 UTC, the
// generator's fixed layout) is turned into epoch milliseconds, so the compiler cannot drop any
// of the work. Prints one JSON line with the counts and the checksum.
#include <simdjson.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace {

constexpr std::size_t k_chunk = 16 << 20;

int digits(std::string_view s, std::size_t at, std::size_t n) {
    int v = 0;
    for (std::size_t i = at; i < at + n && i < s.size(); ++i) v = v * 10 + (s[i] - '0');
    return v;
}

// Days from 1970-01-01 of a proleptic Gregorian date.
std::int64_t days_from_civil(int y, unsigned m, unsigned d) {
    y -= m <= 2 ? 1 : 0;
    const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
    const auto yoe = static_cast<unsigned>(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

// YYYY-MM-DDTHH:MM:SS.mmmZ; anything shorter counts as 0 (a floor, not a validator).
std::int64_t rfc3339_ms(std::string_view s) {
    if (s.size() < 20) return 0;
    const std::int64_t days =
        days_from_civil(digits(s, 0, 4), static_cast<unsigned>(digits(s, 5, 2)),
                        static_cast<unsigned>(digits(s, 8, 2)));
    const std::int64_t secs =
        days * 86400 + digits(s, 11, 2) * 3600 + digits(s, 14, 2) * 60 + digits(s, 17, 2);
    return secs * 1000 + (s.size() >= 23 && s[19] == '.' ? digits(s, 20, 3) : 0);
}

struct totals {
    std::uint64_t records = 0;
    std::uint64_t errors = 0;
    std::uint64_t nulls = 0;
    std::uint64_t absent = 0;
    double number_sum = 0;
    std::uint64_t string_bytes = 0;
    std::int64_t time_sum = 0;
};

void extract(simdjson::ondemand::document_reference doc, std::string_view time_field,
             const std::vector<std::string>& fields, totals& t) {
    simdjson::ondemand::object obj;
    if (doc.get_object().get(obj) != simdjson::SUCCESS) {
        ++t.errors;
        return;
    }
    if (!time_field.empty()) {
        std::string_view ts;
        if (obj.find_field_unordered(time_field).get_string().get(ts) == simdjson::SUCCESS) {
            t.time_sum += rfc3339_ms(ts);
        } else {
            ++t.errors;
        }
    }
    for (const std::string& f : fields) {
        simdjson::ondemand::value v;
        if (obj.find_field_unordered(f).get(v) != simdjson::SUCCESS) {
            ++t.absent;
            continue;
        }
        simdjson::ondemand::json_type type;
        if (v.type().get(type) != simdjson::SUCCESS) {
            ++t.errors;
            continue;
        }
        switch (type) {
            case simdjson::ondemand::json_type::number: {
                double d;
                if (v.get_double().get(d) == simdjson::SUCCESS) {
                    t.number_sum += d;
                } else {
                    ++t.errors;
                }
                break;
            }
            case simdjson::ondemand::json_type::string: {
                std::string_view s;
                if (v.get_string().get(s) == simdjson::SUCCESS) {
                    t.string_bytes += s.size();
                } else {
                    ++t.errors;
                }
                break;
            }
            case simdjson::ondemand::json_type::null:
                ++t.nulls;
                break;
            default:
                break;
        }
    }
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 3) {
        std::fprintf(stderr, "usage: weir_parse_floor FILE [--time FIELD] FIELD...\n");
        return 64;
    }
    std::string time_field;
    std::vector<std::string> fields;
    for (int i = 2; i < argc; ++i) {
        if (std::strcmp(argv[i], "--time") == 0 && i + 1 < argc) {
            time_field = argv[++i];
        } else {
            fields.emplace_back(argv[i]);
        }
    }
    std::FILE* in = std::fopen(argv[1], "rb");
    if (in == nullptr) {
        std::perror(argv[1]);
        return 1;
    }
    // Read in large chunks; complete lines go to iterate_many, the partial last line is
    // carried over to the next chunk (as a streaming reader must).
    std::vector<char> buf(k_chunk + simdjson::SIMDJSON_PADDING);
    std::size_t carried = 0;
    std::uint64_t bytes = 0;
    totals t;
    simdjson::ondemand::parser parser;
    bool eof = false;
    while (!eof) {
        const std::size_t got = std::fread(buf.data() + carried, 1, k_chunk - carried, in);
        bytes += got;
        eof = got < k_chunk - carried;
        std::size_t len = carried + got;
        std::size_t complete = len;
        if (!eof) {
            while (complete > 0 && buf[complete - 1] != '\n') --complete;
            if (complete == 0) {
                std::fprintf(stderr, "error: a line longer than %zu bytes\n", k_chunk);
                return 1;
            }
        }
        if (complete > 0) {
            simdjson::ondemand::document_stream stream;
            if (parser.iterate_many(buf.data(), complete, 1 << 20).get(stream) !=
                simdjson::SUCCESS) {
                std::fprintf(stderr, "error: iterate_many failed\n");
                return 1;
            }
            for (auto it = stream.begin(); it != stream.end(); ++it) {
                simdjson::ondemand::document_reference doc;
                if ((*it).get(doc) != simdjson::SUCCESS) {
                    ++t.errors;
                    continue;
                }
                ++t.records;
                extract(doc, time_field, fields, t);
            }
        }
        carried = len - complete;
        std::memmove(buf.data(), buf.data() + complete, carried);
    }
    std::fclose(in);
    std::printf(
        "{\"records\":%llu,\"bytes\":%llu,\"errors\":%llu,\"nulls\":%llu,\"absent\":%llu,"
        "\"number_sum\":%.17g,\"string_bytes\":%llu,\"time_sum\":%lld}\n",
        static_cast<unsigned long long>(t.records), static_cast<unsigned long long>(bytes),
        static_cast<unsigned long long>(t.errors), static_cast<unsigned long long>(t.nulls),
        static_cast<unsigned long long>(t.absent), t.number_sum,
        static_cast<unsigned long long>(t.string_bytes), static_cast<long long>(t.time_sum));
    return t.errors == 0 ? 0 : 1;
}
