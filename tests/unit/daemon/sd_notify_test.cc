// Tests of the sd_notify protocol against real unix datagram sockets (a path in a temp dir and
// an abstract name), the watchdog environment, and the timers that send READY=1 and WATCHDOG=1.
#include "daemon/sd_notify.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <optional>
#include <random>
#include <string>
#include <vector>

namespace weir::daemon {
namespace {

using namespace std::chrono_literals;

// The receiving end, as systemd holds it: a bound datagram socket.
class listener {
  public:
    // `name`: a path, or "@name" for an abstract socket.
    explicit listener(const std::string& name) {
        fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        EXPECT_GE(fd_, 0);
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        std::memcpy(addr.sun_path, name.data(), name.size());
        if (name[0] == '@') addr.sun_path[0] = '\0';
        const auto size = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name.size() +
                                                 (name[0] == '@' ? 0 : 1));
        EXPECT_EQ(::bind(fd_, reinterpret_cast<const sockaddr*>(&addr), size), 0)
            << std::strerror(errno);
    }
    ~listener() { ::close(fd_); }
    listener(const listener&) = delete;
    listener& operator=(const listener&) = delete;

    // The next datagram, or nothing within `timeout`.
    std::optional<std::string> receive(std::chrono::milliseconds timeout = 1000ms) {
        pollfd p{fd_, POLLIN, 0};
        if (::poll(&p, 1, static_cast<int>(timeout.count())) != 1) return std::nullopt;
        char buf[4096];
        const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
        if (n < 0) return std::nullopt;
        return std::string(buf, static_cast<std::size_t>(n));
    }

    std::vector<std::string> drain() {
        std::vector<std::string> out;
        while (auto m = receive(0ms)) out.push_back(*m);
        return out;
    }

  private:
    int fd_ = -1;
};

class temp_dir {
  public:
    temp_dir() {
        std::string pattern = (std::filesystem::temp_directory_path() / "weir-sd-XXXXXX").string();
        path_ = ::mkdtemp(pattern.data());
    }
    ~temp_dir() { std::filesystem::remove_all(path_); }
    const std::string& path() const { return path_; }

