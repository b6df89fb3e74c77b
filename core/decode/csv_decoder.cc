// CSV decoding; see csv_decoder.h. One pass per record finds the cells' extents (quote-aware,
// so a record may span lines); only the cells of referenced columns are then turned into
// values, and only cells with doubled quotes are copied.
#include "core/decode/csv_decoder.h"

#include <cstring>
#include <stdexcept>

namespace weir::decode {

namespace {

constexpr char k_bom[] = "\xEF\xBB\xBF";
constexpr std::size_t k_bom_size = 3;

}  // namespace

struct csv_decoder::impl {
    struct cell {
        const char* begin;
        const char* end;  // the text, quotes excluded
        bool quoted;
        bool doubled;  // holds doubled quotes: must be unquoted into the arena
    };

    struct scan_result {
        bool complete = false;
        bool malformed = false;
        const char* record_end = nullptr;  // line end excluded
        const char* next = nullptr;        // first byte after the record's line end
    };

    csv_decoder_options options;
    std::vector<std::string> keys;    // per slot: the column name it reads
    std::vector<std::string> names;   // the columns, once known
    std::vector<std::string> header;  // the header row's own cells (with configured columns too)
    std::vector<int> slot_column;     // per slot: the column index, or -1
    bool header_due = true;
    bool at_start = true;     // nothing of the stream seen yet (a BOM may come)
    bool discarding = false;  // skipping the rest of a too-long record up to the next LF
    std::vector<cell> cells;  // of the record being decoded; reused

    impl(const std::vector<field_path>& fields, csv_decoder_options opts)
        : options(std::move(opts)) {
        const char d = options.delimiter;
        const char q = options.quote;
        if (d == q) throw std::invalid_argument("csv: the quote must differ from the delimiter");
        if (d == '\n' || d == '\r' || q == '\n' || q == '\r') {
            throw std::invalid_argument("csv: the delimiter and quote cannot be line ends");
        }
        if (!options.header && options.columns.empty()) {
            throw std::invalid_argument("csv: without a header, columns must name the columns");
        }
        for (const auto& f : fields) {
            std::string key;
            for (const auto& segment : f.segments) {
                if (!key.empty()) key += '.';
                key += segment;
            }
            keys.push_back(std::move(key));
        }
        reset();
    }

    void reset() {
        at_start = true;
        discarding = false;
        header_due = options.header;
        if (options.columns.empty()) {
            names.clear();
        } else {
            names = options.columns;
        }
        map_slots();
    }

    void map_slots() {
        slot_column.assign(keys.size(), -1);
        for (std::size_t s = 0; s < keys.size(); ++s) {
            for (std::size_t c = 0; c < names.size(); ++c) {
                if (names[c] == keys[s]) {
                    slot_column[s] = static_cast<int>(c);
                    break;  // a name given twice: the first column wins
                }
            }
        }
    }

    // Finds the extent of the record starting at `p` and its cells. Incomplete when the data
    // ends inside the record and more may come (`!final`).
    scan_result scan(const char* p, const char* end, bool final) {
        cells.clear();
        scan_result r;
        const char delim = options.delimiter;
        const char quote = options.quote;
        const char* q = p;
        for (;;) {
            cell c{q, q, false, false};
            if (q < end && *q == quote) {
                c.quoted = true;
                c.begin = ++q;
                for (;;) {
                    const auto* hit = static_cast<const char*>(std::memchr(q, quote, end - q));
                    if (hit == nullptr) {
                        if (!final) return r;
                        // An unclosed quote at the end of the data.
                        c.end = end;
                        cells.push_back(c);
                        r.complete = true;
                        r.malformed = true;
                        r.record_end = r.next = end;
                        return r;
                    }
                    if (hit + 1 < end && hit[1] == quote) {
                        c.doubled = true;
                        q = hit + 2;
                        continue;
                    }
                    if (hit + 1 == end && !final) return r;  // the next byte may be a quote
                    c.end = hit;
                    q = hit + 1;
                    break;
                }
                // After the closing quote only a delimiter or a line end may come.
                if (q < end && *q == '\r') {
                    if (q + 1 == end) {
                        if (!final) return r;
                        ++q;
                    } else if (q[1] == '\n') {
                        ++q;
                    }
                }
                if (q < end && *q != delim && *q != '\n') {
                    r.malformed = true;
                    while (q < end && *q != delim && *q != '\n') ++q;
                }
            } else {
                while (q < end && *q != delim && *q != '\n') ++q;
                c.end = q;
                const bool at_line_end = q == end ? final : *q == '\n';
                if (at_line_end && c.end > c.begin && c.end[-1] == '\r') --c.end;
            }
            cells.push_back(c);
            if (q == end) {
                if (!final) return r;
                r.record_end = end;
                r.next = end;
                break;
            }
            if (*q == delim) {
                ++q;
                continue;
            }
            r.record_end = q > p && q[-1] == '\r' ? q - 1 : q;
            r.next = q + 1;
            break;
        }
        r.complete = true;
        return r;
    }

