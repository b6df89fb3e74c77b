// Random field-value streams for accumulator tests: every kind, the awkward cases (absent,
// null, "", NaN, +-inf, -0.0, wrong types, multi-byte UTF-8) and enough repeats for
// duplicates. The stream owns its strings, so the field_values stay valid while it lives.
#pragma once

#include <algorithm>
#include <deque>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "core/record/field_value.h"

namespace weir::test {

struct value_stream {
    std::deque<std::string> storage;  // deque: growing it never moves the strings
    std::vector<field_value> values;

    void push_string(std::string s) {
        storage.push_back(std::move(s));
        values.push_back(field_value::make_string(storage.back()));
    }
};

// `numeric_bias` in [0, 1]: share of plain numbers among the values.
inline value_stream random_values(std::mt19937_64& rng, std::size_t n, double numeric_bias = 0.6) {
    static const char* const words[] = {
        "a",           "b",  "N/A", "ok", "h\xc3\xa9llo",     "\xe2\x82\xac",
        "spaces here", "zz", "0",   "1",  "\xf0\x9f\x98\x80x"};
    value_stream s;
    std::uniform_real_distribution<double> unit(0, 1);
    std::normal_distribution<double> normal(50, 20);
    for (std::size_t i = 0; i < n; ++i) {
        const double r = unit(rng);
        if (r < numeric_bias) {
            // Half small integers (duplicates), half continuous values.
            if (unit(rng) < 0.5) {
                s.values.push_back(field_value::make_number(static_cast<double>(rng() % 20)));
            } else {
                s.values.push_back(field_value::make_number(normal(rng)));
            }
            continue;
        }
        switch (rng() % 12) {
            case 0:
                s.values.push_back(field_value::make_absent());
                break;
            case 1:
                s.values.push_back(field_value::make_null());
                break;
            case 2:
                s.push_string("");
                break;
            case 3:
                s.values.push_back(
                    field_value::make_number(std::numeric_limits<double>::quiet_NaN()));
                break;
            case 4:
                s.values.push_back(field_value::make_number(
                    (rng() & 1 ? 1 : -1) * std::numeric_limits<double>::infinity()));
                break;
            case 5:
                s.values.push_back(field_value::make_number(-0.0));
                break;
            case 6:
                s.values.push_back(field_value::make_other());
                break;
            case 7:
                s.values.push_back(field_value::make_boolean(rng() & 1));
                break;
            default:
                s.push_string(words[rng() % std::size(words)]);
                break;
        }
    }
    return s;
}

// Splits [0, n) into 1..max_panes contiguous panes; returns the pane boundaries.
inline std::vector<std::size_t> random_panes(std::mt19937_64& rng, std::size_t n,
                                             std::size_t max_panes = 8) {
    const std::size_t panes = 1 + rng() % max_panes;
    std::vector<std::size_t> cuts = {0, n};
    for (std::size_t i = 1; i < panes; ++i) cuts.push_back(n == 0 ? 0 : rng() % (n + 1));
    std::sort(cuts.begin(), cuts.end());
    return cuts;
}

// Merges accumulators in a random tree. Commutative: any two, either way round. Otherwise
// (order-preserving merges) only neighbours, the earlier absorbing the later — which still
// exercises associativity.
template <class Acc, class Merge>
Acc merge_randomly(std::mt19937_64& rng, std::vector<Acc> parts, bool commutative, Merge merge) {
    while (parts.size() > 1) {
        std::size_t i = rng() % parts.size();
        std::size_t j;
        if (commutative) {
            j = rng() % (parts.size() - 1);
            if (j >= i) ++j;
        } else {
            if (i + 1 == parts.size()) --i;
            j = i + 1;
        }
        merge(parts[i], parts[j]);
        parts.erase(parts.begin() + static_cast<std::ptrdiff_t>(j));
    }
    return std::move(parts.front());
}

}  // namespace weir::test

#include <gtest/gtest.h>

#include "core/checkpoint/byte_codec.h"

namespace weir::test {

// Serialises `acc`, reads it back into a fresh Acc, and checks that every strict prefix of the
// bytes is rejected (a torn checkpoint is an error, never a silently different state).
template <class Acc>
Acc round_trip(const Acc& acc) {
    byte_writer w;
    acc.serialize(w);
    const std::string bytes = w.take();
    Acc back;
    byte_reader r(bytes);
    EXPECT_TRUE(back.deserialize(r));
    EXPECT_TRUE(r.ok());
    EXPECT_TRUE(r.at_end());
    // Prefixes: all of them for small states, a sample for big ones.
    const std::size_t step = bytes.size() > 256 ? bytes.size() / 97 + 1 : 1;
    for (std::size_t cut = 0; cut < bytes.size(); cut += step) {
        Acc partial;
        byte_reader pr(std::string_view(bytes).substr(0, cut));
        EXPECT_FALSE(partial.deserialize(pr) && pr.ok()) << "prefix of " << cut << " bytes";
    }
    return back;
}

}  // namespace weir::test
