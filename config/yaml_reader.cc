// yaml-cpp to params::value: positions, duplicate keys, quoting, interpolation, and guards
// against input yaml-cpp accepts but that must not reach the rest of weir (invalid UTF-8,
// alias cycles, alias bombs, absurd nesting).
#include "config/yaml_reader.h"

#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <sstream>
#include <unordered_map>
#include <vector>

#include "config/interpolate.h"

namespace weir::config {

namespace {

// Far beyond any real pipeline file; small enough that an alias bomb fails fast.
constexpr std::size_t max_nodes = 200'000;
constexpr std::size_t max_depth = 100;

struct utf8_problem {
    std::size_t offset;
    std::string message;
};

// The first byte that is not valid UTF-8 or is a control character YAML forbids.
std::optional<utf8_problem> check_utf8(std::string_view s) {
    static const char* hex = "0123456789ABCDEF";
    auto byte_name = [](unsigned char b) { return std::string("0x") + hex[b >> 4] + hex[b & 0xf]; };
    std::size_t i = 0;
    while (i < s.size()) {
        const auto b = static_cast<unsigned char>(s[i]);
        if (b < 0x80) {
            if (b < 0x20 && b != '\t' && b != '\n' && b != '\r') {
                return utf8_problem{i,
                                    "the file contains a control character (" + byte_name(b) + ")"};
            }
            ++i;
            continue;
        }
        std::size_t len = 0;
        std::uint32_t cp = 0;
        if ((b & 0xE0) == 0xC0) {
            len = 2;
            cp = b & 0x1F;
        } else if ((b & 0xF0) == 0xE0) {
            len = 3;
            cp = b & 0x0F;
        } else if ((b & 0xF8) == 0xF0) {
            len = 4;
            cp = b & 0x07;
        }
        bool ok = len > 0 && i + len <= s.size();
        for (std::size_t k = 1; ok && k < len; ++k) {
            const auto c = static_cast<unsigned char>(s[i + k]);
            if ((c & 0xC0) != 0x80) ok = false;
            cp = (cp << 6) | (c & 0x3F);
        }
        // Overlong forms, UTF-16 surrogates and code points past U+10FFFF.
        if (ok) {
            static constexpr std::uint32_t min_for_len[] = {0, 0, 0x80, 0x800, 0x10000};
            ok = cp >= min_for_len[len] && !(cp >= 0xD800 && cp <= 0xDFFF) && cp <= 0x10FFFF;
        }
        if (!ok) {
            return utf8_problem{i, "the file is not valid UTF-8 (byte " + byte_name(b) + ")"};
        }
        i += len;
    }
    return std::nullopt;
}

// 1-based line and byte column of `offset`, as yaml-cpp counts them.
source_pos position_of_offset(std::string_view s, std::size_t offset, const std::string& file) {
    int line = 1, column = 1;
    for (std::size_t i = 0; i < offset && i < s.size(); ++i) {
        if (s[i] == '\n') {
            ++line;
            column = 1;
        } else {
            ++column;
        }
    }
    return {file, line, column};
}

bool is_explicit_null(std::string_view rest) {
    auto token = [&](std::string_view word) {
        if (rest.substr(0, word.size()) != word) return false;
        if (rest.size() == word.size()) return true;
        const char next = rest[word.size()];
        return next == ' ' || next == '\t' || next == '\n' || next == '\r' || next == ',' ||
               next == ':' || next == ']' || next == '}' || next == '#';
    };
    return token("~") || token("null") || token("Null") || token("NULL");
}

std::string kind_name(const YAML::Node& n) {
    switch (n.Type()) {
        case YAML::NodeType::Sequence:
            return "a list";
        case YAML::NodeType::Map:
            return "a mapping";
        default:
            return "nothing";
    }
}

std::string item_path(const std::string& path, std::size_t i) {
    return path + "[" + std::to_string(i) + "]";
}

std::string key_path(const std::string& path, const std::string& key) {
    return path.empty() ? key : path + "." + key;
}

class converter {
  public:
    converter(std::string_view raw, const std::string& file, const env_lookup& env,
              diagnostics& out)
        : raw_(raw), file_(file), env_(env), out_(out) {}

