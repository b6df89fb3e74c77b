// The udp input at run time: records in datagrams, received on the query's strand and
// delivered in batches.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "connectors/common/input_facade.h"
#include "connectors/runtime.h"

namespace weir::connectors {

namespace detail {
class udp_impl;
}
// Instantiated in udp_input.cc, where udp_impl is complete.
extern template class input_facade<detail::udp_impl>;

// A datagram holds one or more newline-separated records; a datagram without a trailing
// newline gets one, and an empty datagram holds nothing. Whenever the socket is readable the
// input drains what the kernel has queued (up to a batch limit) into one buffer and hands it
// over in a single on_records() (from the input's one source ""), so a fast sender does not
// cost one callback per datagram.
//
// A datagram longer than max_datagram_size is truncated by the kernel: it is dropped whole and
// reported as too_long. UDP has no flow control: while paused nothing is read and the kernel
// drops what overflows its receive buffer (receive_buffer_size). A port that cannot be bound
// fails the input (on_failure). position() is empty; bounded() is false.
class udp_input final : public input_facade<detail::udp_impl> {
  public:
    udp_input(const params::reader& p, const input_context& ctx);

    // The bound port once start() succeeded (useful with port 0); 0 before or after a failure.
    std::uint16_t local_port() const;
};

std::unique_ptr<input> make_udp_input(const params::reader& p, const input_context& ctx);

}  // namespace weir::connectors
