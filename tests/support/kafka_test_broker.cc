// A Kafka cluster for tests: librdkafka's mock cluster (rdkafka_mock.h), which speaks the
// Kafka protocol on loopback, hosted in a process of its own so that weir and kcat connect to
// it as to any broker.
//
//   kafka_test_broker [--brokers N] [--topic NAME:PARTITIONS]...
//
// Prints `bootstrap HOST:PORT,...` on its first line, then reads commands from stdin, one per
// line, answering each with `ok` or `error: ...`:
//
//   create TOPIC PARTITIONS        a topic (replication factor 1)
//   down BROKER|all                a broker stops answering (its connections are closed)
//   up BROKER|all                  it answers again
//   rtt BROKER|all MS              round-trip delay of a broker's responses
//   error API_KEY ERROR [COUNT]    the next COUNT requests of an API fail with ERROR (numbers)
//   clear API_KEY                  the errors still queued for an API go
//   leader TOPIC PARTITION BROKER  moves a partition's leader
//   ping                           answers ok (a test's barrier)
//
// Stops on SIGTERM or SIGINT (stdin reaching its end does not stop it).
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

int broker_count = 3;

std::string run(rd_kafka_mock_cluster_t* cluster, const std::string& line) {
    std::istringstream in(line);
    std::string verb;
    in >> verb;
    auto brokers = [&](const std::string& which, auto&& apply) -> std::string {
        if (which == "all") {
            for (int b = 1; b <= broker_count; ++b) {
                if (const auto err = apply(b)) return rd_kafka_err2str(err);
            }
            return "";
        }
        const int b = std::atoi(which.c_str());
        if (b < 1 || b > broker_count) return "no broker " + which;
        const auto err = apply(b);
        return err ? rd_kafka_err2str(err) : "";
    };
    std::string error;
    if (verb == "ping") {
    } else if (verb == "create") {
        std::string topic;
        int partitions = 0;
        if (!(in >> topic >> partitions) || partitions < 1) return "error: create TOPIC PARTITIONS";
        if (const auto err = rd_kafka_mock_topic_create(cluster, topic.c_str(), partitions, 1)) {
            error = rd_kafka_err2str(err);
        }
    } else if (verb == "down" || verb == "up") {
        std::string which;
        if (!(in >> which)) return "error: " + verb + " BROKER|all";
        error = brokers(which, [&](int b) {
            return verb == "down" ? rd_kafka_mock_broker_set_down(cluster, b)
                                  : rd_kafka_mock_broker_set_up(cluster, b);
        });
    } else if (verb == "rtt") {
        std::string which;
        int ms = 0;
        if (!(in >> which >> ms)) return "error: rtt BROKER|all MS";
        error = brokers(which, [&](int b) { return rd_kafka_mock_broker_set_rtt(cluster, b, ms); });
    } else if (verb == "error") {
        int api = 0, code = 0;
        std::size_t count = 1;
        if (!(in >> api >> code)) return "error: error API_KEY ERROR [COUNT]";
        in >> count;
        std::vector<rd_kafka_resp_err_t> errors(count, static_cast<rd_kafka_resp_err_t>(code));
        rd_kafka_mock_push_request_errors_array(cluster, static_cast<int16_t>(api), count,
                                                errors.data());
    } else if (verb == "clear") {
        int api = 0;
        if (!(in >> api)) return "error: clear API_KEY";
        rd_kafka_mock_clear_request_errors(cluster, static_cast<int16_t>(api));
    } else if (verb == "leader") {
        std::string topic;
        int partition = 0, broker = 0;
        if (!(in >> topic >> partition >> broker)) return "error: leader TOPIC PARTITION BROKER";
        if (const auto err =
                rd_kafka_mock_partition_set_leader(cluster, topic.c_str(), partition, broker)) {
            error = rd_kafka_err2str(err);
        }
    } else {
        return "error: unknown command \"" + verb + "\"";
    }
    return error.empty() ? "ok" : "error: " + error;
}

}  // namespace

int main(int argc, char** argv) {
    std::vector<std::pair<std::string, int>> topics;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        if (arg == "--brokers" && i + 1 < argc) {
            broker_count = std::atoi(argv[++i]);
        } else if (arg == "--topic" && i + 1 < argc) {
            const std::string t = argv[++i];
            const auto colon = t.rfind(':');
            if (colon == std::string::npos) {
                topics.emplace_back(t, 1);
            } else {
                topics.emplace_back(t.substr(0, colon), std::atoi(t.c_str() + colon + 1));
            }
        } else {
            std::cerr << "usage: kafka_test_broker [--brokers N] [--topic NAME:PARTITIONS]...\n";
            return 64;
        }
    }
    if (broker_count < 1) {
        std::cerr << "kafka_test_broker: --brokers must be at least 1\n";
        return 64;
    }

    // Signals are taken by sigwait() below, so block them before librdkafka starts threads.
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
    signal(SIGPIPE, SIG_IGN);

    char errstr[512];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof errstr);
    rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (rk == nullptr) {
        std::cerr << "kafka_test_broker: " << errstr << "\n";
        return 1;
    }
    rd_kafka_mock_cluster_t* cluster = rd_kafka_mock_cluster_new(rk, broker_count);
    if (cluster == nullptr) {
        std::cerr << "kafka_test_broker: cannot create the mock cluster\n";
        return 1;
    }
    for (const auto& [name, partitions] : topics) {
        if (const auto err = rd_kafka_mock_topic_create(cluster, name.c_str(), partitions, 1)) {
            std::cerr << "kafka_test_broker: topic " << name << ": " << rd_kafka_err2str(err)
                      << "\n";
            return 1;
        }
    }
    std::cout << "bootstrap " << rd_kafka_mock_cluster_bootstraps(cluster) << std::endl;

    std::thread commands([cluster] {
        std::string line;
        while (std::getline(std::cin, line)) {
            if (line.empty()) continue;
            std::cout << run(cluster, line) << std::endl;
        }
    });
    commands.detach();

    int sig = 0;
    sigwait(&stop_signals, &sig);
    // The command thread may be inside a mock call: leave without tearing the cluster down
    // under it. The operating system closes the brokers' sockets.
    std::cout.flush();
    std::_Exit(0);
}
