// Parameters of the Kafka input and output.
#include "connectors/kafka/kafka_spec.h"

#include <librdkafka/rdkafka.h>

#include <array>
#include <string>

#include "connectors/common/common_spec.h"

namespace weir::connectors {

using params::object_spec;
using params::param_spec;
using params::param_type;
using params::string_role;

namespace {

param_spec brokers_param() {
    return {.name = "brokers",
            .type = param_type::string_list,
            .description =
                "Bootstrap brokers as host:port: a list, or one comma-separated "
                "string such as ${KAFKA_BROKERS}.",
            .required = true};
}

param_spec passthrough_param() {
    return {.name = "kafka",
            .type = param_type::string_map,
            .description =
                "librdkafka properties passed through unchanged, e.g. "
                "security.protocol, sasl.mechanism, sasl.username, "
                "sasl.password: ${KAFKA_PASSWORD}. Values whose property names a secret "
                "(sasl.password, ssl.key.password, sasl.oauthbearer.client.secret …) are "
                "never printed."};
}

param_spec client_id_param() {
    return {.name = "client_id",
            .type = param_type::string,
            .description = "client.id reported to the brokers.",
            .default_text = "weir"};
}

// Properties weir sets itself: a `kafka:` entry must not override them, or offsets would be
// committed before the checkpoint that covers them.
void check_passthrough(const params::value& v, const std::string& path, diagnostics& out,
                       bool input) {
    const params::value* map = v.find("kafka");
    if (map == nullptr || !map->is_mapping()) return;
    // Properties librdkafka itself refuses (unknown names, values it cannot parse) would stop
    // `weir run`; they are checked here, against the library this build links.
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    std::array<char, 512> errstr{};
    for (const auto& e : map->entries) {
        if (e.val.is_scalar() &&
            rd_kafka_conf_set(conf, e.key.c_str(), e.val.text.c_str(), errstr.data(),
                              errstr.size()) != RD_KAFKA_CONF_OK) {
            out.error(e.val.pos, path + ".kafka." + e.key, errstr.data());
        }
    }
    rd_kafka_conf_destroy(conf);
    for (const auto& e : map->entries) {
        std::string replacement;
        if (e.key == "bootstrap.servers" || e.key == "metadata.broker.list") {
            replacement = "brokers";
        } else if (e.key == "client.id") {
            replacement = "client_id";
        } else if (input && e.key == "group.id") {
            replacement = "group";
        } else if (input && e.key == "auto.offset.reset") {
            replacement = "start";
        } else if (input &&
                   (e.key == "enable.auto.commit" || e.key == "enable.auto.offset.store")) {
            out.error(e.key_pos, path + ".kafka." + e.key,
                      "weir commits offsets itself, after each checkpoint; remove this property");
            continue;
        } else {
            continue;
        }
        out.error(e.key_pos, path + ".kafka." + e.key,
                  "set by weir; use `" + replacement + ":` instead");
    }
}

std::shared_ptr<const object_spec> make_input_spec() {
    auto spec = std::make_shared<object_spec>();
    spec->name = "kafka input";
    spec->description =
        "Consumes topics as a member of a consumer group. Offsets are committed only after the "
        "checkpoint that covers them, so a crash neither loses nor double-counts records.";
    spec->params = {
        brokers_param(),
        {.name = "topics",
         .type = param_type::string_list,
         .description = "Topics to read (one name or a list)."},
        {.name = "topic_pattern",
         .type = param_type::string,
         .description = "A regular expression (RE2) of topics to read, e.g. \"^sensor-.*\"; new "
                        "matching topics are picked up.",
         .role = string_role::regex},
        {.name = "group",
         .type = param_type::string,
         .description = "Consumer group id. Daemons sharing a group share the partitions. When "
                        "several nodes (queries) read the input, each reads all of it in the "
                        "group \"<group>.<node>\".",
         .required = true},
        {.name = "start",
         .type = param_type::enumeration,
         .description = "Where to start in a partition without a committed offset.",
         .default_text = "latest",
         .choices = {"earliest", "latest"}},
        {.name = "max_record_size",
         .type = param_type::size,
         .description = "Largest accepted message; larger ones are skipped and counted as "
                        "errors (error_type=too_long).",
         .default_text = "1MiB",
         .minimum = 16,
         .maximum = 1024.0 * 1024 * 1024},
        {.name = "key_field",
         .type = param_type::string,
         .description = "Store each message's key (as a string) in this record field."},
        {.name = "partials_topic",
         .type = param_type::string,
         .description =
             "Several daemons share this input's group: each publishes what its lanes hand over "
             "to this topic, and merges the partitions of it that the group "
             "\"<group>.partials.<query>\" gives it, so together they emit the results of one "
             "daemon. The topic must exist; not with topic_pattern; ignored by --once."},
        {.name = "partials_max_held",
         .type = param_type::size,
         .description =
             "With partials_topic: the most a daemon holds back of what its lanes hand over "
             "while the cut they follow is not committed (commits failing, the broker away). "
             "Above it the input pauses, until a commit goes through and the held partials "
             "are published.",
         .default_text = "64MiB",
         .minimum = 1024,
         .maximum = 16.0 * 1024 * 1024 * 1024},
        client_id_param(),
        passthrough_param(),
    };
    add_format_params(spec->params);
    spec->rules = {
        {.rule = params::key_rule::kind::exactly_one, .keys = {"topics", "topic_pattern"}}};
    spec->check = [](const params::value& v, const std::string& path, diagnostics& out) {
        check_format_params(v, path, out);
        check_passthrough(v, path, out, true);
        if (const params::value* partials = v.find("partials_topic");
            partials != nullptr && v.find("topic_pattern") != nullptr) {
            out.error(partials->pos, path + ".partials_topic",
                      "partials_topic needs `topics`: every daemon must know every partition of "
                      "the input, and a pattern's topics come and go");
        }
        const params::value* key = v.find("key_field");
        const params::value* format = v.find("format");
        if (key != nullptr && format != nullptr && format->is_scalar() && format->text != "json") {
            out.error(key->pos, path + ".key_field",
                      "key_field needs format: json (the key becomes a field of the JSON object)");
        }
    };
    return spec;
}

std::shared_ptr<const object_spec> make_output_spec() {
    auto spec = std::make_shared<object_spec>();
    spec->name = "kafka output";
    spec->description = "Produces check results, one JSON object per message, to a topic.";
    spec->params = {
        brokers_param(),
        {.name = "topic",
         .type = param_type::string,
         .description = "The topic to write.",
         .required = true},
        {.name = "key",
         .type = param_type::enumeration,
         .description = "Message key: the result's stable id (re-emitted results compact "
                        "away), its group as JSON, or none.",
         .default_text = "id",
         .choices = {"id", "group", "none"}},
        {.name = "timeout",
         .type = param_type::duration,
         .description = "How long a message may wait for delivery before it counts as an "
                        "output error.",
         .default_text = "30s",
         .minimum = 100},
        {.name = "exactly_once",
         .type = param_type::boolean,
         .description = "Write in transactions, one per checkpoint, with a transactional.id "
                        "stable per pipeline and output: a restart fences the instance before "
                        "it and aborts what it left open, so read_committed consumers see each "
                        "result once.",
         .default_text = "false"},
        client_id_param(),
        passthrough_param(),
    };
    spec->check = [](const params::value& v, const std::string& path, diagnostics& out) {
        check_passthrough(v, path, out, false);
        const params::value* map = v.find("kafka");
        if (map == nullptr || !map->is_mapping()) return;
        for (const auto& e : map->entries) {
            if (e.key == "transactional.id") {
                out.error(e.key_pos, path + ".kafka." + e.key,
                          "set by weir; use `exactly_once: true` instead");
            }
        }
    };
    return spec;
}

}  // namespace

params::component_info kafka_input_component() {
    return {.type = "kafka",
            .kind = params::component_kind::input,
            .description = "Consume Kafka topics as a consumer group member.",
            .spec = make_input_spec(),
            .implemented = true};
}

params::component_info kafka_output_component() {
    return {.type = "kafka",
            .kind = params::component_kind::output,
            .description = "Produce check results to a Kafka topic.",
            .spec = make_output_spec(),
            .implemented = true};
}

}  // namespace weir::connectors
