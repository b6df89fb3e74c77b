// The Kafka baseline of bench/kafka_bench: a bare librdkafka high-level consumer that reads
// a topic from the beginning to the end offsets and touches every message's bytes, nothing
// else. It takes messages the way weir's Kafka input does (batches from the consumer queue).
//
//   weir_kafka_bare_consumer BOOTSTRAP TOPIC GROUP
//
// Prints one JSON line: {"messages": N, "bytes": B, "cpu_s": S, "wall_s": W}, CPU time of
// the whole process (librdkafka's threads included).
#include <librdkafka/rdkafka.h>
#include <sys/resource.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <map>
#include <string>
#include <vector>

namespace {

double cpu_seconds() {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
           static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

void set(rd_kafka_conf_t* conf, const char* key, const char* value) {
    char errstr[512];
    if (rd_kafka_conf_set(conf, key, value, errstr, sizeof errstr) != RD_KAFKA_CONF_OK) {
        std::fprintf(stderr, "%s: %s\n", key, errstr);
        std::exit(2);
    }
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 4) {
        std::fprintf(stderr, "usage: weir_kafka_bare_consumer BOOTSTRAP TOPIC GROUP\n");
        return 64;
    }
    const auto started = std::chrono::steady_clock::now();
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    set(conf, "bootstrap.servers", argv[1]);
    set(conf, "group.id", argv[3]);
    set(conf, "auto.offset.reset", "earliest");
    set(conf, "enable.auto.commit", "false");
    set(conf, "enable.partition.eof", "true");
    set(conf, "log_level", "3");
    char errstr[512];
    rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
    if (rk == nullptr) {
        std::fprintf(stderr, "%s\n", errstr);
        return 1;
    }
    rd_kafka_poll_set_consumer(rk);
    rd_kafka_topic_partition_list_t* topics = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(topics, argv[2], RD_KAFKA_PARTITION_UA);
    rd_kafka_subscribe(rk, topics);
    rd_kafka_topic_partition_list_destroy(topics);
    rd_kafka_queue_t* queue = rd_kafka_queue_get_consumer(rk);

    // The end offsets, from the topic's metadata and each partition's high watermark.
    const rd_kafka_metadata_t* md = nullptr;
    rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk, argv[2], nullptr);
    if (rd_kafka_metadata(rk, 0, rkt, &md, 10000) != RD_KAFKA_RESP_ERR_NO_ERROR ||
        md->topic_cnt != 1) {
        std::fprintf(stderr, "no metadata for %s\n", argv[2]);
        return 1;
    }
    std::map<int, std::int64_t> end;
    for (int i = 0; i < md->topics[0].partition_cnt; ++i) {
        const int p = md->topics[0].partitions[i].id;
        std::int64_t low = 0, high = 0;
        rd_kafka_query_watermark_offsets(rk, argv[2], p, &low, &high, 10000);
        if (low != 0) std::fprintf(stderr, "partition %d starts at %lld\n", p, (long long)low);
        end[p] = high;
    }
    rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(rkt);

    std::size_t left = 0;
    for (const auto& [p, e] : end) left += e > 0 ? 1 : 0;
    std::uint64_t messages = 0, bytes = 0, checksum = 0;
    std::vector<rd_kafka_message_t*> batch(4096);
    while (left > 0) {
        const ssize_t n = rd_kafka_consume_batch_queue(queue, 1000, batch.data(), batch.size());
        for (ssize_t i = 0; i < n; ++i) {
            rd_kafka_message_t* m = batch[i];
            if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
                ++messages;
                bytes += m->len;
                if (m->len > 0) checksum += static_cast<const unsigned char*>(m->payload)[0];
                if (m->offset + 1 == end[m->partition]) --left;
            }
            rd_kafka_message_destroy(m);
        }
    }
    const double cpu = cpu_seconds();
    const double wall =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    std::printf(R"({"messages": %llu, "bytes": %llu, "cpu_s": %.3f, "wall_s": %.3f, "sum": %llu})"
                "\n",
                static_cast<unsigned long long>(messages), static_cast<unsigned long long>(bytes),
                cpu, wall, static_cast<unsigned long long>(checksum));
    rd_kafka_queue_destroy(queue);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return 0;
}
