// The systemd notification protocol (sd_notify(3)) without libsystemd: READY=1, RELOADING=1,
// STOPPING=1, STATUS= and the watchdog's WATCHDOG=1, sent as datagrams to NOTIFY_SOCKET.
#pragma once

#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>

#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace weir::daemon {

// The watchdog interval systemd asks for: WATCHDOG_USEC, unless WATCHDOG_PID names another
// process (it is then meant for a parent or a child of ours). Zero when there is none or either
// value does not parse. Arguments are the raw environment values (nullptr when unset).
std::chrono::microseconds parse_watchdog_interval(const char* watchdog_usec,
                                                  const char* watchdog_pid, pid_t self);

// CLOCK_MONOTONIC in microseconds, as MONOTONIC_USEC= wants it next to RELOADING=1.
std::uint64_t monotonic_usec();

// Talks to the service manager. Every method is a no-op when NOTIFY_SOCKET was unset, never
// throws and never blocks (the socket is non-blocking: a full receive queue drops a message,
// like libsystemd). A failed send is counted and only the first one is logged, so a vanished
// manager cannot flood the log from the watchdog timer.
//
// Thread affinity: notify() and errors() may be called from any thread; the methods that arm
// timers (ready_when, start_watchdog, reloading, stopping) belong to `executor`'s strand.
class sd_notifier {
  public:
    // `socket_name`: "" disables; an absolute path, or "@name" for an abstract socket.
    // `watchdog`: the interval systemd expects pings within; zero disables the watchdog.
    sd_notifier(boost::asio::any_io_executor executor, std::string socket_name,
                std::chrono::microseconds watchdog);
    ~sd_notifier();
    sd_notifier(const sd_notifier&) = delete;
    sd_notifier& operator=(const sd_notifier&) = delete;

    // From NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID.
    static std::unique_ptr<sd_notifier> from_environment(boost::asio::any_io_executor executor);

    bool enabled() const noexcept { return fd_ >= 0; }
    std::chrono::microseconds watchdog_interval() const noexcept { return watchdog_; }

    // Sends newline-separated assignments ("READY=1\nSTATUS=running") as one datagram.
    // False when disabled or the send failed.
    bool notify(std::string_view state) noexcept;
    std::uint64_t errors() const noexcept { return errors_.load(); }

    // READY=1 (with STATUS=) as soon as `is_ready` returns true, polled on the executor; a
    // later reloading() or stopping() cancels it.
    void ready_when(std::function<bool()> is_ready, std::string status);
    // WATCHDOG=1 every half interval from a timer on the executor, so a stalled loop stops the
    // pings and systemd restarts the service.
    void start_watchdog();
    void reloading();  // RELOADING=1 with MONOTONIC_USEC=
    void stopping();   // STOPPING=1

  private:
    void poll_ready();
    void arm_watchdog();

    boost::asio::any_io_executor executor_;
    std::chrono::microseconds watchdog_;
    int fd_ = -1;
    sockaddr_un address_{};
    socklen_t address_size_ = 0;
    std::atomic<std::uint64_t> errors_{0};
    std::atomic<bool> error_logged_{false};

    boost::asio::steady_timer ready_timer_;
    boost::asio::steady_timer watchdog_timer_;
    std::function<bool()> is_ready_;  // empty: nothing to announce
    std::string ready_status_;
};

}  // namespace weir::daemon
