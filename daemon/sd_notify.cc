// The systemd notification protocol; see sd_notify.h.
#include "daemon/sd_notify.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <boost/asio/post.hpp>
#include <cerrno>
#include <charconv>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <ctime>

namespace weir::daemon {

namespace asio = boost::asio;

namespace {

constexpr auto ready_poll_interval = std::chrono::milliseconds(20);

bool parse_u64(const char* text, std::uint64_t& out) {
    if (text == nullptr || *text == '\0') return false;
    const char* end = text + std::strlen(text);
    const auto [ptr, ec] = std::from_chars(text, end, out);
    return ec == std::errc() && ptr == end;
}

}  // namespace

std::chrono::microseconds parse_watchdog_interval(const char* watchdog_usec,
                                                  const char* watchdog_pid, pid_t self) {
    std::uint64_t usec = 0;
    if (!parse_u64(watchdog_usec, usec) || usec == 0) return std::chrono::microseconds(0);
    if (watchdog_pid != nullptr) {
        std::uint64_t pid = 0;
        if (!parse_u64(watchdog_pid, pid) || pid != static_cast<std::uint64_t>(self)) {
            return std::chrono::microseconds(0);
        }
    }
    return std::chrono::microseconds(static_cast<std::int64_t>(usec));
}

std::uint64_t monotonic_usec() {
    timespec ts{};
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000u +
           static_cast<std::uint64_t>(ts.tv_nsec) / 1'000u;
}

sd_notifier::sd_notifier(asio::any_io_executor executor, std::string socket_name,
                         std::chrono::microseconds watchdog)
    : executor_(std::move(executor)),
      watchdog_(watchdog),
      ready_timer_(executor_),
      watchdog_timer_(executor_) {
    if (socket_name.empty()) return;
    // Only the two forms systemd itself hands out; anything else (e.g. vsock: addresses of a
    // VM's manager) is reported and left alone rather than misread as a path.
    if (socket_name[0] != '/' && socket_name[0] != '@') {
        spdlog::warn("NOTIFY_SOCKET={}: not a path or an abstract socket; not notifying systemd",
                     socket_name);
        return;
    }
    if (socket_name.size() > sizeof(address_.sun_path)) {
        spdlog::warn(
            "NOTIFY_SOCKET={}: longer than a unix socket address; not notifying "
            "systemd",
            socket_name);
        return;
    }
    address_.sun_family = AF_UNIX;
    std::memcpy(address_.sun_path, socket_name.data(), socket_name.size());
    // An abstract name starts with a NUL byte and is exactly as long as given (no terminator).
    if (socket_name[0] == '@') address_.sun_path[0] = '\0';
    address_size_ = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + socket_name.size());
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd_ < 0) {
        spdlog::warn("NOTIFY_SOCKET: cannot create a socket: {}; not notifying systemd",
                     std::strerror(errno));
        watchdog_ = std::chrono::microseconds(0);
    }
}

sd_notifier::~sd_notifier() {
    if (fd_ >= 0) ::close(fd_);
}

std::unique_ptr<sd_notifier> sd_notifier::from_environment(asio::any_io_executor executor) {
    const char* socket = std::getenv("NOTIFY_SOCKET");
    return std::make_unique<sd_notifier>(
        std::move(executor), socket != nullptr ? socket : "",
        parse_watchdog_interval(std::getenv("WATCHDOG_USEC"), std::getenv("WATCHDOG_PID"),
                                ::getpid()));
}

bool sd_notifier::notify(std::string_view state) noexcept {
    if (fd_ < 0) return false;
    ssize_t n = 0;
    do {
        n = ::sendto(fd_, state.data(), state.size(), MSG_NOSIGNAL,
                     reinterpret_cast<const sockaddr*>(&address_), address_size_);
    } while (n < 0 && errno == EINTR);
    if (n == static_cast<ssize_t>(state.size())) return true;
    const int err = n < 0 ? errno : EMSGSIZE;
    errors_.fetch_add(1);
    if (!error_logged_.exchange(true)) {
        try {
            spdlog::warn(
                "cannot notify systemd through NOTIFY_SOCKET: {} (further failures are "
                "only counted)",
                std::strerror(err));
        } catch (...) {  // a log line is not worth an exception out of a noexcept function
        }
    }
    return false;
}

void sd_notifier::ready_when(std::function<bool()> is_ready, std::string status) {
    if (fd_ < 0) return;
    is_ready_ = std::move(is_ready);
    ready_status_ = std::move(status);
    ready_timer_.cancel();
    asio::post(executor_, [this] { poll_ready(); });
}

void sd_notifier::poll_ready() {
    if (!is_ready_) return;  // cancelled by reloading() or stopping()
    if (is_ready_()) {
        is_ready_ = nullptr;
        std::string message = "READY=1";
        if (!ready_status_.empty()) message += "\nSTATUS=" + ready_status_;
        notify(message);
        return;
    }
    ready_timer_.expires_after(ready_poll_interval);
    ready_timer_.async_wait([this](const boost::system::error_code& ec) {
        if (!ec) poll_ready();
    });
}

void sd_notifier::start_watchdog() {
    if (fd_ < 0 || watchdog_.count() <= 0) return;
    notify("WATCHDOG=1");
    arm_watchdog();
}

void sd_notifier::arm_watchdog() {
    watchdog_timer_.expires_after(watchdog_ / 2);
    watchdog_timer_.async_wait([this](const boost::system::error_code& ec) {
        if (ec) return;
        notify("WATCHDOG=1");
        arm_watchdog();
    });
}

void sd_notifier::reloading() {
    if (fd_ < 0) return;
    is_ready_ = nullptr;
    ready_timer_.cancel();
    notify("RELOADING=1\nSTATUS=reloading\nMONOTONIC_USEC=" + std::to_string(monotonic_usec()));
}

void sd_notifier::stopping() {
    if (fd_ < 0) return;
    is_ready_ = nullptr;
    ready_timer_.cancel();
    notify("STOPPING=1\nSTATUS=stopping");
}

}  // namespace weir::daemon