    params::value convert(const YAML::Node& n, const std::string& path,
                          const source_pos& fallback) {
        params::value v;
        v.pos = pos_of(n.Mark());
        if (!v.pos.known()) v.pos = fallback;
        if (++nodes_ > max_nodes) {
            if (!too_large_reported_) {
                out_.error(v.pos, path,
                           "the document is too large (more than " + std::to_string(max_nodes) +
                               " values once aliases are expanded)");
                too_large_reported_ = true;
            }
            return v;
        }
        switch (n.Type()) {
            case YAML::NodeType::Undefined:
            case YAML::NodeType::Null:
                null(n, v, fallback);
                break;
            case YAML::NodeType::Scalar:
                scalar(n, v, path);
                break;
            case YAML::NodeType::Sequence:
            case YAML::NodeType::Map:
                if (!enter(n, v, path)) break;
                if (n.IsSequence()) {
                    sequence(n, v, path);
                } else {
                    mapping(n, v, path);
                }
                ancestors_.pop_back();
                break;
        }
        return v;
    }

  private:
    source_pos pos_of(const YAML::Mark& m) const {
        if (m.is_null() || m.line < 0 || m.column < 0) return {file_, 0, 0};
        return {file_, m.line + 1, m.column + 1};
    }

    // Guards recursion: alias cycles and absurd nesting.
    bool enter(const YAML::Node& n, params::value& v, const std::string& path) {
        for (const auto& a : ancestors_) {
            if (a.is(n)) {
                out_.error(v.pos, path, "an alias refers to a value that contains it");
                return false;
            }
        }
        if (ancestors_.size() >= max_depth) {
            out_.error(v.pos, path,
                       "values are nested too deeply (more than " + std::to_string(max_depth) +
                           " levels)");
            return false;
        }
        ancestors_.push_back(n);
        return true;
    }

    // yaml-cpp marks an empty value ("key:" and nothing) at the next token, often the next
    // line's key; only an explicit ~ or null keeps its own mark.
    void null(const YAML::Node& n, params::value& v, const source_pos& fallback) const {
        v.type = params::value::kind::null;
        const YAML::Mark m = n.Mark();
        const bool explicit_null = !m.is_null() && m.pos >= 0 &&
                                   static_cast<std::size_t>(m.pos) < raw_.size() &&
                                   is_explicit_null(raw_.substr(static_cast<std::size_t>(m.pos)));
        if (!explicit_null || !v.pos.known()) v.pos = fallback;
    }

    void scalar(const YAML::Node& n, params::value& v, const std::string& path) {
        v.type = params::value::kind::scalar;
        v.text = n.Scalar();
        // yaml-cpp tags plain scalars "?" and quoted or block scalars "!"; an explicit !!str
        // also makes a string.
        const std::string& tag = n.Tag();
        v.quoted = tag == "!" || tag == "tag:yaml.org,2002:str";

        const YAML::Mark m = n.Mark();
        if (!m.is_null() && m.pos >= 0 && static_cast<std::size_t>(m.pos) < raw_.size()) {
            locate_text(static_cast<std::size_t>(m.pos), v);
        }

        if (v.text.find('$') == std::string::npos) return;
        interpolation_result r = interpolate(v.text, env_);
        for (const auto& e : r.errors) out_.error(v.pos_at(e.offset), path, e.message);
        v.from_env = r.from_env;
        v.secret = r.secret;
        if (r.changed) {
            v.text = std::move(r.text);
            v.text_column = 0;  // offsets into the new text no longer map onto the source
        }
    }

    // Finds where the scalar's characters stand in the source: past any anchor or tag, then
    // the opening quote. text_column is set only when the source spells the text verbatim
    // on one line (no escapes, no folding), so offsets map 1:1 onto columns.
    void locate_text(std::size_t start, params::value& v) const {
        std::size_t p = start;
        while (p < raw_.size() && (raw_[p] == '&' || raw_[p] == '!')) {
            while (p < raw_.size() && raw_[p] != ' ' && raw_[p] != '\t' && raw_[p] != '\n') ++p;
            while (p < raw_.size() && (raw_[p] == ' ' || raw_[p] == '\t')) ++p;
        }
        if (p >= raw_.size() || raw_.substr(start, p - start).find('\n') != std::string::npos) {
            return;
        }
        v.pos = v.pos.shifted(static_cast<int>(p - start));
        if (v.text.find('\n') != std::string::npos) return;
        const char c = raw_[p];
        if (c == '"' || c == '\'') {
            const std::size_t end = p + 1 + v.text.size();
            if (raw_.substr(p + 1, v.text.size()) == v.text && end < raw_.size() &&
                raw_[end] == c) {
                v.text_column = v.pos.column + 1;
            }
        } else if (c != '|' && c != '>' && raw_.substr(p, v.text.size()) == v.text) {
            v.text_column = v.pos.column;
        }
    }

