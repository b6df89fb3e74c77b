// The udp input on real loopback sockets: datagrams as records, batches under load, oversize
// datagrams, bind failures, pause and stop.
#include "connectors/socket/udp_input.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/strand.hpp>
#include <chrono>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "connectors/socket/socket_spec.h"
#include "tests/unit/connectors/socket_test_util.h"

namespace weir::connectors {
namespace {

namespace asio = boost::asio;
using asio::ip::udp;
using namespace std::chrono_literals;

using test::recorder;

std::size_t count_lines(const std::string& text) {
    return static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
}

class udp_input_test : public test::socket_input_fixture<udp_input> {
  protected:
    udp_input_test() : socket_input_fixture(udp_input_component()) {}

    void send(std::uint16_t port, const std::string& datagram) {
        if (!sender_.is_open()) sender_.open(udp::v4());
        sender_.send_to(asio::buffer(datagram), {asio::ip::make_address("127.0.0.1"), port});
    }

    udp::socket sender_{client_io_};
};

TEST_F(udp_input_test, datagrams_hold_records) {
    recorder r;
    auto in = make({});
    EXPECT_FALSE(in->bounded());
    in->start(r);
    ASSERT_NE(in->local_port(), 0);
    send(in->local_port(), "{\"a\":1}");
    send(in->local_port(), "{\"a\":2}\n");
    send(in->local_port(), "{\"a\":3}\n{\"a\":4}");
    send(in->local_port(), "");
    ASSERT_TRUE(run_until([&] { return count_lines(r.data) == 4; }));
    run_for(50ms);
    EXPECT_EQ(r.data, "{\"a\":1}\n{\"a\":2}\n{\"a\":3}\n{\"a\":4}\n");
    EXPECT_TRUE(r.problems.empty());
    EXPECT_TRUE(r.failures.empty());
    EXPECT_EQ(in->position(), "");
    std::string error;
    EXPECT_TRUE(in->restore("", error));
    EXPECT_FALSE(in->restore("x", error));
}

TEST_F(udp_input_test, queued_datagrams_arrive_in_batches) {
    recorder r;
    auto in = make({{"receive_buffer_size", "1MiB"}});
    in->start(r);
    std::vector<std::string> expected;
    // Bursts of 100 queue up between turns of the loop; the pace keeps the kernel's buffer
    // from overflowing.
    for (int burst = 0; burst < 10; ++burst) {
        for (int i = 0; i < 100; ++i) {
            const std::string record = "{\"n\":" + std::to_string(burst * 100 + i) + "}";
            expected.push_back(record);
            send(in->local_port(), record);
        }
        run_for(10ms);
    }
    ASSERT_TRUE(run_until([&] { return count_lines(r.data) >= 1000; }));
    std::string want;
    for (const auto& e : expected) want += e + "\n";
    EXPECT_EQ(r.data, want);  // one sender on loopback: in order, nothing lost
    EXPECT_LT(r.batches.size(), 200u) << "datagrams were not batched";
    EXPECT_TRUE(r.problems.empty());
}

TEST_F(udp_input_test, oversize_datagram_dropped_and_reported) {
    recorder r;
    auto in = make({{"max_datagram_size", "512"}});
    in->start(r);
    send(in->local_port(), "before");
    send(in->local_port(), std::string(513, 'x'));
    send(in->local_port(), std::string(511, 'y') + "\n");  // 512 bytes: read whole
    send(in->local_port(), "after");
    ASSERT_TRUE(run_until([&] { return r.data.ends_with("after\n"); }));
    EXPECT_EQ(r.data, "before\n" + std::string(511, 'y') + "\nafter\n");
    ASSERT_EQ(r.problems.size(), 1u);
    EXPECT_TRUE(r.problems[0].starts_with("too_long: ")) << r.problems[0];
}

TEST_F(udp_input_test, port_in_use_fails_the_input) {
    udp::socket taken(client_io_, {asio::ip::make_address("127.0.0.1"), 0});
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

TEST_F(udp_input_test, pause_holds_delivery_until_resume) {
    recorder r;
    auto in = make({});
    in->start(r);
    in->pause();
    send(in->local_port(), "a");
    send(in->local_port(), "b");
    run_for(100ms);
    EXPECT_TRUE(r.batches.empty());
    in->resume();
    ASSERT_TRUE(run_until([&] { return count_lines(r.data) == 2; }));
    EXPECT_EQ(r.data, "a\nb\n");
}

TEST_F(udp_input_test, stop_silences_and_frees_the_port) {
    recorder r;
    auto in = make({});
    in->start(r);
    const auto port = in->local_port();
    send(port, "x");
    ASSERT_TRUE(run_until([&] { return r.data == "x\n"; }));
    r.after_data = [&] { ADD_FAILURE() << "data after stop"; };
    in->stop();
    send(port, "y");
    run_for(50ms);
    EXPECT_EQ(r.data, "x\n");
    EXPECT_EQ(in->local_port(), 0);
    udp::socket rebound(client_io_);
    rebound.open(udp::v4());
    boost::system::error_code ec;
    rebound.bind({asio::ip::make_address("127.0.0.1"), port}, ec);
    EXPECT_FALSE(ec) << ec.message();
}

TEST_F(udp_input_test, one_source) {
    recorder r;
    auto in = make({});
    EXPECT_EQ(in->initial_sources(), std::vector<source_id>{""});
    in->start(r);
    send(in->local_port(), "a");
    ASSERT_TRUE(run_until([&] { return r.data == "a\n"; }));  // the recorder checked the source
    EXPECT_EQ(r.batches.size(), 1u);
}

}  // namespace
}  // namespace weir::connectors
