// The process-wide table of interned texts; see interned_text.h.
#include "core/result/interned_text.h"

#include <deque>
#include <mutex>
#include <unordered_map>

#include "core/result/check_result.h"

namespace weir {

namespace {

struct intern_table {
    std::mutex mutex;
    std::deque<interned_text::entry> entries;  // stable addresses
    std::unordered_map<std::string_view, const interned_text::entry*> by_text;
};

intern_table& table() {
    // Never destroyed: results may be destroyed by other static destructors after it would be.
    static intern_table* const t = new intern_table;
    return *t;
}

interned_text::entry make_entry(std::string_view text) {
    interned_text::entry e;
    e.text = std::string(text);
    append_json_string(text, e.json);
    return e;
}

}  // namespace

const interned_text::entry& interned_text::empty_entry() {
    static const entry* const empty = new entry(make_entry({}));
    return *empty;
}

interned_text::interned_text(std::string_view text) {
    if (text.empty()) return;  // entry_ stays null
    intern_table& t = table();
    std::lock_guard lock(t.mutex);
    if (auto it = t.by_text.find(text); it != t.by_text.end()) {
        entry_ = it->second;
        return;
    }
    const entry& e = t.entries.emplace_back(make_entry(text));
    t.by_text.emplace(e.text, &e);
    entry_ = &e;
}

}  // namespace weir
