#include "core/result/interned_text.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include "core/result/check_result.h"

namespace weir {
namespace {

TEST(interned_text, equal_texts_share_one_copy_however_they_are_made) {
    const std::string built = std::string("vol") + "ume";
    const interned_text a("volume");
    const interned_text b(built);
    const interned_text c{std::string_view(built)};
    EXPECT_EQ(a.data(), b.data());
    EXPECT_EQ(a.data(), c.data());
    EXPECT_EQ(a, b);
    EXPECT_NE(a, interned_text("volumes"));
    EXPECT_NE(a, interned_text("volum"));
    EXPECT_EQ(a.str(), "volume");
    EXPECT_EQ(a.size(), 6u);
}

TEST(interned_text, the_empty_text_is_the_default) {
    const interned_text none;
    EXPECT_TRUE(none.empty());
    EXPECT_EQ(none, interned_text(""));
    EXPECT_EQ(none, std::string());
    EXPECT_EQ(none.json(), "\"\"");
    interned_text t("x");
    t.clear();
    EXPECT_EQ(t, none);
}

TEST(interned_text, compares_with_plain_strings_by_text) {
    const interned_text t("mean(value)");
    EXPECT_TRUE(t == "mean(value)");
    EXPECT_TRUE(t == std::string("mean(value)"));
    EXPECT_TRUE(t == std::string_view("mean(value)"));
    EXPECT_TRUE(std::string("mean(value)") == t);
    EXPECT_FALSE(t == "mean(valu)");
    EXPECT_TRUE(t < "mean(w)");
    EXPECT_TRUE(interned_text("a") < interned_text("b"));
    EXPECT_FALSE(interned_text("b") < interned_text("a"));
    // Ordered by text, not by where the copies live: sets and maps list names alphabetically.
    const std::set<interned_text> names{"zeta", "alpha", "mid", "alpha"};
    EXPECT_EQ(std::vector<std::string>(names.begin(), names.end()),
              (std::vector<std::string>{"alpha", "mid", "zeta"}));
    std::map<interned_text, int, std::less<>> by_name{{"volume", 1}};
    EXPECT_NE(by_name.find(std::string("volume")), by_name.end());
    EXPECT_NE(by_name.find(std::string_view("volume")), by_name.end());
    const std::unordered_set<interned_text> hashed{"volume"};
    EXPECT_TRUE(hashed.contains(interned_text(std::string("volume"))));
}

TEST(interned_text, converts_concatenates_and_prints_as_its_text) {
    const interned_text t("quality");
    const std::string& s = t;
    const std::string_view v = t;
    EXPECT_EQ(s, "quality");
    EXPECT_EQ(v, "quality");
    EXPECT_EQ(t + "/x", "quality/x");
    EXPECT_EQ("x/" + t, "x/quality");
    EXPECT_EQ(std::string("x/") + t, "x/quality");
    EXPECT_EQ(fmt::format("[{}]", t), "[quality]");
    std::ostringstream os;
    os << t;
    EXPECT_EQ(os.str(), "quality");
}

TEST(interned_text, keeps_its_json_literal_escaped_as_the_result_line_writes_strings) {
    for (const std::string& text :
         {std::string("plain"), std::string("quote\"and\\back\nslash\x01"),
          std::string("ü and \t tab"), std::string(40, 'x') + "\"", std::string("\x1f")}) {
        std::string expected;
        append_json_string(text, expected);
        EXPECT_EQ(interned_text(text).json(), expected) << text;
    }
}

TEST(interned_text, threads_interning_the_same_texts_get_the_same_copies) {
    constexpr int k_threads = 4;
    constexpr int k_texts = 500;
    std::vector<std::vector<const char*>> seen(k_threads);
    std::vector<std::thread> threads;
    for (int t = 0; t < k_threads; ++t) {
        threads.emplace_back([t, &seen] {
            for (int i = 0; i < k_texts; ++i) {
                seen[t].push_back(interned_text("concurrent-" + std::to_string(i)).data());
            }
        });
    }
    for (auto& th : threads) th.join();
    for (int t = 1; t < k_threads; ++t) EXPECT_EQ(seen[t], seen[0]);
}

TEST(interned_text, a_result_line_writes_the_interned_literals) {
    check_result r;
    r.pipeline = "p \"1\"";
    r.node = "n";
    r.check = "c\\d";
    r.measure = "count()";
    r.must_be = "> 0";
    r.value = measure_value::make_number(3);
    std::string line;
    append_json(r, line);
    EXPECT_NE(line.find(R"("pipeline":"p \"1\"","node":"n","check":"c\\d",)"), std::string::npos)
        << line;
    EXPECT_NE(line.find(R"x("measure":"count()","value":3,"must_be":"> 0",)x"), std::string::npos)
        << line;
}

}  // namespace
}  // namespace weir
