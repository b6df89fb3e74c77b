// Environment interpolation of scalars: a small recursive scanner so that defaults may hold
// references of their own, with every error located at its reference's '$'. The recursion is
// bounded (k_max_nesting): a scalar of any size cannot exhaust the stack.
#include "config/interpolate.h"

#include "core/params/value.h"

namespace weir::config {

namespace {

// How deep ${A:-${B:-…}} may nest. Far more than any real default chain needs; each level
// costs two small stack frames.
constexpr int k_max_nesting = 32;

bool name_start(char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}
bool name_char(char c) {
    return name_start(c) || (c >= '0' && c <= '9');
}

struct scan_error {
    std::size_t offset;
    std::string message;
    bool syntax;  // reported even inside an unused default
};

struct scanned {
    std::string text;
    bool from_env = false;
    bool secret = false;
    std::vector<scan_error> errors;
};

class scanner {
  public:
    scanner(std::string_view s, const env_lookup& env) : s_(s), env_(env) {}

    // Expands s_[i..] up to the end, or (nested) up to an unmatched '}', which is left for
    // the caller. Returns where it stopped.
    std::size_t expand(std::size_t i, bool nested, scanned& out) {
        while (i < s_.size()) {
            const char c = s_[i];
            if (nested && c == '}') return i;
            if (c != '$' || i + 1 >= s_.size()) {
                out.text += c;
                ++i;
            } else if (s_[i + 1] == '$') {
                out.text += '$';
                i += 2;
            } else if (s_[i + 1] == '{') {
                i = reference(i, out);
            } else {
                out.text += c;
                ++i;
            }
        }
        return i;
    }

  private:
    // s_[start] is the '$' of "${"; returns the position after the reference.
    std::size_t reference(std::size_t start, scanned& out) {
        if (depth_ == k_max_nesting) return too_deep(start, out);
        ++depth_;
        const std::size_t after = reference_body(start, out);
        --depth_;
        return after;
    }

    std::size_t reference_body(std::size_t start, scanned& out) {
        std::size_t i = start + 2;
        const std::size_t name_begin = i;
        while (i < s_.size() && name_char(s_[i])) ++i;
        const std::string name(s_.substr(name_begin, i - name_begin));

        if (i >= s_.size()) return unterminated(start, out);
        char op = 0;  // 0: plain ${NAME}; '-': ${NAME:-…}; '?': ${NAME:?…}
        scanned word;
        if (s_[i] == ':' && i + 1 < s_.size() && (s_[i + 1] == '-' || s_[i + 1] == '?')) {
            op = s_[i + 1];
            i = expand(i + 2, true, word);
            if (i >= s_.size()) return unterminated(start, out);
        } else if (s_[i] != '}') {
            // Skip to the closing brace to resume scanning after this reference.
            const std::size_t close = s_.find('}', i);
            if (close == std::string_view::npos) return unterminated(start, out);
            out.errors.push_back({start,
                                  "invalid reference \"" +
                                      std::string(s_.substr(start, close + 1 - start)) +
                                      "\": use ${NAME}, ${NAME:-default} or ${NAME:?message}",
                                  true});
            return close + 1;
        }
        const std::size_t after = i + 1;  // s_[i] == '}'

        // Syntax errors inside the default or message count whether or not it is used.
        for (auto& e : word.errors) {
            if (e.syntax) out.errors.push_back(e);
        }
        if (name.empty()) {
            out.errors.push_back({start, "missing environment variable name in \"${\"", true});
            return after;
        }
        if (!name_start(name[0])) {
            out.errors.push_back(
                {start, "invalid environment variable name \"" + name + "\"", true});
            return after;
        }

        out.from_env = true;
        const bool secret = params::names_a_secret(name);
        const std::optional<std::string> found = env_ ? env_(name) : std::nullopt;
        const bool usable = found && !found->empty();
        switch (op) {
            case 0:
                if (!found) {
                    out.errors.push_back(
                        {start, "environment variable \"" + name + "\" is not set", false});
                } else {
                    out.text += *found;
                    out.secret = out.secret || secret;
                }
                break;
            case '-':
                if (usable) {
                    out.text += *found;
                    out.secret = out.secret || secret;
                } else {
                    out.text += word.text;
                    out.secret = out.secret || secret || word.secret;
                    for (auto& e : word.errors) {
                        if (!e.syntax) out.errors.push_back(e);
                    }
                }
                break;
            case '?':
                if (usable) {
                    out.text += *found;
                    out.secret = out.secret || secret;
                } else {
                    std::string message =
                        "environment variable \"" + name + "\" is " + (found ? "empty" : "not set");
                    // A message built from a secret variable would carry it: leave it out.
                    if (!word.text.empty() && !word.secret) message += ": " + word.text;
                    out.errors.push_back({start, std::move(message), false});
                }
                break;
        }
        return after;
    }

    // A reference nested deeper than k_max_nesting: one error, and the scan resumes after its
    // closing brace, found without recursion. Unterminated, it leaves the enclosing references
    // unterminated too, and the outermost reports that.
    std::size_t too_deep(std::size_t start, scanned& out) {
        std::size_t open = 0;
        for (std::size_t i = start; i < s_.size(); ++i) {
            if (s_[i] == '$' && i + 1 < s_.size() && (s_[i + 1] == '$' || s_[i + 1] == '{')) {
                if (s_[i + 1] == '{') ++open;
                ++i;
            } else if (s_[i] == '}' && --open == 0) {
                out.errors.push_back({start,
                                      "references are nested too deeply (more than " +
                                          std::to_string(k_max_nesting) + " levels)",
                                      true});
                return i + 1;
            }
        }
        return s_.size();
    }

    std::size_t unterminated(std::size_t start, scanned& out) {
        out.errors.push_back({start, "unterminated \"${\" (missing \"}\")", true});
        return s_.size();
    }

    std::string_view s_;
    const env_lookup& env_;
    int depth_ = 0;  // references being expanded, around the current position
};

}  // namespace

interpolation_result interpolate(std::string_view text, const env_lookup& env) {
    interpolation_result result;
    if (text.find('$') == std::string_view::npos) {
        result.text = std::string(text);
        return result;
    }
    scanned out;
    scanner(text, env).expand(0, false, out);
    result.text = std::move(out.text);
    result.from_env = out.from_env;
    result.secret = out.secret;
    result.changed = result.text != text;
    for (auto& e : out.errors) result.errors.push_back({e.offset, std::move(e.message)});
    return result;
}

}  // namespace weir::config
