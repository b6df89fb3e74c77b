// The http (webhook) output: check results sent in batches, as JSON lines or one JSON array per
// request, with retries (connectors/http/http_client.h).
#pragma once

#include <atomic>
#include <boost/asio/steady_timer.hpp>
#include <memory>
#include <mutex>
#include <string>

#include "connectors/http/http_client.h"
#include "connectors/runtime.h"

namespace weir::connectors {

struct http_output_options {
    http_delivery_options delivery;
    bool json_array = false;  // encoding: json_array (else ndjson)
    std::size_t batch_max_records = 100;
    std::chrono::milliseconds batch_timeout{1000};  // 0: every result goes at once
};

// A batch goes when it holds batch_max_records, batch_timeout after its first result, or when
// a node has written every result of the windows it closed (end_of_results: what is open when
// the strand next runs goes then, so the results of one window close leave together, not a
// batch_timeout later). flush() seals the open batch and completes when every batch so far
// was delivered or given up (ok=false then). stats().errors counts requests given up. Records
// (write_record) are not for this output (it is not registered with accepts_records) and are
// ignored.
class http_output final : public output, public std::enable_shared_from_this<http_output> {
  public:
    http_output(const output_context& ctx, http_output_options options);

    void write_result(const check_result& result) override;
    void write_record(std::string_view json) override;
    void end_of_results() override;
    void flush(std::function<void(bool ok, const std::string& error)> done) override;
    void stop(std::function<void()> done) override;
    output_stats stats() const override;
    std::uint64_t pending() const override;
    std::string blocked() const override { return delivery_->blocked(); }
    void drop_oldest(std::uint64_t records) override;
    void begin_shutdown() override;

  private:
    // With mutex_ held: closes the open batch (if any) and queues it for delivery.
    void seal_and_send_locked();
    void arm_batch_timer(std::uint64_t generation);  // on the strand

    boost::asio::any_io_executor executor_;
    const http_output_options options_;
    std::shared_ptr<http_delivery> delivery_;  // strand only

    std::mutex mutex_;  // the open batch: producers run on any thread
    std::string batch_;
    std::uint64_t batch_records_ = 0;
    // Records of sealed batches on their way to the strand (not yet in the delivery queue).
    std::atomic<std::uint64_t> in_transit_{0};
    std::atomic<std::uint64_t> open_records_{0};  // batch_records_, readable without the lock
    std::uint64_t batch_generation_ = 0;          // bumped when a batch is sealed
    bool stopped_ = false;
    bool end_posted_ = false;  // end_of_results() since the strand last sealed for it

    boost::asio::steady_timer batch_timer_;  // strand only
};

std::shared_ptr<output> make_http_output(const params::reader& p, const output_context& ctx);

}  // namespace weir::connectors