    void sequence(const YAML::Node& n, params::value& v, const std::string& path) {
        v.type = params::value::kind::sequence;
        std::size_t i = 0;
        for (const auto& item : n) {
            v.items.push_back(convert(item, item_path(path, i), v.pos));
            ++i;
        }
    }

    void mapping(const YAML::Node& n, params::value& v, const std::string& path) {
        v.type = params::value::kind::mapping;
        std::unordered_map<std::string, int> first_line;
        for (const auto& kv : n) {
            const YAML::Node& k = kv.first;
            source_pos key_pos = pos_of(k.Mark());
            if (!key_pos.known()) key_pos = v.pos;
            std::string key;
            if (k.IsScalar()) {
                key = k.Scalar();
            } else if (k.IsNull() && !k.Mark().is_null() && k.Mark().pos >= 0 &&
                       static_cast<std::size_t>(k.Mark().pos) < raw_.size() &&
                       is_explicit_null(raw_.substr(static_cast<std::size_t>(k.Mark().pos)))) {
                // "null: x" or "~: x": the key is the word as written.
                const auto rest = raw_.substr(static_cast<std::size_t>(k.Mark().pos));
                key = std::string(rest.substr(0, rest[0] == '~' ? 1 : 4));
            } else {
                out_.error(key_pos, path,
                           k.IsNull() ? std::string("a key is empty")
                                      : "a key must be a scalar, got " + kind_name(k));
                continue;
            }
            auto [it, inserted] = first_line.emplace(key, key_pos.line);
            if (!inserted) {
                out_.error(key_pos, path,
                           "duplicate key \"" + key + "\" (first defined at line " +
                               std::to_string(it->second) + ")");
                continue;
            }
            params::value val = convert(kv.second, key_path(path, key), key_pos);
            v.entries.push_back({std::move(key), std::move(key_pos), std::move(val)});
        }
    }

    std::string_view raw_;
    const std::string& file_;
    const env_lookup& env_;
    diagnostics& out_;
    std::vector<YAML::Node> ancestors_;
    std::size_t nodes_ = 0;
    bool too_large_reported_ = false;
};

// The unquoted "${VAR}" (or the plain scalar around it, "/data/${DIR}/in") whose "{" is at
// `brace`, with what precedes and follows it up to the flow indicators that end a plain
// scalar in a flow collection.
std::string_view plain_scalar_around(std::string_view raw, std::size_t brace) {
    std::size_t start = brace - 1;  // the "$"
    while (start > 0) {
        const char c = raw[start - 1];
        if (c == ',' || c == '[' || c == '{' || c == '\n') break;
        if (c == ' ' && start >= 2 && raw[start - 2] == ':') break;
        --start;
    }
    while (raw[start] == ' ' || raw[start] == '\t') ++start;
    std::size_t end = raw.find('}', brace);
    if (end == std::string_view::npos) return raw.substr(start, brace + 1 - start);
    ++end;
    while (end < raw.size()) {
        const char c = raw[end];
        if (c == ',' || c == ']' || c == '}' || c == '\n' || c == '\r') break;
        if (c == ' ' && end + 1 < raw.size() && raw[end + 1] == '#') break;
        // ": " ends a key.
        if (c == ':' && (end + 1 == raw.size() || raw[end + 1] == ' ')) break;
        ++end;
    }
    while (end > start && (raw[end - 1] == ' ' || raw[end - 1] == '\t')) --end;
    return raw.substr(start, end - start);
}

// Hints for yaml-cpp's terse messages, for the traps users fall into most: an unquoted
// "${VAR}" inside a flow collection ({type: file, path: ${OUT}}), whose "{" YAML reads as the
// start of another mapping (yaml-cpp's mark is at that "{"), and tabs used for indentation.
// Each says what to write instead.
std::string syntax_hint(std::string_view raw, const YAML::Mark& mark) {
    if (mark.is_null() || mark.line < 0) return "";
    const auto at = static_cast<std::size_t>(std::max(mark.pos, 0));
    if (at >= 1 && at < raw.size() && raw[at] == '{' && raw[at - 1] == '$') {
        const std::string_view scalar = plain_scalar_around(raw, at);
        return ": inside {…} or […], the \"{\" of an unquoted ${…} starts another mapping; "
               "quote the value: \"" +
               std::string(scalar) + "\"";
    }
    std::size_t start = 0;
    for (int l = 0; l < mark.line; ++l) {
        start = raw.find('\n', start);
        if (start == std::string_view::npos) return "";
        ++start;
    }
    for (std::size_t i = start; i < raw.size() && (raw[i] == ' ' || raw[i] == '\t'); ++i) {
        if (raw[i] == '\t') {
            return " (tabs cannot be used for indentation: indent line " +
                   std::to_string(mark.line + 1) + " with spaces instead of the tab at column " +
                   std::to_string(i - start + 1) + ")";
        }
    }
    return "";
}

// yaml-cpp never consumes a stray "," (or "]", "}") at the top of a document: the parser then
// returns one empty document after another without moving, and YAML::LoadAll collects them
// until memory runs out. Walks the documents' events first and returns where the parser
// stalls, if it does. Every document that does not stall consumes input, so this ends.
std::optional<YAML::Mark> stalled_document(const std::string& text) {
    struct starts : YAML::EventHandler {
        std::vector<YAML::Mark> marks;
        void OnDocumentStart(const YAML::Mark& m) override { marks.push_back(m); }
        void OnDocumentEnd() override {}
        void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
        void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
        void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                      const std::string&) override {}
        void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                             YAML::EmitterStyle::value) override {}
        void OnSequenceEnd() override {}
        void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                        YAML::EmitterStyle::value) override {}
        void OnMapEnd() override {}
    } handler;
    std::istringstream in(text);
    YAML::Parser parser(in);
    while (parser.HandleNextDocument(handler)) {
        const auto& m = handler.marks;
        if (m.size() >= 2 && m[m.size() - 1].pos == m[m.size() - 2].pos) return m.back();
    }
    return std::nullopt;
}

}  // namespace

