// Expression compiler: type-checks the syntax tree and emits the flat instruction vector of a
// program. A flat vector run by one switch loop (program.cc) rather than a tree of virtual
// nodes: no virtual call or pointer chase per node, no allocation per evaluation (the stack is
// a fixed array sized at compile time), and the code is trivially shareable between threads.
#include <re2/re2.h>

#include <algorithm>

#include "core/diag/diagnostic.h"
#include "core/expr/program.h"

namespace weir::expr {

namespace {

using opcode = program::opcode;

struct builtin {
    std::string_view name;
    std::uint8_t min_args;
    std::uint8_t max_args;
    value_type params[2];
    value_type result;
    opcode op;
};

constexpr value_type k_num = value_type::number;
constexpr value_type k_str = value_type::string;
constexpr value_type k_any = value_type::any;

constexpr builtin k_builtins[] = {
    {"abs", 1, 1, {k_num, k_any}, k_num, opcode::abs},
    {"contains", 2, 2, {k_str, k_str}, value_type::boolean, opcode::contains},
    {"len", 1, 1, {k_str, k_any}, k_num, opcode::len},
    {"lower", 1, 1, {k_str, k_any}, k_str, opcode::lower},
    {"matches", 2, 2, {k_str, k_str}, value_type::boolean, opcode::matches},
    {"now", 0, 0, {k_any, k_any}, k_num, opcode::now},
    {"parse_time", 1, 2, {k_any, k_str}, k_num, opcode::parse_time},
    {"round", 1, 2, {k_num, k_num}, k_num, opcode::round},
    {"starts_with", 2, 2, {k_str, k_str}, value_type::boolean, opcode::starts_with},
    {"to_number", 1, 1, {k_any, k_any}, k_num, opcode::to_number},
    {"to_string", 1, 1, {k_any, k_any}, k_str, opcode::to_string},
    {"upper", 1, 1, {k_str, k_any}, k_str, opcode::upper},
};

const builtin* find_builtin(std::string_view name) {
    for (const auto& b : k_builtins) {
        if (b.name == name) return &b;
    }
    return nullptr;
}

bool is_aggregate_name(std::string_view name) {
    for (const char* a : {"count", "sum", "mean", "avg", "min", "max", "median", "percentile",
                          "std_dev", "variance", "distinct_count"}) {
        if (name == a) return true;
    }
    return false;
}

std::string arguments(std::size_t min, std::size_t max) {
    std::string s = std::to_string(min);
    if (max != min) s += " or " + std::to_string(max);
    return s + (max == 1 && min == 1 ? " argument" : " arguments");
}

const char* ordinal(std::size_t i) {
    return i == 0 ? "first" : "second";
}

bool known(value_type t) {
    return t != value_type::any && t != value_type::null;
}

}  // namespace

class compiler {
  public:
    compiler(syntax_tree& tree, const compile_options& options) : tree_(tree), options_(options) {}

    parse_result<program> run() {
        const value_type result = check(tree_.root);
        const node& root = tree_.nodes[tree_.root];
        if (errors_.empty() && options_.expected != value_type::any && result != value_type::any &&
            result != options_.expected) {
            error(root.start, "the expression must yield " + describe(options_.expected) +
                                  ", but it yields " + describe(result));
        }
        if (!errors_.empty()) {
            std::stable_sort(errors_.begin(), errors_.end(),
                             [](const auto& a, const auto& b) { return a.offset < b.offset; });
            return parse_result<program>(std::move(errors_));
        }
        prog_.type_ = result;
        emit(tree_.root);
        if (max_depth_ > program::k_max_stack) {
            return syntax_error{0, "the expression is too deeply nested"};
        }
        auto text = std::make_shared<const std::string>(std::move(pool_));
        for (const auto& [index, offset, length] : string_constants_) {
            prog_.constants_[index] =
                field_value::make_string(std::string_view(text->data() + offset, length));
        }
        prog_.literal_text_ = std::move(text);
        return std::move(prog_);
    }

  private:
    void error(std::size_t offset, std::string message) {
        errors_.push_back({offset, std::move(message)});
    }

    value_type check(std::uint32_t index) {
        node& n = tree_.nodes[index];
        n.type = check_node(n);
        return n.type;
    }

