// The file output: JSON lines, buffered, written and rotated on the output's strand.
#include "connectors/file/file_output.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/post.hpp>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>

namespace weir::connectors {

namespace {

std::string errno_text(const std::string& what, const std::string& path) {
    return what + " " + path + ": " + std::strerror(errno);
}

std::size_t count_lines(const char* begin, const char* end) {
    return static_cast<std::size_t>(std::count(begin, end, '\n'));
}

// Makes renames and creations inside the file's directory durable.
bool sync_directory(const std::string& file, std::string& error) {
    std::filesystem::path dir = std::filesystem::path(file).parent_path();
    if (dir.empty()) dir = ".";
    const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        error = errno_text("cannot open directory", dir.string());
        return false;
    }
    const bool ok = ::fsync(fd) == 0 || errno == EINVAL;
    if (!ok) error = errno_text("cannot fsync directory", dir.string());
    ::close(fd);
    return ok;
}

}  // namespace

std::shared_ptr<file_output> file_output::open(const output_context& ctx,
                                               file_output_options options) {
    const std::filesystem::path parent = std::filesystem::path(options.path).parent_path();
    if (!parent.empty()) {
        std::error_code ec;
        if (options.create_dirs) {
            std::filesystem::create_directories(parent, ec);
            if (ec) {
                throw std::runtime_error("cannot create directory " + parent.string() + ": " +
                                         ec.message());
            }
        } else if (!std::filesystem::is_directory(parent, ec)) {
            throw std::runtime_error("directory " + parent.string() +
                                     " does not exist (create it, or set create_dirs: true)");
        }
    }
    auto out = std::make_shared<file_output>(ctx, std::move(options));
    std::string error;
    if (!out->open_file(!out->options_.append, error, true)) throw std::runtime_error(error);
    // A newly created file's directory entry is made durable by the first sync(), before
    // any checkpoint counts on what the file holds; not here, where an fsync of the directory
    // (10 to 100 ms and more on a busy disk) would hold the query's start back.
    return out;
}

file_output::file_output(const output_context& ctx, file_output_options options)
    : executor_(ctx.executor), options_(std::move(options)), timer_(ctx.executor) {}

file_output::~file_output() {
    close_file();
}

void file_output::write_result(const check_result& result) {
    std::unique_lock lock(mutex_);
    if (stopped_) return;
    append_json(result, inbox_);
    inbox_ += '\n';
    ++inbox_lines_;
    added_locked(lock);
}

void file_output::write_record(std::string_view json) {
    std::unique_lock lock(mutex_);
    if (stopped_) return;
    inbox_.append(json);
    inbox_ += '\n';
    inbox_lines_ += 1 + count_lines(json.data(), json.data() + json.size());
    added_locked(lock);
}

void file_output::end_of_results() {
    {
        std::lock_guard lock(mutex_);
        if (stopped_ || stuck_ || inbox_.empty() || results_ended_) return;
        results_ended_ = true;
    }
    boost::asio::post(executor_, [self = shared_from_this()] { self->on_pending(); });
}

void file_output::added_locked(std::unique_lock<std::mutex>& lock) {
    const std::size_t queued = inbox_.size();
    bool post = false;
    if (!pending_posted_) {
        pending_posted_ = true;
        post = true;
    } else if (!big_posted_ && inbox_.size() >= big_write) {
        big_posted_ = true;
        post = true;
    }
    if (queued >= big_write) {
        // A burst is under way: its tail is written when the strand next runs, not a
        // flush_interval later (a window's results would reach the file a second late).
        burst_until_ = std::chrono::steady_clock::now() +
                       std::min(options_.flush_interval, std::chrono::milliseconds(1000));
    }
    lock.unlock();
    if (post) boost::asio::post(executor_, [self = shared_from_this()] { self->on_pending(); });
    // A burst (a window closing for many groups) is written by the producer itself once it
    // is large: the strand may not run before the burst ends (one thread), and queueing all
    // of it would hold every result in memory. Skipped while another write is under way.
    if (queued >= inline_write) {
        std::unique_lock io(io_mutex_, std::try_to_lock);
        if (io.owns_lock()) {
            std::string error;
            write_out(error);  // a failure stays queued; the strand's timer retries
        }
    }
}

void file_output::on_pending() {
    std::size_t queued = 0;
    bool burst = false;
    {
        std::lock_guard lock(mutex_);
        if (stopped_) return;
        queued = inbox_.size();
        // Not while writes fail: the retry timer paces the attempts then.
        burst = !stuck_ && (results_ended_ || std::chrono::steady_clock::now() < burst_until_);
        results_ended_ = false;
    }
    const bool write_now = queued >= big_write || burst;
    if (timer_armed_ && !write_now) return;  // the timer writes (or retries) soon
    if (options_.flush_interval.count() == 0 || write_now) {
        std::string error;
        if (!write_out(error) && !timer_armed_) {
            arm_timer(std::max(options_.flush_interval, std::chrono::milliseconds(1000)));
        }
        return;
    }
    arm_timer(options_.flush_interval);
}

