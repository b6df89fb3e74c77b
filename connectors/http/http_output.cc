// The http (webhook) output: batching on top of the shared delivery queue.
#include "connectors/http/http_output.h"

#include <boost/asio/post.hpp>
#include <stdexcept>

namespace weir::connectors {

http_output::http_output(const output_context& ctx, http_output_options options)
    : executor_(ctx.executor),
      options_(std::move(options)),
      delivery_(std::make_shared<http_delivery>(ctx.executor, options_.delivery)),
      batch_timer_(ctx.executor) {}

void http_output::write_result(const check_result& result) {
    std::unique_lock lock(mutex_);
    if (stopped_) return;
    if (options_.json_array) batch_ += batch_records_ == 0 ? '[' : ',';
    append_json(result, batch_);
    if (!options_.json_array) batch_ += '\n';
    ++batch_records_;
    open_records_ = batch_records_;
    if (batch_records_ >= options_.batch_max_records || options_.batch_timeout.count() == 0) {
        seal_and_send_locked();
    } else if (batch_records_ == 1) {
        const std::uint64_t generation = batch_generation_;
        lock.unlock();
        boost::asio::post(executor_, [self = shared_from_this(), generation] {
            self->arm_batch_timer(generation);
        });
    }
}

void http_output::write_record(std::string_view) {}

void http_output::end_of_results() {
    {
        std::lock_guard lock(mutex_);
        if (stopped_ || batch_records_ == 0 || end_posted_) return;
        end_posted_ = true;
    }
    // On the strand: other nodes ending about now (several queries, one output) share the batch.
    boost::asio::post(executor_, [self = shared_from_this()] {
        std::lock_guard lock(self->mutex_);
        self->end_posted_ = false;
        self->seal_and_send_locked();
    });
}

void http_output::seal_and_send_locked() {
    if (batch_records_ == 0) return;
    if (options_.json_array) batch_ += ']';
    // Posted with the lock held, so batches reach the strand in the order they were sealed.
    in_transit_ += batch_records_;
    boost::asio::post(executor_, [self = shared_from_this(), body = std::move(batch_),
                                  records = batch_records_]() mutable {
        self->delivery_->enqueue(std::move(body), records);
        self->in_transit_ -= records;
    });
    batch_.clear();
    batch_records_ = 0;
    open_records_ = 0;
    ++batch_generation_;
}

void http_output::arm_batch_timer(std::uint64_t generation) {
    {
        std::lock_guard lock(mutex_);
        if (generation != batch_generation_) return;  // sealed meanwhile (full, or flushed)
    }
    batch_timer_.expires_after(options_.batch_timeout);
    batch_timer_.async_wait(
        [self = shared_from_this(), generation](const boost::system::error_code& ec) {
            if (ec) return;
            std::lock_guard lock(self->mutex_);
            if (generation == self->batch_generation_) self->seal_and_send_locked();
        });
}

void http_output::flush(std::function<void(bool ok, const std::string& error)> done) {
    std::lock_guard lock(mutex_);
    seal_and_send_locked();
    boost::asio::post(executor_, [self = shared_from_this(), done = std::move(done)]() mutable {
        self->delivery_->when_idle(std::move(done));
    });
}

void http_output::stop(std::function<void()> done) {
    std::lock_guard lock(mutex_);
    seal_and_send_locked();
    stopped_ = true;
    boost::asio::post(executor_, [self = shared_from_this(), done = std::move(done)]() mutable {
        self->batch_timer_.cancel();
        self->delivery_->when_idle([self, done = std::move(done)](bool, const std::string&) {
            self->delivery_->close();
            done();
        });
    });
}

void http_output::begin_shutdown() {
    boost::asio::post(executor_, [self = shared_from_this()] { self->delivery_->stop_retrying(); });
}

output_stats http_output::stats() const {
    return {.records = delivery_->delivered_records(),
            .errors = delivery_->failed_requests(),
            .dropped = delivery_->dropped_records()};
}

std::uint64_t http_output::pending() const {
    return open_records_.load() + in_transit_.load() + delivery_->pending_records();
}

void http_output::drop_oldest(std::uint64_t records) {
    boost::asio::post(
        executor_, [self = shared_from_this(), records] { self->delivery_->drop_oldest(records); });
}

std::shared_ptr<output> make_http_output(const params::reader& p, const output_context& ctx) {
    http_output_options options;
    std::string error;
    const auto url = http_url::parse(p.string("url").value, error);
    if (!url) throw std::runtime_error("url: " + error);
    options.delivery.url = *url;
    options.delivery.method = p.string("method").value == "PUT" ? boost::beast::http::verb::put
                                                                : boost::beast::http::verb::post;
    options.json_array = p.string("encoding").value == "json_array";
    options.delivery.content_type =
        options.json_array ? "application/json" : "application/x-ndjson";
    read_http_common(p, options.delivery);
    options.delivery.retry_backoff = p.duration("retry_backoff").value;
    options.batch_max_records = static_cast<std::size_t>(p.integer("batch_max_records").value);
    options.batch_timeout = p.duration("batch_timeout").value;
    return std::make_shared<http_output>(ctx, std::move(options));
}

}  // namespace weir::connectors