    value_type check_node(node& n) {
        switch (n.kind) {
            case node_kind::literal:
                return n.type;
            case node_kind::field:
                return check_field(n);
            case node_kind::negate: {
                const value_type t = check(n.children[0]);
                if (t == value_type::null) {
                    error(n.offset, "arithmetic with null always gives null");
                } else if (known(t) && t != value_type::number) {
                    error(n.offset, "cannot negate " + describe(t));
                }
                return value_type::number;
            }
            case node_kind::logical_not: {
                const value_type t = check(n.children[0]);
                if (t != value_type::any && t != value_type::boolean) {
                    error(tree_.nodes[n.children[0]].start,
                          "\"not\" needs a boolean, got " + describe(t));
                }
                return value_type::boolean;
            }
            case node_kind::binary:
                return check_binary(n);
            case node_kind::call:
                return check_call(n);
        }
        return value_type::any;
    }

    value_type check_field(node& n) {
        const std::string name = n.path.to_string();
        value_type type = value_type::any;
        bool ok = true;
        if (options_.fields != nullptr) {
            const auto it = options_.fields->find(name);
            if (it == options_.fields->end()) {
                std::vector<std::string> names;
                for (const auto& [k, v] : *options_.fields) names.push_back(k);
                std::string msg = "unknown field \"" + name + "\"";
                const std::string near = nearest(name, names);
                if (!near.empty()) msg += "; did you mean \"" + near + "\"?";
                error(n.offset, std::move(msg));
                ok = false;
            } else {
                type = it->second;
            }
        }
        if (ok) {
            const auto known_ref =
                std::find_if(prog_.fields_.begin(), prog_.fields_.end(),
                             [&](const field_ref& r) { return r.path == n.path; });
            if (known_ref == prog_.fields_.end()) {
                std::optional<std::uint32_t> slot;
                if (options_.resolve) {
                    slot = options_.resolve(n.path);
                    if (!slot) error(n.offset, "unknown field \"" + name + "\"");
                } else {
                    slot = static_cast<std::uint32_t>(prog_.fields_.size());
                }
                if (slot) prog_.fields_.push_back({n.path, *slot});
            }
        }
        return type;
    }

    value_type check_binary(node& n) {
        const value_type l = check(n.children[0]);
        const value_type r = check(n.children[1]);
        const std::string op(spelling(n.op));
        switch (n.op) {
            case binary_op::logical_and:
            case binary_op::logical_or:
                for (const auto child : n.children) {
                    const value_type t = tree_.nodes[child].type;
                    if (t != value_type::any && t != value_type::boolean) {
                        error(tree_.nodes[child].start,
                              "\"" + op + "\" needs booleans, got " + describe(t));
                    }
                }
                return value_type::boolean;
            case binary_op::equal:
            case binary_op::not_equal:
                if (known(l) && known(r) && l != r) {
                    error(n.offset, "cannot compare " + describe(l) + " with " + describe(r) +
                                        "; they are never equal");
                }
                return value_type::boolean;
            case binary_op::less:
            case binary_op::less_equal:
            case binary_op::greater:
            case binary_op::greater_equal:
                if (l == value_type::null || r == value_type::null) {
                    error(n.offset, "\"" + op + "\" cannot order null; test with \"== null\"");
                } else if (l == value_type::boolean || r == value_type::boolean) {
                    error(n.offset, "\"" + op + "\" cannot order booleans");
                } else if (known(l) && known(r) && l != r) {
                    error(n.offset, "cannot compare " + describe(l) + " with " + describe(r));
                }
                return value_type::boolean;
            default:
                break;
        }
        // Arithmetic.
        if (l == value_type::null || r == value_type::null) {
            error(n.offset, "arithmetic with null always gives null");
            return value_type::any;
        }
        if (n.op == binary_op::add) {
            const bool bad = l == value_type::boolean || r == value_type::boolean ||
                             (known(l) && known(r) && l != r);
            if (bad) {
                error(n.offset, "cannot add " + describe(l) + " and " + describe(r));
                return value_type::any;
            }
            if (l == value_type::any && r == value_type::any) return value_type::any;
            return known(l) ? l : r;  // number + number, string + string (concatenation)
        }
        if ((l != value_type::any && l != value_type::number) ||
            (r != value_type::any && r != value_type::number)) {
            const std::string a = describe(l);
            const std::string b = describe(r);
            switch (n.op) {
                case binary_op::subtract:
                    error(n.offset, "cannot subtract " + b + " from " + a);
                    break;
                case binary_op::multiply:
                    error(n.offset, "cannot multiply " + a + " by " + b);
                    break;
                case binary_op::divide:
                    error(n.offset, "cannot divide " + a + " by " + b);
                    break;
                default:
                    error(n.offset, "cannot take " + a + " modulo " + b);
                    break;
            }
        }
        return value_type::number;
    }