void file_output::arm_timer(std::chrono::milliseconds after) {
    timer_armed_ = true;
    timer_.expires_after(after);
    timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
        self->timer_armed_ = false;
        if (ec == boost::asio::error::operation_aborted) return;
        {
            std::lock_guard lock(self->mutex_);
            if (self->stopped_) return;
        }
        std::string error;
        std::unique_lock io(self->io_mutex_);
        bool ok = self->write_out(error);
        if (ok && self->options_.fsync_each_write) ok = self->sync(error);
        io.unlock();
        // Failed lines stay queued: try again, not faster than once a second.
        if (!ok) {
            self->arm_timer(
                std::max(self->options_.flush_interval, std::chrono::milliseconds(1000)));
        }
    });
}

void file_output::take_inbox() {
    std::lock_guard io(io_mutex_);
    {
        std::lock_guard lock(mutex_);
        if (outbox_head_ > 0) {
            outbox_.erase(0, outbox_head_);
            outbox_head_ = 0;
        }
        if (outbox_.empty()) {
            outbox_.swap(inbox_);  // both keep their capacity
        } else {
            outbox_.append(inbox_);
        }
        inbox_.clear();
        outbox_lines_ += inbox_lines_;
        inbox_lines_ = 0;
        pending_posted_ = false;
        big_posted_ = false;
    }
}

bool file_output::write_out(std::string& error) {
    std::lock_guard io(io_mutex_);
    take_inbox();
    if (outbox_.empty()) {
        set_healthy();
        return true;
    }

    auto fail = [&] {
        errors_ += 1;
        set_failing(error);
        close_file();  // reopened by the next attempt: the file may be replaced meanwhile
        return false;
    };
    if (fd_ < 0 && !open_file(false, error)) return fail();

    while (outbox_head_ < outbox_.size()) {
        std::size_t end = outbox_.size();
        if (options_.rotate_max_size > 0) {
            if (mid_line_) {
                // Finish the line begun by a partial write before anything else.
                end = outbox_.find('\n', outbox_head_) + 1;
            } else {
                const std::uint64_t room =
                    size_ < options_.rotate_max_size ? options_.rotate_max_size - size_ : 0;
                const std::size_t limit = static_cast<std::size_t>(
                    std::min<std::uint64_t>(outbox_.size(), outbox_head_ + room));
                const std::size_t last_nl =
                    limit > outbox_head_ ? outbox_.rfind('\n', limit - 1) : std::string::npos;
                if (last_nl != std::string::npos && last_nl >= outbox_head_) {
                    end = last_nl + 1;
                } else if (size_ == 0) {
                    end = outbox_.find('\n', outbox_head_) + 1;  // one line beyond max_size
                } else {
                    if (!rotate(error)) return fail();
                    continue;
                }
            }
        }
        while (outbox_head_ < end) {
            const ssize_t n = ::write(fd_, outbox_.data() + outbox_head_, end - outbox_head_);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) {
                if (n == 0) errno = EIO;
                error = errno_text("cannot write", options_.path);
                return fail();
            }
            // Lines are counted as they are queued: only a write that stops short of the end
            // of the outbox (rotation, a partial write) needs to look at its bytes.
            const char* begin = outbox_.data() + outbox_head_;
            const std::size_t lines = outbox_head_ + static_cast<std::size_t>(n) == outbox_.size()
                                          ? outbox_lines_
                                          : count_lines(begin, begin + n);
            records_ += lines;
            outbox_lines_ -= lines;
            outbox_head_ += static_cast<std::size_t>(n);
            size_ += static_cast<std::uint64_t>(n);
            mid_line_ = outbox_[outbox_head_ - 1] != '\n';
        }
    }
    outbox_.clear();
    outbox_head_ = 0;
    start_writeback();
    set_healthy();
    return true;
}

void file_output::start_writeback() {
    // The kernel starts writing what was written since the last call to the disk, without
    // waiting: the fsync of the next sync() (a checkpoint, the end of a --once run) then
    // waits for the last few megabytes, not for all that came since the last one. Advice
    // only: a pipe or a file system without it says no, and nothing changes.
    constexpr std::uint64_t k_writeback_bytes = 4 << 20;
    if (fd_ < 0 || size_ < written_back_ + k_writeback_bytes) return;
    ::sync_file_range(fd_, static_cast<off_t>(written_back_),
                      static_cast<off_t>(size_ - written_back_), SYNC_FILE_RANGE_WRITE);
    written_back_ = size_;
}

