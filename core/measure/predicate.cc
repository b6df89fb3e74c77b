// Set-up and matching of in_set and matches, and the predicate counters' serialisation.
#include "core/measure/predicate.h"

#include <re2/re2.h>

#include <algorithm>
#include <cmath>

namespace weir::measure {

void in_set_config::add_number(double d) {
    if (std::isnan(d)) return;  // NaN equals nothing, so it can never be matched
    numbers_.push_back(d == 0.0 ? 0.0 : d);
}

void in_set_config::add_string(std::string_view s) {
    strings_.emplace_back(s);
}

void in_set_config::add_boolean(bool b) {
    (b ? has_true_ : has_false_) = true;
}

void in_set_config::finish() {
    std::sort(numbers_.begin(), numbers_.end());
    numbers_.erase(std::unique(numbers_.begin(), numbers_.end()), numbers_.end());
    std::sort(strings_.begin(), strings_.end());
    strings_.erase(std::unique(strings_.begin(), strings_.end()), strings_.end());
}

bool in_set_config::test(const field_value& v) const {
    switch (v.kind) {
        case value_kind::number:
            // NaN compares unordered with everything, which binary_search would take as found.
            if (std::isnan(v.number)) return false;
            return std::binary_search(numbers_.begin(), numbers_.end(), v.number);
        case value_kind::string: {
            const std::string_view s = v.string();
            auto it = std::lower_bound(
                strings_.begin(), strings_.end(), s,
                [](const std::string& a, std::string_view b) { return std::string_view(a) < b; });
            return it != strings_.end() && std::string_view(*it) == s;
        }
        case value_kind::boolean:
            return v.boolean ? has_true_ : has_false_;
        default:
            return false;
    }
}

std::shared_ptr<const matches_config> matches_config::compile(std::string_view pattern,
                                                              std::string* error, bool search) {
    std::shared_ptr<matches_config> c(new matches_config());
    c->pattern_ = std::string(pattern);
    c->search_ = search;
    RE2::Options options;
    options.set_log_errors(false);
    c->re_ = std::make_unique<RE2>(re2::StringPiece(pattern.data(), pattern.size()), options);
    if (!c->re_->ok()) {
        if (error) *error = c->re_->error();
        return nullptr;
    }
    return c;
}

matches_config::~matches_config() = default;

bool matches_config::test(const field_value& v) const {
    if (v.kind != value_kind::string) return false;
    const re2::StringPiece text(v.chars, v.length);
    return search_ ? RE2::PartialMatch(text, *re_) : RE2::FullMatch(text, *re_);
}

void predicate_acc::serialize(byte_writer& w) const {
    w.varint(present);
    w.varint(hits);
}

bool predicate_acc::deserialize(byte_reader& r) {
    present = r.varint();
    hits = r.varint();
    if (hits > present) r.fail();
    return r.ok();
}

}  // namespace weir::measure
