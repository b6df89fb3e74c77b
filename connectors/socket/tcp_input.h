// The tcp input at run time: listens on `listen`, accepts many clients and reads
// newline-delimited records from each, all on the query's strand.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ip/address.hpp>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "connectors/common/input_facade.h"
#include "connectors/runtime.h"

namespace weir::connectors {

// `listen` (host:port, "[v6]:port", a host name, port 0 = chosen by the system) as an address.
// Names are resolved here, synchronously: set-up time only. Shared by the tcp and udp inputs.
struct listen_address {
    boost::asio::ip::address address;
    std::uint16_t port = 0;
};
bool resolve_listen(std::string_view listen, const boost::asio::any_io_executor& executor,
                    listen_address& out, std::string& error);

namespace detail {
class tcp_impl;
}
// Instantiated in tcp_input.cc, where tcp_impl is complete.
extern template class input_facade<detail::tcp_impl>;

// Each connection has its own line framer (connectors/common/line_framer.h): a line is
// delivered once its newline arrives, in one on_records() holding lines of that connection
// only (all with the input's one source ""). A client that closes its side cleanly ends its
// last line (a final line without newline is a record, as at the end of stdin); a client that
// resets loses its unterminated line, reported as error_type=io. Lines over max_line_length
// (or the query's max_record_size) are skipped to their newline and reported as too_long; the
// connection stays open.
//
// Connections beyond max_connections are accepted and closed at once (reported as io), so
// a client sees a refusal rather than a hang. connection_timeout closes a connection that sent
// nothing for that long (not counting time paused); an unterminated line it held is reported
// as protocol. pause() stops reading every connection, so TCP flow control pushes back on the
// clients; accepting goes on. A port that cannot be bound fails the input (on_failure).
//
// Sockets cannot be replayed: position() is empty, restore() accepts only an empty position,
// and the input never ends by itself (bounded() is false).
class tcp_input final : public input_facade<detail::tcp_impl> {
  public:
    tcp_input(const params::reader& p, const input_context& ctx);

    // The bound port once start() succeeded (useful with port 0); 0 before or after a failure.
    std::uint16_t local_port() const;
    // Connections currently open.
    std::size_t connections() const;
};

std::unique_ptr<input> make_tcp_input(const params::reader& p, const input_context& ctx);

}  // namespace weir::connectors
