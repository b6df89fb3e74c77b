// Test helper shared by the config and connectors tests: every parameter declaration is
// documented, named in snake_case, and its default parses as its own type.
#pragma once

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "core/params/spec.h"

namespace weir::test {

inline bool is_snake_case(const std::string& s) {
    if (s.empty() || s[0] < 'a' || s[0] > 'z') return false;
    for (char c : s) {
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
    }
    return true;
}

inline void expect_documented(const params::object_spec& spec, const std::string& path) {
    EXPECT_FALSE(spec.name.empty()) << path;
    EXPECT_FALSE(spec.description.empty()) << path;
    params::value empty;
    empty.type = params::value::kind::mapping;
    const params::reader r(spec, empty);
    for (const auto& p : spec.params) {
        const std::string at = path + "." + p.name;
        EXPECT_FALSE(p.description.empty()) << at;
        EXPECT_TRUE(is_snake_case(p.name)) << at;
        if (p.object) expect_documented(*p.object, at);
        if (p.required) {
            EXPECT_TRUE(p.default_text.empty()) << at << ": required with a default";
        }
        if (p.default_text.empty()) continue;
        EXPECT_NO_THROW({
            switch (p.type) {
                case params::param_type::integer:
                    (void)r.integer(p.name);
                    break;
                case params::param_type::number:
                    (void)r.number(p.name);
                    break;
                case params::param_type::boolean:
                    (void)r.boolean(p.name);
                    break;
                case params::param_type::duration:
                    (void)r.duration(p.name);
                    break;
                case params::param_type::size:
                    (void)r.size(p.name);
                    break;
                default:
                    (void)r.string(p.name);
                    break;
            }
        }) << at;
        if (p.type == params::param_type::enumeration) {
            EXPECT_THAT(p.choices, ::testing::Contains(p.default_text)) << at;
        }
        if (p.minimum && p.type == params::param_type::size) {
            EXPECT_GE(static_cast<double>(*params::parse_size(p.default_text)), *p.minimum) << at;
        }
    }
}

}  // namespace weir::test