    bool blank() const {
        return cells.size() == 1 && !cells[0].quoted && cells[0].begin == cells[0].end;
    }

    static std::string_view unquote(const cell& c, char quote, arena& strings) {
        const std::size_t n = static_cast<std::size_t>(c.end - c.begin);
        char* out = strings.allocate(n);
        std::size_t k = 0;
        for (const char* s = c.begin; s < c.end; ++s) {
            out[k++] = *s;
            if (*s == quote && s + 1 < c.end && s[1] == quote) ++s;
        }
        return {out, k};
    }

    void take_header() {
        header.clear();
        for (const cell& c : cells) {
            if (!c.doubled) {
                header.emplace_back(c.begin, c.end);
                continue;
            }
            std::string name;
            for (const char* s = c.begin; s < c.end; ++s) {
                name += *s;
                if (*s == options.quote && s + 1 < c.end && s[1] == options.quote) ++s;
            }
            header.push_back(std::move(name));
        }
        if (!options.columns.empty()) return;  // configured names replace the header's
        names = header;
        map_slots();
    }

    // The header row again (a file rotated in, or appended to another, brings its own):
    // skipped, not a record. Cheap: the first cells of data rows rarely match.
    bool repeats_header() const {
        if (header.empty() || cells.size() != header.size()) return false;
        for (std::size_t i = 0; i < cells.size(); ++i) {
            const cell& c = cells[i];
            if (c.doubled) return false;
            if (std::string_view(c.begin, static_cast<std::size_t>(c.end - c.begin)) != header[i]) {
                return false;
            }
        }
        return true;
    }

    field_value value_of(const cell& c, record_batch& batch) const {
        if (!c.quoted && c.begin == c.end) return field_value::make_null();
        const std::string_view text =
            c.doubled ? unquote(c, options.quote, batch.strings)
                      : std::string_view(c.begin, static_cast<std::size_t>(c.end - c.begin));
        for (const auto& n : options.null_values) {
            if (text == n) return field_value::make_null();
        }
        return field_value::make_string(text);
    }

    void emit(const scan_result& s, const char* p, record_batch& batch) {
        const std::size_t index = batch.add_record();
        if (static_cast<std::size_t>(s.record_end - p) > options.max_record_size) {
            batch.status[index] = invalid_reason::too_long;
            return;
        }
        if (s.malformed || cells.size() != names.size()) {
            batch.status[index] = invalid_reason::malformed;
            return;
        }
        field_value* record = batch.values.data() + index * batch.slots;
        for (std::size_t slot = 0; slot < slot_column.size(); ++slot) {
            const int column = slot_column[slot];
            if (column >= 0)
                record[slot] = value_of(cells[static_cast<std::size_t>(column)], batch);
        }
    }

