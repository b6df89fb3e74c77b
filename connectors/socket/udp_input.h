// The udp input at run time: records in datagrams, received on the query's strand and
// delivered in batches.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "connectors/runtime.h"

namespace weir::connectors {

namespace detail {
class udp_impl;
}

// A datagram holds one or more newline-separated records; a datagram without a trailing
// newline gets one, and an empty datagram holds nothing. Whenever the socket is readable the
// input drains what the kernel has queued (up to a batch limit) into one buffer and hands it
// over in a single on_data(), so a fast sender does not cost one callback per datagram.
//
// A datagram longer than max_datagram_size is truncated by the kernel: it is dropped whole and
// reported as too_long. UDP has no flow control: while paused nothing is read and the kernel
// drops what overflows its receive buffer (receive_buffer_size). A port that cannot be bound
// fails the input (on_failure). position() is empty; bounded() is false.
class udp_input final : public input {
  public:
    udp_input(const params::reader& p, const input_context& ctx);
    ~udp_input() override;
    udp_input(const udp_input&) = delete;
    udp_input& operator=(const udp_input&) = delete;

    void start(input_events& events) override;
    void pause() override;
    void resume() override;
    void stop() override;
    std::string position() const override { return {}; }
    bool restore(std::string_view position, std::string& error) override;
    bool bounded() const override { return false; }

    // The bound port once start() succeeded (useful with port 0); 0 before or after a failure.
    std::uint16_t local_port() const;

  private:
    std::shared_ptr<detail::udp_impl> impl_;
};

}  // namespace weir::connectors
