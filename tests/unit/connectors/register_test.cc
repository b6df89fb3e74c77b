// The built-in connector list and the connectors' parameter declarations: what is registered,
// that declarations and factories agree and an inconsistent list is refused, that every
// parameter is documented with a default that parses, and the cross-field checks.
#include "connectors/register.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <stdexcept>

#include "connectors/common/common_spec.h"
#include "connectors/descriptor.h"
#include "tests/unit/spec_expectations.h"

namespace weir::connectors {
namespace {

using params::component_kind;
using params::value;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::ThrowsMessage;

const params::component_registry& builtin() {
    static const params::component_registry r = [] {
        params::component_registry out;
        register_builtin_connectors(out);
        return out;
    }();
    return r;
}

// Small builders for document trees, positioned on consecutive lines of "t.yaml".
int next_line = 1;
value scalar(std::string text, bool from_env = false) {
    value v;
    v.type = value::kind::scalar;
    v.text = std::move(text);
    v.from_env = from_env;
    v.secret = from_env;  // as from a variable whose name says it is a secret
    v.pos = {"t.yaml", next_line++, 7};
    return v;
}
value list(std::vector<value> items) {
    value v;
    v.type = value::kind::sequence;
    v.items = std::move(items);
    v.pos = {"t.yaml", next_line++, 5};
    return v;
}
value mapping(std::vector<std::pair<std::string, value>> entries) {
    value v;
    v.type = value::kind::mapping;
    v.pos = {"t.yaml", next_line, 3};
    for (auto& [key, val] : entries) {
        v.entries.push_back({key, {"t.yaml", next_line++, 3}, std::move(val)});
    }
    return v;
}

std::vector<std::string> validate(component_kind kind, const std::string& type, const value& v) {
    const params::component_info* info = builtin().find(kind, type);
    if (info == nullptr) throw std::logic_error("no " + type);
    diagnostics d;
    params::validate(*info->spec, v, "x", d);
    std::vector<std::string> out;
    for (const auto& i : d.sorted()) {
        if (i.severity == severity::error) out.push_back(i.path + ": " + i.message);
    }
    return out;
}

TEST(register, every_builtin_type) {
    EXPECT_THAT(builtin().types(component_kind::input),
                ElementsAre("file", "generator", "kafka", "stdin", "tcp", "udp"));
    EXPECT_THAT(builtin().types(component_kind::output),
                ElementsAre("alertmanager", "console", "file", "http", "kafka"));
}

TEST(register, only_console_and_file_take_records) {
    for (const auto* info : builtin().all(component_kind::output)) {
        const bool expected = info->type == "console" || info->type == "file";
        EXPECT_EQ(info->accepts_records, expected) << info->type;
    }
}

TEST(register, a_second_registration_throws) {
    params::component_registry r;
    register_builtin_connectors(r);
    EXPECT_THROW(register_builtin_connectors(r), std::logic_error);

    params::component_registry one;
    params::component_info info{"stdin", component_kind::input, "", nullptr, false};
    one.add(info);
    EXPECT_THROW(one.add(info), std::logic_error);
    info.kind = component_kind::output;  // the same name for the other kind is fine
    EXPECT_NO_THROW(one.add(info));
}

template <class Map>
std::vector<std::string> keys(const Map& map) {
    std::vector<std::string> out;
    for (const auto& [key, value] : map) out.push_back(key);
    return out;
}

TEST(register, every_implemented_type_has_a_factory_and_every_factory_is_declared) {
    connector_factories f;
    register_builtin_factories(f);
    for (const auto kind : {component_kind::input, component_kind::output}) {
        for (const auto* info : builtin().all(kind)) {
            const bool has_factory = kind == component_kind::input ? f.inputs.contains(info->type)
                                                                   : f.outputs.contains(info->type);
            EXPECT_EQ(has_factory, info->implemented) << info->type;
        }
    }
    for (const auto& [type, make] : f.inputs) {
        const auto* info = builtin().find(component_kind::input, type);
        ASSERT_NE(info, nullptr) << type;
        EXPECT_TRUE(info->implemented) << type;
        EXPECT_TRUE(make) << type;
    }
    for (const auto& [type, make] : f.outputs) {
        const auto* info = builtin().find(component_kind::output, type);
        ASSERT_NE(info, nullptr) << type;
        EXPECT_TRUE(info->implemented) << type;
        EXPECT_TRUE(make) << type;
    }
    EXPECT_THAT(keys(f.inputs), ElementsAre("file", "generator", "kafka", "stdin", "tcp", "udp"));
    EXPECT_THAT(keys(f.outputs), ElementsAre("alertmanager", "console", "file", "http", "kafka"));

    EXPECT_THROW(register_builtin_factories(f), std::logic_error);
}

// A made-up type, for lists that must be refused.
connector_descriptor descriptor(component_kind kind, bool implemented, bool input_factory,
                                bool output_factory, std::string type = "mqtt") {
    connector_descriptor d;
    d.info.type = std::move(type);
    d.info.kind = kind;
    d.info.implemented = implemented;
    if (input_factory) {
        d.make_input = [](const params::reader&, const input_context&) {
            return std::unique_ptr<input>();
        };
    }
    if (output_factory) {
        d.make_output = [](const params::reader&, const output_context&) {
            return std::shared_ptr<output>();
        };
    }
    return d;
}

// Both registrations refuse `list` with `message`, adding nothing.
void expect_refused(const std::vector<connector_descriptor>& list, const std::string& message) {
    params::component_registry registry;
    EXPECT_THAT([&] { register_connectors(list, registry); },
                ThrowsMessage<std::logic_error>(HasSubstr(message)));
    EXPECT_THAT(registry.types(component_kind::input), IsEmpty());
    EXPECT_THAT(registry.types(component_kind::output), IsEmpty());
    connector_factories factories;
    EXPECT_THAT([&] { register_factories(list, factories); },
                ThrowsMessage<std::logic_error>(HasSubstr(message)));
    EXPECT_THAT(factories.inputs, IsEmpty());
    EXPECT_THAT(factories.outputs, IsEmpty());
}

TEST(register, implemented_type_without_factory_is_refused) {
    const auto ok = descriptor(component_kind::input, true, true, false, "file");
    expect_refused({ok, descriptor(component_kind::input, true, false, false)},
                   "input type \"mqtt\" is marked implemented but has no factory");
    expect_refused({descriptor(component_kind::output, true, false, false)},
                   "output type \"mqtt\" is marked implemented but has no factory");
}

TEST(register, factory_of_a_type_not_implemented_is_refused) {
    expect_refused({descriptor(component_kind::input, false, true, false)},
                   "input type \"mqtt\" has a factory but is marked not implemented");
    expect_refused({descriptor(component_kind::output, false, false, true)},
                   "output type \"mqtt\" has a factory but is marked not implemented");
}

TEST(register, factory_of_the_other_kind_is_refused) {
    expect_refused({descriptor(component_kind::input, true, true, true)},
                   "input type \"mqtt\" carries an output factory");
    expect_refused({descriptor(component_kind::input, false, false, true)},
                   "input type \"mqtt\" carries an output factory");
    expect_refused({descriptor(component_kind::output, true, false, true),
                    descriptor(component_kind::output, true, true, false, "amqp")},
                   "output type \"amqp\" carries an input factory");
}

TEST(register, duplicate_type_is_refused) {
    expect_refused({descriptor(component_kind::input, true, true, false),
                    descriptor(component_kind::output, true, false, true),
                    descriptor(component_kind::input, false, false, false)},
                   "input type \"mqtt\" is listed twice");
}

TEST(register, consistent_list_fills_both) {
    const std::vector<connector_descriptor> list = {
        descriptor(component_kind::input, true, true, false),
        descriptor(component_kind::output, true, false, true),  // the same name, other kind
        descriptor(component_kind::input, false, false, false, "amqp"),
    };
    params::component_registry registry;
    register_connectors(list, registry);
    EXPECT_THAT(registry.types(component_kind::input), ElementsAre("amqp", "mqtt"));
    EXPECT_THAT(registry.types(component_kind::output), ElementsAre("mqtt"));
    EXPECT_FALSE(registry.find(component_kind::input, "amqp")->implemented);
    connector_factories factories;
    register_factories(list, factories);
    EXPECT_THAT(keys(factories.inputs), ElementsAre("mqtt"));
    EXPECT_THAT(keys(factories.outputs), ElementsAre("mqtt"));
    // Registering again: the types are there already.
    EXPECT_THAT([&] { register_connectors(list, registry); },
                ThrowsMessage<std::logic_error>(HasSubstr("input type \"mqtt\"")));
    EXPECT_THAT([&] { register_factories(list, factories); },
                ThrowsMessage<std::logic_error>(HasSubstr("input type \"mqtt\"")));
}

using test::expect_documented;

TEST(register, every_parameter_is_documented) {
    for (const auto kind : {component_kind::input, component_kind::output}) {
        for (const auto* info : builtin().all(kind)) {
            ASSERT_NE(info->spec, nullptr) << info->type;
            EXPECT_FALSE(info->description.empty()) << info->type;
            EXPECT_EQ(info->kind, kind);
            // The registry's declarations cover the parameters besides `type`.
            EXPECT_EQ(info->spec->find("type"), nullptr) << info->type;
            expect_documented(*info->spec, info->type);
        }
    }
}

TEST(kafka_input, topics_or_pattern_exactly_one) {
    auto base = [](std::vector<std::pair<std::string, value>> extra) {
        std::vector<std::pair<std::string, value>> e;
        e.emplace_back("brokers", scalar("k:9092"));
        e.emplace_back("group", scalar("g"));
        for (auto& x : extra) e.push_back(std::move(x));
        return mapping(std::move(e));
    };
    EXPECT_THAT(validate(component_kind::input, "kafka", base({{"topics", list({scalar("t")})}})),
                ElementsAre());
    EXPECT_THAT(validate(component_kind::input, "kafka", base({})),
                ElementsAre(HasSubstr("one of \"topics\" or \"topic_pattern\" is required")));
    EXPECT_THAT(validate(component_kind::input, "kafka",
                         base({{"topics", scalar("t")}, {"topic_pattern", scalar("^t")}})),
                ElementsAre(HasSubstr("cannot be used together")));
}

TEST(kafka_input, passthrough_cannot_override_what_weir_sets) {
    const value v = mapping({{"brokers", scalar("k:9092")},
                             {"group", scalar("g")},
                             {"topics", scalar("t")},
                             {"kafka", mapping({{"bootstrap.servers", scalar("other:9092")},
                                                {"enable.auto.commit", scalar("true")},
                                                {"sasl.password", scalar("pw", true)}})}});
    EXPECT_THAT(validate(component_kind::input, "kafka", v),
                ElementsAre("x.kafka.bootstrap.servers: set by weir; use `brokers:` instead",
                            HasSubstr("x.kafka.enable.auto.commit: weir commits offsets itself")));
}

TEST(csv, options_only_with_csv_format_and_single_characters) {
    EXPECT_THAT(validate(component_kind::input, "stdin",
                         mapping({{"csv", mapping({{"delimiter", scalar(";")}})}})),
                ElementsAre("x.csv: csv options apply only with format: csv"));
    EXPECT_THAT(
        validate(
            component_kind::input, "stdin",
            mapping({{"format", scalar("csv")},
                     {"csv", mapping({{"delimiter", scalar("\t")}, {"quote", scalar("\t")}})}})),
        ElementsAre("x.csv.quote: the quote character must differ from the delimiter"));
    EXPECT_THAT(validate(component_kind::input, "stdin",
                         mapping({{"format", scalar("csv")},
                                  {"csv", mapping({{"header", scalar("false")}})}})),
                ElementsAre(HasSubstr("\"columns\" is required when header is \"false\"")));
}

TEST(generator, problems_name_declared_fields_and_existing_groups) {
    auto gen = [](value problem) {
        return mapping({{"groups", scalar("3")},
                        {"group_prefix", scalar("sensor-")},
                        {"fields", mapping({{"temp", mapping({{"type", scalar("number")}})},
                                            {"state", mapping({{"type", scalar("string")}})}})},
                        {"problems", list({std::move(problem)})}});
    };
    EXPECT_THAT(
        validate(component_kind::input, "generator",
                 gen(mapping({{"type", scalar("silent_group")}, {"group", scalar("sensor-3")}}))),
        ElementsAre());
    EXPECT_THAT(
        validate(component_kind::input, "generator",
                 gen(mapping({{"type", scalar("silent_group")}, {"group", scalar("sensor-4")}}))),
        ElementsAre("x.problems[0].group: unknown group \"sensor-4\"; groups are "
                    "sensor-1 .. sensor-3"));
    EXPECT_THAT(validate(component_kind::input, "generator",
                         gen(mapping({{"type", scalar("stuck_value")}, {"field", scalar("tmp")}}))),
                ElementsAre("x.problems[0].field: unknown field \"tmp\"; fields: temp, state"));
    EXPECT_THAT(
        validate(component_kind::input, "generator",
                 gen(mapping({{"type", scalar("out_of_range")}, {"field", scalar("state")}}))),
        ElementsAre(HasSubstr("out_of_range needs a number or integer field")));
    EXPECT_THAT(validate(component_kind::input, "generator",
                         gen(mapping({{"type", scalar("burst")}, {"field", scalar("temp")}}))),
                ElementsAre(HasSubstr("\"field\" cannot be used when type is \"burst\"")));
}

TEST(generator, start_time_is_now_a_duration_before_now_or_rfc3339) {
    auto with_start = [](const std::string& start) {
        return validate(
            component_kind::input, "generator",
            mapping({{"start_time", scalar(start)},
                     {"fields", mapping({{"v", mapping({{"type", scalar("integer")}})}})}}));
    };
    for (const char* ok : {"now", "2026-11-20T10:00:00Z", "2026-11-20T10:00:00.5+01:00",
                           "2026-11-20t10:00:00.123456z", "-2d", "-1d12h", "-90s"}) {
        EXPECT_THAT(with_start(ok), ElementsAre()) << ok;
    }
    for (const char* bad :
         {"today", "2026-11-20", "2026-11-20T10:00Z", "2026-11-20T10:00:00",
          "2026-11-20T10:00:00.Z", "2026-11-20T10:00:00+0100", "-", "-2days", "2d", "-1h2d"}) {
        EXPECT_THAT(with_start(bad),
                    ElementsAre(HasSubstr("expected \"now\", a duration before now such as "
                                          "\"-2d\", or an RFC 3339")))
            << bad;
    }
}

TEST(alertmanager, resolve_timeout_must_exceed_resend_interval) {
    auto am = [](std::vector<std::pair<std::string, value>> extra) {
        std::vector<std::pair<std::string, value>> e;
        e.emplace_back("url", scalar("http://am:9093"));
        for (auto& x : extra) e.push_back(std::move(x));
        return validate(component_kind::output, "alertmanager", mapping(std::move(e)));
    };
    EXPECT_THAT(am({}), ElementsAre());
    EXPECT_THAT(am({{"resend_interval", scalar("5m")}}),
                ElementsAre("x.resend_interval: resolve_timeout (5m) must exceed resend_interval "
                            "(5m), or alerts flap between resends"));
    EXPECT_THAT(am({{"resolve_timeout", scalar("30s")}}),
                ElementsAre(HasSubstr("x.resolve_timeout: resolve_timeout (30s)")));
}

TEST(http, urls_and_tls) {
    auto http = [](const std::string& url, bool tls) {
        std::vector<std::pair<std::string, value>> e;
        e.emplace_back("url", scalar(url));
        if (tls) e.emplace_back("tls", mapping({{"verify", scalar("false")}}));
        return validate(component_kind::output, "http", mapping(std::move(e)));
    };
    EXPECT_THAT(http("https://h/x", true), ElementsAre());
    EXPECT_THAT(http("http://h:8080", false), ElementsAre());
    EXPECT_THAT(http("http://h", true), ElementsAre("x.tls: tls options need an https:// url"));
    EXPECT_THAT(http("h:8080", false), ElementsAre(HasSubstr("expected an http:// or https://")));
    EXPECT_THAT(http("https:///x", false), ElementsAre(HasSubstr("expected an http://")));
    EXPECT_THAT(validate(component_kind::output, "http",
                         mapping({{"url", scalar("https://h")},
                                  {"tls", mapping({{"cert_file", scalar("/c.pem")}})}})),
                ElementsAre("x.tls: cert_file needs key_file"));
}

TEST(common, host_port) {
    auto check = [](const std::string& text) {
        diagnostics d;
        check_host_port(mapping({{"listen", scalar(text)}}), "listen", "x", d);
        return !d.has_errors();
    };
    for (const char* ok : {"0.0.0.0:5170", "localhost:0", "[::]:5170", "[::1]:65535", "h:1"}) {
        EXPECT_TRUE(check(ok)) << ok;
    }
    for (const char* bad : {"5170", ":5170", "host:", "::1:80", "h:65536", "h:-1", "h:+80",
                            "[::1]80", "[]:80", "h:8o"}) {
        EXPECT_FALSE(check(bad)) << bad;
    }
}

TEST(common, secret_values_are_not_shown) {
    diagnostics d;
    check_host_port(mapping({{"listen", scalar("s3cret", true)}}), "listen", "x", d);
    check_http_url(mapping({{"url", scalar("s3cret", true)}}), "url", "x", d);
    ASSERT_EQ(d.error_count(), 2u);
    for (const auto& i : d.items()) {
        EXPECT_EQ(format(i).find("s3cret"), std::string::npos) << format(i);
        EXPECT_THAT(i.message, HasSubstr("(a secret value)"));
    }
}

TEST(console, colours_only_for_text) {
    EXPECT_THAT(validate(component_kind::output, "console",
                         mapping({{"format", scalar("json")}, {"color", scalar("never")}})),
                ElementsAre("x: \"color\" cannot be used when format is \"json\""));
    EXPECT_THAT(validate(component_kind::output, "console", mapping({{"color", scalar("always")}})),
                ElementsAre());
}

}  // namespace
}  // namespace weir::connectors