  private:
    std::string path_;
};

std::string unique_abstract_name() {
    std::random_device rd;
    return "@weir-sd-test-" + std::to_string(::getpid()) + "-" + std::to_string(rd());
}

TEST(sd_notify, unset_socket_is_a_no_op) {
    boost::asio::io_context io;
    sd_notifier n(io.get_executor(), "", 100ms);
    EXPECT_FALSE(n.enabled());
    EXPECT_FALSE(n.notify("READY=1"));
    n.ready_when([] { return true; }, "running");
    n.start_watchdog();
    n.reloading();
    n.stopping();
    EXPECT_EQ(io.run_for(50ms), 0u);  // nothing was scheduled
    EXPECT_EQ(n.errors(), 0u);
}

TEST(sd_notify, sends_to_a_socket_path) {
    temp_dir dir;
    const std::string path = dir.path() + "/notify";
    listener l(path);
    boost::asio::io_context io;
    sd_notifier n(io.get_executor(), path, 0us);
    ASSERT_TRUE(n.enabled());
    EXPECT_TRUE(n.notify("READY=1\nSTATUS=running 2 queries"));
    EXPECT_EQ(l.receive(), "READY=1\nSTATUS=running 2 queries");
    EXPECT_EQ(n.errors(), 0u);
}

TEST(sd_notify, sends_to_an_abstract_socket) {
    const std::string name = unique_abstract_name();
    listener l(name);
    boost::asio::io_context io;
    sd_notifier n(io.get_executor(), name, 0us);
    ASSERT_TRUE(n.enabled());
    EXPECT_TRUE(n.notify("STOPPING=1"));
    EXPECT_EQ(l.receive(), "STOPPING=1");

    // The name is exactly as long as given: a longer abstract name is a different socket.
    sd_notifier other(io.get_executor(), name + "x", 0us);
    EXPECT_FALSE(other.notify("STOPPING=1"));
    EXPECT_EQ(other.errors(), 1u);
    EXPECT_FALSE(l.receive(50ms).has_value());
}

TEST(sd_notify, a_missing_socket_is_counted_not_thrown) {
    temp_dir dir;
    boost::asio::io_context io;
    sd_notifier n(io.get_executor(), dir.path() + "/nobody-listens", 0us);
    ASSERT_TRUE(n.enabled());
    EXPECT_FALSE(n.notify("READY=1"));
    EXPECT_FALSE(n.notify("WATCHDOG=1"));
    EXPECT_EQ(n.errors(), 2u);
}

TEST(sd_notify, names_systemd_does_not_hand_out_disable_it) {
    boost::asio::io_context io;
    EXPECT_FALSE(sd_notifier(io.get_executor(), "relative/path", 0us).enabled());
    EXPECT_FALSE(sd_notifier(io.get_executor(), "vsock:2:1234", 0us).enabled());
    EXPECT_FALSE(sd_notifier(io.get_executor(), "/" + std::string(200, 'a'), 0us).enabled());
}

TEST(sd_notify, from_environment_reads_notify_socket_and_the_watchdog) {
    temp_dir dir;
    const std::string path = dir.path() + "/notify";
    listener l(path);
    ::setenv("NOTIFY_SOCKET", path.c_str(), 1);
    ::setenv("WATCHDOG_USEC", "400000", 1);
    ::unsetenv("WATCHDOG_PID");
    boost::asio::io_context io;
    auto n = sd_notifier::from_environment(io.get_executor());
    ::unsetenv("NOTIFY_SOCKET");
    ::unsetenv("WATCHDOG_USEC");
    EXPECT_TRUE(n->enabled());
    EXPECT_EQ(n->watchdog_interval(), 400ms);
    EXPECT_TRUE(n->notify("READY=1"));
    EXPECT_EQ(l.receive(), "READY=1");

    auto unset = sd_notifier::from_environment(io.get_executor());
    EXPECT_FALSE(unset->enabled());
    EXPECT_EQ(unset->watchdog_interval(), 0us);
}

TEST(sd_notify, watchdog_interval_honours_watchdog_pid) {
    EXPECT_EQ(parse_watchdog_interval("400000", nullptr, 42), 400000us);
    EXPECT_EQ(parse_watchdog_interval("400000", "42", 42), 400000us);
    EXPECT_EQ(parse_watchdog_interval("400000", "43", 42), 0us);  // meant for another process
    EXPECT_EQ(parse_watchdog_interval("400000", "x", 42), 0us);
    EXPECT_EQ(parse_watchdog_interval(nullptr, nullptr, 42), 0us);
    EXPECT_EQ(parse_watchdog_interval("", nullptr, 42), 0us);
    EXPECT_EQ(parse_watchdog_interval("0", nullptr, 42), 0us);
    EXPECT_EQ(parse_watchdog_interval("12s", nullptr, 42), 0us);
    EXPECT_EQ(parse_watchdog_interval("-5", nullptr, 42), 0us);
}

TEST(sd_notify, ready_is_sent_once_the_predicate_holds) {
    temp_dir dir;
    const std::string path = dir.path() + "/notify";
    listener l(path);
    boost::asio::io_context io;
    sd_notifier n(io.get_executor(), path, 0us);
    int polls = 0;
    n.ready_when([&] { return ++polls >= 4; }, "running 1 query");
    io.run_for(30ms);
    EXPECT_LT(polls, 4);
    EXPECT_FALSE(l.receive(0ms).has_value());  // not ready yet: nothing sent
    io.run_for(300ms);
    EXPECT_EQ(polls, 4);  // polling stopped once it held
    EXPECT_EQ(l.drain(), std::vector<std::string>{"READY=1\nSTATUS=running 1 query"});
}

TEST(sd_notify, stopping_cancels_a_pending_ready) {
    temp_dir dir;
    const std::string path = dir.path() + "/notify";
    listener l(path);
    boost::asio::io_context io;
    sd_notifier n(io.get_executor(), path, 0us);
    bool ready = false;
    n.ready_when([&] { return ready; }, "");
    io.run_for(30ms);
    n.stopping();
    ready = true;
    io.restart();
    io.run_for(100ms);
    EXPECT_EQ(l.drain(), std::vector<std::string>{"STOPPING=1\nSTATUS=stopping"});
}

TEST(sd_notify, reloading_carries_the_monotonic_clock) {
    temp_dir dir;
    const std::string path = dir.path() + "/notify";
    listener l(path);
    boost::asio::io_context io;
    sd_notifier n(io.get_executor(), path, 0us);
    const std::uint64_t before = monotonic_usec();
    n.reloading();
    const std::uint64_t after = monotonic_usec();
    const auto m = l.receive();
    ASSERT_TRUE(m.has_value());
    const std::string prefix = "RELOADING=1\nSTATUS=reloading\nMONOTONIC_USEC=";
    ASSERT_EQ(m->substr(0, prefix.size()), prefix);
    const std::uint64_t usec = std::stoull(m->substr(prefix.size()));
    EXPECT_GE(usec, before);
    EXPECT_LE(usec, after);
}

TEST(sd_notify, watchdog_pings_at_half_the_interval) {
    temp_dir dir;
    const std::string path = dir.path() + "/notify";
    listener l(path);
    boost::asio::io_context io;
    sd_notifier n(io.get_executor(), path, 100ms);
    n.start_watchdog();
    const auto start = std::chrono::steady_clock::now();
    io.run_for(330ms);
    const auto elapsed = std::chrono::steady_clock::now() - start;
    const auto pings = l.drain();
    // One at once, then every 50 ms: 7 in 330 ms when the machine keeps up; a loaded machine
    // may fire later, never sooner, so at most elapsed / 50 ms + 1.
    EXPECT_GE(pings.size(), 4u);
    EXPECT_LE(pings.size(), static_cast<std::size_t>(elapsed / 50ms) + 1);
    for (const auto& p : pings) EXPECT_EQ(p, "WATCHDOG=1");
}

}  // namespace
}  // namespace weir::daemon