void file_output::set_failing(const std::string& error) {
    last_error_ = error;
    failing_ = true;
    {
        std::lock_guard lock(mutex_);
        stuck_ = true;
        stuck_lines_ = outbox_lines_;
    }
    std::lock_guard lock(blocked_mutex_);
    blocked_ = error;
}

void file_output::set_healthy() {
    if (!failing_) return;
    failing_ = false;
    {
        std::lock_guard lock(mutex_);
        stuck_ = false;
        stuck_lines_ = 0;
    }
    std::lock_guard lock(blocked_mutex_);
    blocked_.clear();
}

bool file_output::open_file(bool truncate, std::string& error, bool at_start) {
    struct stat st {};
    const bool existed = ::stat(options_.path.c_str(), &st) == 0;
    // Read access only to look at the last byte (a torn line).
    const int flags = O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC | (truncate ? O_TRUNC : 0);
    const int fd = ::open(options_.path.c_str(), flags, 0640);
    if (fd < 0) {
        error = errno_text("cannot open", options_.path);
        return false;
    }
    if (::fstat(fd, &st) != 0) {
        error = errno_text("cannot stat", options_.path);
        ::close(fd);
        return false;
    }
    size_ = S_ISREG(st.st_mode) ? static_cast<std::uint64_t>(st.st_size) : 0;
    if (at_start && size_ > 0 && !cut_torn_line(fd, error)) {
        ::close(fd);
        return false;
    }
    // A line torn since start (by someone else) is terminated, so the next line stays
    // parseable. (Not when our own partial write is pending: its rest completes that line.)
    char last = '\n';
    if (size_ > 0 && !mid_line_ && ::pread(fd, &last, 1, static_cast<off_t>(size_ - 1)) == 1 &&
        last != '\n') {
        if (::write(fd, "\n", 1) != 1) {
            error = errno_text("cannot write", options_.path);
            ::close(fd);
            return false;
        }
        ++size_;
    }
    fd_ = fd;
    written_back_ = size_;
    if (!existed) dir_sync_pending_ = true;
    return true;
}

bool file_output::cut_torn_line(int fd, std::string& error) {
    // Reads backwards from the end, in blocks, to the last newline.
    char block[4096];
    std::uint64_t end = size_;
    while (end > 0) {
        const std::uint64_t begin = end > sizeof block ? end - sizeof block : 0;
        const auto length = static_cast<std::size_t>(end - begin);
        const ssize_t n = ::pread(fd, block, length, static_cast<off_t>(begin));
        if (n != static_cast<ssize_t>(length)) {
            if (n >= 0) errno = EIO;
            error = errno_text("cannot read", options_.path);
            return false;
        }
        const void* nl = ::memrchr(block, '\n', length);
        if (nl != nullptr) {
            end = begin + static_cast<std::uint64_t>(static_cast<const char*>(nl) - block) + 1;
            break;
        }
        end = begin;
    }
    if (end == size_) return true;
    if (::ftruncate(fd, static_cast<off_t>(end)) != 0) {
        error = errno_text("cannot cut the torn last line of", options_.path);
        return false;
    }
    size_ = end;
    return true;
}

bool file_output::rotate(std::string& error) {
    if (!sync(error)) return false;
    close_file();
    const std::string& path = options_.path;
    for (int i = options_.rotate_max_files - 1; i >= 1; --i) {
        const std::string from = path + "." + std::to_string(i);
        const std::string to = path + "." + std::to_string(i + 1);
        if (::rename(from.c_str(), to.c_str()) != 0 && errno != ENOENT) {
            error = errno_text("cannot rotate", from);
            return false;
        }
    }
    if (::rename(path.c_str(), (path + ".1").c_str()) != 0 && errno != ENOENT) {
        error = errno_text("cannot rotate", path);
        return false;
    }
    mid_line_ = false;
    if (!open_file(false, error)) return false;
    dir_sync_pending_ = false;
    return sync_directory(path, error);
}

bool file_output::sync(std::string& error) {
    std::lock_guard io(io_mutex_);
    // EINVAL: a special file (a pipe, /dev/stdout) that has nothing to sync.
    if (fd_ >= 0 && ::fsync(fd_) != 0 && errno != EINVAL) {
        error = errno_text("cannot fsync", options_.path);
        errors_ += 1;
        set_failing(error);
        return false;
    }
    if (dir_sync_pending_) {
        if (!sync_directory(options_.path, error)) {
            errors_ += 1;
            last_error_ = error;
            return false;
        }
        dir_sync_pending_ = false;
    }
    return true;
}