std::optional<params::value> read_yaml(std::string_view text, const std::string& file,
                                       const env_lookup& env, diagnostics& out) {
    // yaml-cpp skips a UTF-8 byte order mark and counts positions after it.
    if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);
    if (auto problem = check_utf8(text)) {
        out.error(position_of_offset(text, problem->offset, file), "", problem->message);
        return std::nullopt;
    }

    std::vector<YAML::Node> documents;
    try {
        const std::string owned(text);
        if (const auto m = stalled_document(owned)) {
            const auto at = static_cast<std::size_t>(std::max(m->pos, 0));
            std::string what = at < owned.size() ? owned.substr(at, 1) : "end of file";
            if (at < owned.size()) what = '"' + what + '"';
            out.error({file, m->line + 1, m->column + 1}, "",
                      "YAML syntax: unexpected " + what + " where a value should start");
            return std::nullopt;
        }
        documents = YAML::LoadAll(owned);
    } catch (const YAML::DeepRecursion& e) {
        // yaml-cpp says "bad file" here; say what is wrong.
        out.error({file, e.mark.line + 1, e.mark.column + 1}, "",
                  "YAML syntax: values are nested too deeply");
        return std::nullopt;
    } catch (const YAML::Exception& e) {
        source_pos pos{file, 0, 0};
        if (!e.mark.is_null() && e.mark.line >= 0) pos = {file, e.mark.line + 1, e.mark.column + 1};
        out.error(pos, "", "YAML syntax: " + e.msg + syntax_hint(text, e.mark));
        return std::nullopt;
    } catch (const std::exception& e) {
        out.error({file, 0, 0}, "", std::string("YAML syntax: ") + e.what());
        return std::nullopt;
    }

    const source_pos start{file, 1, 1};
    if (documents.empty()) {
        params::value empty;
        empty.pos = start;
        return empty;
    }
    if (documents.size() > 1) {
        const YAML::Mark m = documents[1].Mark();
        source_pos pos = start;
        if (!m.is_null() && m.line >= 0) pos = {file, m.line + 1, m.column + 1};
        out.error(pos, "", "a file holds one YAML document; this second one is ignored");
    }
    converter conv(text, file, env, out);
    return conv.convert(documents[0], "", start);
}

}  // namespace weir::config