    // Decodes records from `data`; `batch` is null when only the header is wanted.
    csv_decode_result run(std::string_view data, record_batch* batch, bool final,
                          std::vector<std::string_view>* rows = nullptr) {
        const char* const begin = data.data();
        const char* p = begin;
        const char* const end = begin + data.size();
        csv_decode_result result;
        if (discarding) {
            const auto* nl = static_cast<const char*>(std::memchr(p, '\n', end - p));
            if (nl == nullptr) {
                discarding = !final;
                result.consumed = data.size();
                return result;
            }
            discarding = false;
            p = nl + 1;
        }
        if (at_start && p < end) {
            const std::size_t n = std::min<std::size_t>(k_bom_size, end - p);
            if (std::memcmp(p, k_bom, n) == 0) {
                if (n < k_bom_size && !final) return result;  // maybe a BOM: wait for more
                if (n == k_bom_size) p += k_bom_size;
            }
            at_start = false;
        }
        while (p < end) {
            const scan_result s = scan(p, end, final);
            if (!s.complete) {
                if (batch == nullptr ||
                    static_cast<std::size_t>(end - p) <= options.max_record_size) {
                    break;
                }
                // Too long already: report it now and resynchronise at the next line feed,
                // so a runaway quote cannot make the caller buffer without bound.
                batch->status[batch->add_record()] = invalid_reason::too_long;
                if (rows) rows->emplace_back();
                ++result.records;
                const auto* nl = static_cast<const char*>(std::memchr(p, '\n', end - p));
                if (nl == nullptr) {
                    discarding = true;
                    p = end;
                    break;
                }
                p = nl + 1;
                continue;
            }
            const char* record_start = p;
            p = s.next;
            if (blank()) continue;
            if (header_due) {
                take_header();
                header_due = false;
                if (batch == nullptr) break;
                continue;
            }
            if (batch == nullptr) break;
            if (options.header && repeats_header()) continue;
            emit(s, record_start, *batch);
            if (rows) {
                rows->emplace_back(record_start,
                                   static_cast<std::size_t>(s.record_end - record_start));
            }
            ++result.records;
        }
        result.consumed = static_cast<std::size_t>(p - begin);
        return result;
    }
};

csv_decoder::csv_decoder(const std::vector<field_path>& fields, csv_decoder_options options)
    : impl_(std::make_unique<impl>(fields, std::move(options))) {}
csv_decoder::~csv_decoder() = default;
csv_decoder::csv_decoder(csv_decoder&&) noexcept = default;
csv_decoder& csv_decoder::operator=(csv_decoder&&) noexcept = default;

csv_decode_result csv_decoder::decode(std::string_view data, record_batch& out, bool end_of_data,
                                      std::vector<std::string_view>* rows) {
    out.slots = impl_->keys.size();
    return impl_->run(data, &out, end_of_data, rows);
}

bool csv_decoder::row_cells(std::string_view row,
                            std::vector<std::pair<std::string_view, field_value>>& out,
                            arena& strings) {
    if (impl_->header_due) return false;
    const impl::scan_result s = impl_->scan(row.data(), row.data() + row.size(), true);
    if (s.malformed || impl_->cells.size() != impl_->names.size()) return false;
    for (std::size_t i = 0; i < impl_->cells.size(); ++i) {
        const impl::cell& c = impl_->cells[i];
        field_value v = field_value::make_null();
        if (c.quoted || c.begin != c.end) {
            const std::string_view text =
                c.doubled ? impl::unquote(c, impl_->options.quote, strings)
                          : std::string_view(c.begin, static_cast<std::size_t>(c.end - c.begin));
            bool null = false;
            for (const auto& n : impl_->options.null_values) null = null || text == n;
            if (!null) v = field_value::make_string(text);
        }
        out.emplace_back(impl_->names[i], v);
    }
    return true;
}

bool csv_decoder::decode_record(std::string_view record, record_batch& out) {
    out.slots = impl_->keys.size();
    if (!record.empty() && record.back() == '\n') {
        record.remove_suffix(1);
        if (!record.empty() && record.back() == '\r') record.remove_suffix(1);
    }
    const char* p = record.data();
    const char* end = p + record.size();
    const impl::scan_result s = impl_->scan(p, end, true);
    if (impl_->header_due) {
        impl_->take_header();
        impl_->header_due = false;
        return false;
    }
    impl::scan_result checked = s;
    if (s.next != end) checked.malformed = true;  // a second record inside one message
    impl_->emit(checked, p, out);
    return true;
}

std::size_t csv_decoder::header_from(std::string_view data) {
    if (!impl_->options.header) return 0;
    impl_->reset();
    const csv_decode_result r = impl_->run(data, nullptr, false);
    if (impl_->header_due) {
        impl_->reset();
        return 0;
    }
    return r.consumed;
}

void csv_decoder::set_header(std::string_view row) {
    if (row.size() >= k_bom_size && std::memcmp(row.data(), k_bom, k_bom_size) == 0) {
        row.remove_prefix(k_bom_size);
    }
    impl_->scan(row.data(), row.data() + row.size(), true);
    impl_->take_header();
    impl_->header_due = false;
    impl_->at_start = false;
}

void csv_decoder::reset() {
    impl_->reset();
}

std::string csv_decoder::header_row() const {
    std::string row;
    if (!impl_->options.header || impl_->header_due) return row;
    const char q = impl_->options.quote;
    for (std::size_t i = 0; i < impl_->header.size(); ++i) {
        if (i > 0) row += impl_->options.delimiter;
        row += q;
        for (const char c : impl_->header[i]) {
            row += c;
            if (c == q) row += q;
        }
        row += q;
    }
    return row;
}

bool csv_decoder::header_known() const {
    return !impl_->header_due;
}
const std::vector<std::string>& csv_decoder::columns() const {
    return impl_->names;
}
std::size_t csv_decoder::slots() const {
    return impl_->keys.size();
}

std::vector<std::size_t> csv_decoder::unmatched_slots() const {
    std::vector<std::size_t> out;
    for (std::size_t s = 0; s < impl_->slot_column.size(); ++s) {
        if (impl_->slot_column[s] < 0) out.push_back(s);
    }
    return out;
}

}  // namespace weir::decode
