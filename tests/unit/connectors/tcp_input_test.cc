// The tcp input on real loopback sockets: interleaved clients, partial and over-long lines,
// disconnects and resets, max_connections, idle timeouts, bind failures, pause and stop.
#include "connectors/socket/tcp_input.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "connectors/socket/socket_spec.h"
#include "tests/unit/connectors/socket_test_util.h"

namespace weir::connectors {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using namespace std::chrono_literals;

using test::recorder;

std::vector<std::string> sorted_lines(const std::string& text) {
    std::vector<std::string> lines;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    std::sort(lines.begin(), lines.end());
    return lines;
}

class tcp_input_test : public test::socket_input_fixture<tcp_input> {
  protected:
    tcp_input_test() : socket_input_fixture(tcp_input_component()) {}

    tcp::socket connect(std::uint16_t port) {
        tcp::socket s(client_io_);
        s.connect({asio::ip::make_address("127.0.0.1"), port});
        return s;
    }

    static void send(tcp::socket& s, const std::string& text) {
        asio::write(s, asio::buffer(text));
    }

    // Whether the server closed `s` (EOF or reset) within `limit`; drains whatever arrives.
    bool closed_by_server(tcp::socket& s, std::chrono::milliseconds limit = 5s) {
        s.non_blocking(true);
        const auto deadline = std::chrono::steady_clock::now() + limit;
        char buf[256];
        while (std::chrono::steady_clock::now() < deadline) {
            boost::system::error_code ec;
            s.read_some(asio::buffer(buf), ec);
            if (ec == asio::error::eof || ec == asio::error::connection_reset) return true;
            if (ec && ec != asio::error::would_block) return true;
            run_for(5ms);
        }
        return false;
    }
};

TEST_F(tcp_input_test, interleaved_clients_with_partial_lines) {
    recorder r;
    auto in = make({});
    EXPECT_FALSE(in->bounded());
    in->start(r);
    ASSERT_NE(in->local_port(), 0);
    auto a = connect(in->local_port());
    auto b = connect(in->local_port());
    auto c = connect(in->local_port());
    send(a, "{\"c\":\"a\",\"i\":1}\n{\"c\":\"a\",");
    send(b, "{\"c\":\"b\",\"i\":1}\n{\"c\":");
    send(c, "{\"c\":\"c\"");
    ASSERT_TRUE(run_until([&] { return r.data.size() >= 32; }));
    run_for(100ms);
    EXPECT_EQ(sorted_lines(r.data),
              (std::vector<std::string>{"{\"c\":\"a\",\"i\":1}", "{\"c\":\"b\",\"i\":1}"}));
    send(c, ",\"i\":1}\n");
    send(b, "\"b\",\"i\":2}\n");
    send(a, "\"i\":2}\n{\"c\":\"a\",\"i\":3}\n");
    ASSERT_TRUE(run_until([&] { return sorted_lines(r.data).size() == 6; }));
    EXPECT_EQ(sorted_lines(r.data),
              (std::vector<std::string>{"{\"c\":\"a\",\"i\":1}", "{\"c\":\"a\",\"i\":2}",
                                        "{\"c\":\"a\",\"i\":3}", "{\"c\":\"b\",\"i\":1}",
                                        "{\"c\":\"b\",\"i\":2}", "{\"c\":\"c\",\"i\":1}"}));
    // Each delivery holds lines of one connection only.
    for (const auto& batch : r.batches) {
        const auto lines = sorted_lines(batch);
        for (const auto& line : lines) EXPECT_EQ(line.substr(0, 8), lines.front().substr(0, 8));
    }
    EXPECT_EQ(in->connections(), 3u);
    EXPECT_TRUE(r.problems.empty());
    EXPECT_TRUE(r.failures.empty());
    EXPECT_EQ(in->position(), "");
    std::string error;
    EXPECT_TRUE(in->restore("", error));
    EXPECT_FALSE(in->restore("x", error));
}

TEST_F(tcp_input_test, many_lines_from_many_clients_all_arrive) {
    recorder r;
    auto in = make({});
    in->start(r);
    std::vector<tcp::socket> clients;
    for (int i = 0; i < 8; ++i) clients.push_back(connect(in->local_port()));
    std::vector<std::string> expected;
    for (int round = 0; round < 50; ++round) {
        for (std::size_t i = 0; i < clients.size(); ++i) {
            std::string text;
            for (int k = 0; k < 20; ++k) {
                const std::string line = std::to_string(i) + "-" + std::to_string(round * 20 + k);
                expected.push_back(line);
                text += line + "\n";
            }
            // Split at an odd place so lines straddle writes.
            const std::size_t cut = text.size() / 3;
            send(clients[i], text.substr(0, cut));
            send(clients[i], text.substr(cut));
        }
        run_for(1ms);
    }
    std::sort(expected.begin(), expected.end());
    ASSERT_TRUE(run_until([&] { return sorted_lines(r.data).size() >= expected.size(); }));
    EXPECT_EQ(sorted_lines(r.data), expected);
}

TEST_F(tcp_input_test, over_long_line_skipped_and_reported_next_line_fine) {
    recorder r;
    auto in = make({{"max_line_length", "16"}});
    in->start(r);
    auto a = connect(in->local_port());
    send(a, "short\n" + std::string(20, 'x'));
    ASSERT_TRUE(run_until([&] { return !r.problems.empty(); }));
    send(a, std::string(30, 'y'));  // still the same line
    run_for(50ms);
    send(a, "zz\nafter\nexactly-16-bytes\n" + std::string(17, 'w') + "\nlast\n");
    ASSERT_TRUE(run_until([&] { return r.data.ends_with("last\n"); }));
    EXPECT_EQ(r.data, "short\nafter\nexactly-16-bytes\nlast\n");
    ASSERT_EQ(r.problems.size(), 2u);
    for (const auto& p : r.problems) EXPECT_TRUE(p.starts_with("too_long: ")) << p;
    EXPECT_EQ(in->connections(), 1u);
}

TEST_F(tcp_input_test, disconnect_mid_line_ends_the_line_reset_drops_it) {
    recorder r;
    auto in = make({});
    in->start(r);
    {
        auto a = connect(in->local_port());
        send(a, "one\ntwo");
        a.shutdown(tcp::socket::shutdown_send);
        ASSERT_TRUE(run_until([&] { return r.data == "one\ntwo\n"; }));
        EXPECT_TRUE(closed_by_server(a));
    }
    ASSERT_TRUE(run_until([&] { return in->connections() == 0; }));
    {
        auto b = connect(in->local_port());
        send(b, "three\nfour");
        ASSERT_TRUE(run_until([&] { return r.data == "one\ntwo\nthree\n"; }));
        b.set_option(asio::socket_base::linger(true, 0));  // close sends a reset
        b.close();
    }
    ASSERT_TRUE(run_until([&] { return !r.problems.empty(); }));
    EXPECT_TRUE(r.problems[0].starts_with("io: ")) << r.problems[0];
    EXPECT_NE(r.problems[0].find("unterminated line of 4 bytes"), std::string::npos)
        << r.problems[0];
    run_for(50ms);
    EXPECT_EQ(r.data, "one\ntwo\nthree\n");
    EXPECT_EQ(in->connections(), 0u);
    EXPECT_TRUE(r.failures.empty());
}

TEST_F(tcp_input_test, max_connections_refuses_extra_clients) {
    recorder r;
    auto in = make({{"max_connections", "2"}});
    in->start(r);
    auto a = connect(in->local_port());
    auto b = connect(in->local_port());
    ASSERT_TRUE(run_until([&] { return in->connections() == 2; }));
    auto c = connect(in->local_port());
    ASSERT_TRUE(run_until([&] { return !r.problems.empty(); }));
    EXPECT_TRUE(r.problems[0].starts_with("io: ")) << r.problems[0];
    EXPECT_NE(r.problems[0].find("max_connections (2)"), std::string::npos);
    EXPECT_TRUE(closed_by_server(c));
    send(a, "a\n");
    send(b, "b\n");
    ASSERT_TRUE(run_until([&] { return r.data.size() == 4; }));
    a.close();
    ASSERT_TRUE(run_until([&] { return in->connections() == 1; }));
    auto d = connect(in->local_port());
    send(d, "d\n");
    ASSERT_TRUE(run_until([&] { return r.data.size() == 6; }));
    EXPECT_EQ(sorted_lines(r.data), (std::vector<std::string>{"a", "b", "d"}));
    EXPECT_EQ(r.problems.size(), 1u);
}

TEST_F(tcp_input_test, silent_connection_closed_after_timeout) {
    recorder r;
    auto in = make({{"connection_timeout", "200ms"}});
    in->start(r);
    auto a = connect(in->local_port());
    auto b = connect(in->local_port());
    send(a, "done\npartial");
    const auto begin = std::chrono::steady_clock::now();
    // b keeps talking, so it stays open.
    while (std::chrono::steady_clock::now() - begin < 500ms) {
        send(b, "tick\n");
        run_for(50ms);
    }
    EXPECT_TRUE(closed_by_server(a, 1s));
    EXPECT_EQ(in->connections(), 1u);
    ASSERT_EQ(r.problems.size(), 1u);
    EXPECT_TRUE(r.problems[0].starts_with("protocol: ")) << r.problems[0];
    EXPECT_TRUE(r.data.starts_with("done\n") || r.data.find("done\n") != std::string::npos);
    EXPECT_EQ(r.data.find("partial"), std::string::npos);
}

TEST_F(tcp_input_test, port_in_use_fails_the_input) {
    tcp::acceptor taken(client_io_, {asio::ip::make_address("127.0.0.1"), 0});
    const auto port = taken.local_endpoint().port();
    recorder r;
    auto in = make({{"listen", "127.0.0.1:" + std::to_string(port)}});
    in->start(r);
    ASSERT_TRUE(run_until([&] { return !r.failures.empty(); }));
    EXPECT_NE(r.failures[0].find("cannot listen on 127.0.0.1:" + std::to_string(port)),
              std::string::npos)
        << r.failures[0];
    EXPECT_EQ(in->local_port(), 0);
}

TEST_F(tcp_input_test, host_names_and_ipv6_resolve) {
    recorder r;
    auto in = make({{"listen", "localhost:0"}});
    in->start(r);
    ASSERT_TRUE(r.failures.empty());
    ASSERT_NE(in->local_port(), 0);
    listen_address where;
    std::string error;
    EXPECT_TRUE(resolve_listen("[::1]:5170", io_.get_executor(), where, error));
    EXPECT_TRUE(where.address.is_v6());
    EXPECT_EQ(where.port, 5170);
    EXPECT_FALSE(resolve_listen("127.0.0.1:99999", io_.get_executor(), where, error));
}

TEST_F(tcp_input_test, pause_holds_delivery_and_back_pressures_clients) {
    recorder r;
    auto in = make({{"receive_buffer_size", "64KiB"}});
    in->start(r);
    r.after_data = [&] {
        if (r.batches.size() == 1) in->pause();
    };
    auto a = connect(in->local_port());
    send(a, "1\n2\n");
    ASSERT_TRUE(run_until([&] { return r.batches.size() == 1; }));
    // Paused: nothing is read, so the client's writes eventually block.
    a.set_option(asio::socket_base::send_buffer_size(16 * 1024));
    a.non_blocking(true);
    std::string chunk;
    for (int i = 0; i < 1000; ++i) chunk += "{\"filler\":" + std::to_string(i) + "}\n";
    std::size_t written = 0;
    std::size_t lines = 0;
    bool blocked = false;
    std::size_t offset = 0;  // within chunk, so only whole copies of it count as lines
    while (written < (64u << 20)) {
        boost::system::error_code ec;
        const std::size_t n =
            a.write_some(asio::buffer(chunk.data() + offset, chunk.size() - offset), ec);
        if (ec == asio::error::would_block) {
            run_for(20ms);  // the input runs but stays paused
            boost::system::error_code again;
            const std::size_t m =
                a.write_some(asio::buffer(chunk.data() + offset, chunk.size() - offset), again);
            if (again == asio::error::would_block) {
                blocked = true;
                break;
            }
            ASSERT_FALSE(again);
            written += m;
            offset += m;
        } else {
            ASSERT_FALSE(ec);
            written += n;
            offset += n;
        }
        if (offset == chunk.size()) {
            offset = 0;
            lines += 1000;
        }
    }
    EXPECT_TRUE(blocked) << "wrote " << written << " bytes to a paused input";
    EXPECT_EQ(r.batches.size(), 1u);
    EXPECT_EQ(r.data, "1\n2\n");
    a.non_blocking(false);
    if (offset != 0) {
        // Finish the last copy while the input reads again.
        in->resume();
        std::thread writer([&] { send(a, chunk.substr(offset)); });
        r.after_data = nullptr;
        ASSERT_TRUE(run_until([&] { return sorted_lines(r.data).size() == 2 + lines + 1000; }));
        writer.join();
        lines += 1000;
    } else {
        r.after_data = nullptr;
        in->resume();
        ASSERT_TRUE(run_until([&] { return sorted_lines(r.data).size() == 2 + lines; }));
    }
    EXPECT_EQ(sorted_lines(r.data).size(), 2 + lines);
    EXPECT_TRUE(r.problems.empty());
}

TEST_F(tcp_input_test, pause_inside_a_delivery_keeps_the_rest) {
    recorder r;
    auto in = make({{"max_line_length", "16"}});
    in->start(r);
    r.after_data = [&] { in->pause(); };
    auto a = connect(in->local_port());
    send(a, "a\n" + std::string(20, 'x') + "\nb\nc\n");
    ASSERT_TRUE(run_until([&] { return !r.batches.empty(); }));
    run_for(50ms);
    EXPECT_EQ(r.data, "a\n");
    for (int i = 0; i < 10 && r.data != "a\nb\nc\n"; ++i) {
        in->resume();
        run_for(20ms);
    }
    EXPECT_EQ(r.data, "a\nb\nc\n");
    EXPECT_EQ(r.problems.size(), 1u);
}

TEST_F(tcp_input_test, stop_closes_clients_and_silences) {
    recorder r;
    auto in = make({});
    in->start(r);
    const auto port = in->local_port();
    auto a = connect(port);
    send(a, "x\n");
    ASSERT_TRUE(run_until([&] { return r.data == "x\n"; }));
    in->stop();
    EXPECT_EQ(in->connections(), 0u);
    EXPECT_TRUE(closed_by_server(a));
    boost::system::error_code ec;
    tcp::socket late(client_io_);
    late.connect({asio::ip::make_address("127.0.0.1"), port}, ec);
    EXPECT_TRUE(ec) << "the listening socket is closed";
    run_for(50ms);
    EXPECT_EQ(r.data, "x\n");
    EXPECT_TRUE(r.problems.empty());
    EXPECT_TRUE(r.failures.empty());
}

// Every connection delivers under the input's one source "" (the recorder checks each).
TEST_F(tcp_input_test, one_source_for_all_connections) {
    recorder r;
    auto in = make({});
    EXPECT_EQ(in->initial_sources(), std::vector<source_id>{""});
    in->start(r);
    auto a = connect(in->local_port());
    auto b = connect(in->local_port());
    send(a, "a\n");
    send(b, "b\n");
    ASSERT_TRUE(run_until([&] { return r.data.size() == 4; }));
    EXPECT_EQ(sorted_lines(r.data), (std::vector<std::string>{"a", "b"}));
    EXPECT_EQ(r.batches.size(), 2u);
}

}  // namespace
}  // namespace weir::connectors