void file_output::close_file() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
}

void file_output::flush(std::function<void(bool ok, const std::string& error)> done) {
    boost::asio::post(executor_, [self = shared_from_this(), done = std::move(done)] {
        std::unique_lock io(self->io_mutex_);
        std::string error;
        const bool written = self->write_out(error);
        const bool ok = written && self->sync(error);
        if (!written && !self->timer_armed_) {
            self->arm_timer(
                std::max(self->options_.flush_interval, std::chrono::milliseconds(1000)));
        }
        io.unlock();
        done(ok, error);
    });
}

void file_output::stop(std::function<void()> done) {
    boost::asio::post(executor_, [self = shared_from_this(), done = std::move(done)] {
        std::unique_lock io(self->io_mutex_);
        std::string error;
        // What cannot be written now stays unwritten: pending() and blocked() tell the daemon,
        // which says so. No checkpoint covers it (the flushes failed), so the next start
        // produces it again.
        if (self->write_out(error)) self->sync(error);
        {
            std::lock_guard lock(self->mutex_);
            self->stopped_ = true;
        }
        self->timer_.cancel();
        self->close_file();
        io.unlock();
        done();
    });
}

output_stats file_output::stats() const {
    return {.records = records_.load(), .errors = errors_.load(), .dropped = dropped_.load()};
}

std::uint64_t file_output::pending() const {
    // While the file is written, a burst is written as it comes: only a failing file holds
    // lines back.
    std::lock_guard lock(mutex_);
    return stuck_ ? stuck_lines_ + inbox_lines_ : 0;
}

void file_output::drop_oldest(std::uint64_t records) {
    boost::asio::post(executor_, [self = shared_from_this(), records] {
        std::lock_guard io(self->io_mutex_);
        if (!self->failing_) return;  // a healthy file writes everything as it comes
        self->take_inbox();
        std::string& box = self->outbox_;
        std::size_t from = self->outbox_head_;
        if (self->mid_line_) from = box.find('\n', from) + 1;  // the rest of a begun line stays
        std::size_t to = from;
        std::uint64_t dropped = 0;
        while (dropped < records && to < box.size()) {
            to = box.find('\n', to) + 1;
            ++dropped;
        }
        box.erase(from, to - from);
        self->outbox_lines_ -= dropped;
        self->dropped_ += dropped;
        std::lock_guard lock(self->mutex_);
        self->stuck_lines_ = self->outbox_lines_;
    });
}

std::string file_output::blocked() const {
    std::lock_guard lock(blocked_mutex_);
    return blocked_;
}

void preflight_file_output(const params::reader& p, const std::string& path, diagnostics& out) {
    namespace fs = std::filesystem;
    const auto file = p.string("path");
    const auto report = [&](const std::string& message) {
        out.error(file.pos, path + ".path", message);
    };
    std::error_code ec;
    if (fs::is_directory(file.value, ec)) return report(file.value + " is a directory");
    if (fs::exists(file.value, ec)) {
        if (::access(file.value.c_str(), W_OK) != 0) {
            report("cannot write " + file.value + ": " + std::strerror(errno));
        }
        return;
    }
    fs::path dir = fs::path(file.value).parent_path();
    if (dir.empty()) dir = ".";
    if (!fs::is_directory(dir, ec)) {
        if (!p.boolean("create_dirs").value) {
            return report("directory " + dir.string() +
                          " does not exist (create it, or set create_dirs: true)");
        }
        // The directories weir would create: the nearest existing one must be writable.
        while (!dir.empty() && !fs::exists(dir, ec)) dir = dir.parent_path();
        if (dir.empty()) dir = ".";
        if (!fs::is_directory(dir, ec)) {
            return report("cannot create directories under " + dir.string() + ": not a directory");
        }
    }
    if (::access(dir.c_str(), W_OK | X_OK) != 0) {
        report("cannot create files in " + dir.string() + ": " + std::strerror(errno));
    }
}

std::shared_ptr<output> make_file_output(const params::reader& p, const output_context& ctx) {
    file_output_options options;
    options.path = p.string("path").value;
    options.append = p.boolean("append").value;
    options.create_dirs = p.boolean("create_dirs").value;
    options.flush_interval = p.duration("flush_interval").value;
    options.fsync_each_write = p.boolean("fsync").value;
    if (p.has("rotate")) {
        const params::reader rotate = *p.object("rotate");
        options.rotate_max_size = rotate.size("max_size").value;
        options.rotate_max_files = static_cast<int>(rotate.integer("max_files").value);
    }
    return file_output::open(ctx, std::move(options));
}

}  // namespace weir::connectors