    value_type check_call(node& n) {
        const builtin* fn = find_builtin(n.text);
        for (const auto child : n.children) check(child);
        if (fn == nullptr) {
            if (is_aggregate_name(n.text)) {
                error(n.offset, "\"" + n.text +
                                    "\" is an aggregate; aggregates belong in a "
                                    "check's measure:, not in an expression");
                return value_type::any;
            }
            std::string msg = "unknown function \"" + n.text + "\"";
            const std::string near = nearest(n.text, function_names());
            if (!near.empty()) msg += "; did you mean \"" + near + "\"?";
            error(n.offset, std::move(msg));
            return value_type::any;
        }
        const std::size_t count = n.children.size();
        if (count > fn->max_args) {
            error(tree_.nodes[n.children[fn->max_args]].start,
                  n.text + "() takes " + arguments(fn->min_args, fn->max_args) + ", got " +
                      std::to_string(count));
            return fn->result;
        }
        if (count < fn->min_args) {
            error(n.end, n.text + "() takes " + arguments(fn->min_args, fn->max_args) + ", got " +
                             std::to_string(count));
            return fn->result;
        }
        for (std::size_t i = 0; i < count; ++i) {
            const node& arg = tree_.nodes[n.children[i]];
            const value_type want = fn->params[i];
            if (want != value_type::any && known(arg.type) && arg.type != want) {
                std::string msg = n.text + "() expects " + describe(want);
                if (fn->max_args > 1) msg += std::string(" as its ") + ordinal(i) + " argument";
                error(arg.start, msg + ", got " + describe(arg.type));
            }
        }
        if (fn->op == opcode::matches) {
            const node& pattern = tree_.nodes[n.children[1]];
            if (pattern.kind != node_kind::literal || pattern.type != value_type::string) {
                error(pattern.start,
                      "the pattern of matches() must be a string literal (it is "
                      "compiled once, at load)");
            } else {
                auto re = std::make_shared<const re2::RE2>(pattern.text, re2::RE2::Quiet);
                if (!re->ok()) {
                    error(pattern.start, "invalid regular expression: " + re->error());
                } else {
                    n.number = static_cast<double>(prog_.regexes_.size());
                    prog_.regexes_.push_back(std::move(re));
                }
            }
        }
        if (fn->op == opcode::parse_time) {
            // The format: rfc3339 (the default), epoch_s|ms|us|ns or a strftime pattern, as
            // for a node's time.format; a literal, compiled now.
            std::string_view text = "rfc3339";
            std::size_t at = n.start;
            bool literal = true;
            if (count == 2) {
                const node& format = tree_.nodes[n.children[1]];
                literal = format.kind == node_kind::literal && format.type == value_type::string;
                text = format.text;
                at = format.start + 1;  // inside the quotes
                if (!literal) {
                    error(format.start,
                          "the format of parse_time() must be a string literal, "
                          "e.g. \"rfc3339\", \"epoch_ms\" or \"%d/%m/%Y %H:%M\"");
                }
            }
            if (literal) {
                time::time_parser::error err;
                auto parser = time::time_parser::compile(text, &err);
                if (!parser) {
                    error(at + err.offset, err.message);
                } else {
                    n.number = static_cast<double>(prog_.time_parsers_.size());
                    prog_.time_parsers_.push_back(*parser);
                }
            }
        }
        if (fn->op == opcode::now) prog_.reads_clock_ = true;
        return fn->result;
    }

    // Code generation (only after a clean type check).

    void push(opcode op, std::uint32_t arg, int stack_effect) {
        prog_.code_.push_back({op, arg});
        depth_ += stack_effect;
        max_depth_ = std::max(max_depth_, static_cast<std::size_t>(std::max(depth_, 0)));
    }

    std::uint32_t constant(const node& n) {
        const auto index = static_cast<std::uint32_t>(prog_.constants_.size());
        switch (n.type) {
            case value_type::number:
                prog_.constants_.push_back(field_value::make_number(n.number));
                break;
            case value_type::boolean:
                prog_.constants_.push_back(field_value::make_boolean(n.boolean));
                break;
            case value_type::string:
                prog_.constants_.emplace_back();  // patched once the text pool is final
                string_constants_.push_back({index, pool_.size(), n.text.size()});
                pool_ += n.text;
                break;
            default:
                prog_.constants_.push_back(field_value::make_null());
                break;
        }
        return index;
    }

    void emit(std::uint32_t index) {
        const node& n = tree_.nodes[index];
        switch (n.kind) {
            case node_kind::literal:
                push(opcode::push_const, constant(n), 1);
                return;
            case node_kind::field: {
                const auto it = std::find_if(prog_.fields_.begin(), prog_.fields_.end(),
                                             [&](const field_ref& r) { return r.path == n.path; });
                push(opcode::load_field, it->slot, 1);
                return;
            }
            case node_kind::negate:
                emit(n.children[0]);
                push(opcode::negate, 0, 0);
                return;
            case node_kind::logical_not:
                emit(n.children[0]);
                push(opcode::logical_not, 0, 0);
                return;
            case node_kind::binary:
                emit_binary(n);
                return;
            case node_kind::call:
                emit_call(n);
                return;
        }
    }

    void emit_binary(const node& n) {
        const node& l = tree_.nodes[n.children[0]];
        const node& r = tree_.nodes[n.children[1]];
        if (n.op == binary_op::logical_and || n.op == binary_op::logical_or) {
            const bool is_and = n.op == binary_op::logical_and;
            emit(n.children[0]);
            const std::size_t jump = prog_.code_.size();
            push(is_and ? opcode::and_short : opcode::or_short, 0, 0);
            emit(n.children[1]);
            push(is_and ? opcode::and_combine : opcode::or_combine, 0, -1);
            prog_.code_[jump].arg = static_cast<std::uint32_t>(prog_.code_.size());
            return;
        }
        if (n.op == binary_op::equal || n.op == binary_op::not_equal) {
            const bool l_null = l.kind == node_kind::literal && l.type == value_type::null;
            const bool r_null = r.kind == node_kind::literal && r.type == value_type::null;
            if (l_null || r_null) {
                emit(r_null ? n.children[0] : n.children[1]);
                push(n.op == binary_op::equal ? opcode::is_null : opcode::is_not_null, 0, 0);
                return;
            }
        }
        emit(n.children[0]);
        emit(n.children[1]);
        opcode op = opcode::add;
        switch (n.op) {
            case binary_op::add:
                op = opcode::add;
                break;
            case binary_op::subtract:
                op = opcode::subtract;
                break;
            case binary_op::multiply:
                op = opcode::multiply;
                break;
            case binary_op::divide:
                op = opcode::divide;
                break;
            case binary_op::modulo:
                op = opcode::modulo;
                break;
            case binary_op::equal:
                op = opcode::equal;
                break;
            case binary_op::not_equal:
                op = opcode::not_equal;
                break;
            case binary_op::less:
                op = opcode::less;
                break;
            case binary_op::less_equal:
                op = opcode::less_equal;
                break;
            case binary_op::greater:
                op = opcode::greater;
                break;
            case binary_op::greater_equal:
                op = opcode::greater_equal;
                break;
            default:
                break;
        }
        push(op, 0, -1);
    }

    void emit_call(const node& n) {
        const builtin* fn = find_builtin(n.text);
        const std::size_t count = n.children.size();
        switch (fn->op) {
            case opcode::now:
                push(opcode::now, 0, 1);
                return;
            case opcode::matches:
                emit(n.children[0]);
                push(opcode::matches, static_cast<std::uint32_t>(n.number), 0);
                return;
            case opcode::parse_time:
                emit(n.children[0]);
                push(opcode::parse_time, static_cast<std::uint32_t>(n.number), 0);
                return;
            case opcode::round:
                emit(n.children[0]);
                if (count == 2) {
                    emit(n.children[1]);
                    push(opcode::round_digits, 0, -1);
                } else {
                    push(opcode::round, 0, 0);
                }
                return;
            default:
                for (const auto child : n.children) emit(child);
                push(fn->op, 0, 1 - static_cast<int>(count));
        }
    }

    syntax_tree& tree_;
    const compile_options& options_;
    program prog_;
    std::vector<syntax_error> errors_;
    std::string pool_;
    struct string_constant {
        std::uint32_t index;
        std::size_t offset;
        std::size_t length;
    };
    std::vector<string_constant> string_constants_;
    int depth_ = 0;
    std::size_t max_depth_ = 0;
};

std::vector<std::string> function_names() {
    std::vector<std::string> out;
    for (const auto& b : k_builtins) out.emplace_back(b.name);
    return out;
}

parse_result<program> compile(std::string_view text, const compile_options& options) {
    auto tree = parse_expression(text);
    if (!tree) return parse_result<program>(tree.errors());
    return compiler(*tree, options).run();
}

}  // namespace weir::expr
