// The file input: glob discovery, chunked reads into one line framer per file (which applies
// the size limit), rotation/truncation handling and inotify-driven following (with a poll
// timer as the safety net, so a missed event never stalls the input).
#include "connectors/file/file_input.h"

#include <dirent.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <glob.h>
#include <sys/inotify.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <limits>
#include <map>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "connectors/common/input_facade.h"
#include "connectors/common/line_framer.h"
#include "core/checkpoint/byte_codec.h"

namespace weir::connectors {

namespace asio = boost::asio;
using steady = std::chrono::steady_clock;

namespace {

// A path's last component (the whole of a path without a slash).
std::string_view base_name(std::string_view path) {
    return path.substr(path.rfind('/') + 1);  // npos + 1 is 0
}

// Whether an `exclude` pattern matches the path or its last component.
bool excluded_by(const std::vector<std::string>& patterns, const std::string& path) {
    const std::string base(base_name(path));
    for (const auto& pattern : patterns) {
        if (::fnmatch(pattern.c_str(), path.c_str(), 0) == 0 ||
            ::fnmatch(pattern.c_str(), base.c_str(), 0) == 0) {
            return true;
        }
    }
    return false;
}

std::vector<std::string> glob_matches(const std::string& pattern) {
    std::vector<std::string> out;
    glob_t g{};
    if (::glob(pattern.c_str(), 0, nullptr, &g) == 0) {
        for (std::size_t i = 0; i < g.gl_pathc; ++i) out.emplace_back(g.gl_pathv[i]);
    }
    ::globfree(&g);
    return out;
}

constexpr std::uint8_t position_version = 1;
constexpr auto poll_interval = std::chrono::milliseconds(250);
constexpr std::uint64_t no_end = std::numeric_limits<std::uint64_t>::max();

struct file_settings {
    std::string pattern;
    std::vector<std::string> exclude;
    bool follow = false;
    bool start_at_end = false;
    std::chrono::milliseconds glob_interval{1000};
    std::chrono::milliseconds ignore_older{0};
    std::chrono::milliseconds rotate_wait{5000};
    std::size_t read_buffer_size = 64 * 1024;
    std::size_t fingerprint_bytes = 256;
    std::size_t max_line = 1 << 20;
    std::size_t max_open_files = 0;  // 0: derived from the process's open-file limit
};

// How many files an input keeps open when max_open_files is 0: half of what the process may
// open beyond a headroom for its other descriptors (sockets, outputs, checkpoints, the loop).
std::size_t default_open_files() {
    rlimit limit{};
    if (::getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) return 4096;
    constexpr rlim_t headroom = 32;
    const rlim_t spare = limit.rlim_cur > headroom ? limit.rlim_cur - headroom : 0;
    return std::max<std::size_t>(4, static_cast<std::size_t>(spare / 2));
}

// FNV-1a: stable across versions and platforms, as a checkpointed identity must be.
std::uint64_t fnv1a(const char* data, std::size_t n) {
    std::uint64_t h = 0xcbf29ce484222325ULL;
    for (std::size_t i = 0; i < n; ++i) {
        h ^= static_cast<unsigned char>(data[i]);
        h *= 0x100000001b3ULL;
    }
    return h;
}

std::string errno_text(int err) {
    return std::strerror(err);
}

bool has_glob_magic(std::string_view s) {
    return s.find_first_of("*?[") != std::string::npos;
}

std::string dir_of(const std::string& path) {
    const auto slash = path.rfind('/');
    if (slash == std::string::npos) return ".";
    if (slash == 0) return "/";
    return path.substr(0, slash);
}

struct saved_file {
    std::string path;
    std::uint64_t dev = 0, ino = 0;
    std::uint64_t fp_len = 0, fp_hash = 0;
    std::uint64_t offset = 0;
};

struct tracked_file {
    tracked_file(std::size_t max_line, std::uint64_t offset) : framer(max_line, offset) {}

    // The next byte to read.
    std::uint64_t read_offset() const { return framer.end_offset(); }

    std::string path;
    // The watermark source it delivers to: "" when the input reads one path; with a glob, the
    // path it matched when first seen (a rotated file and its successor share it, so the lines
    // before a rotation stay one stream with those after).
    std::string source;
    int fd = -1;
    std::uint64_t dev = 0, ino = 0;
    std::uint64_t fp_len = 0, fp_hash = 0;
    std::uint64_t end = no_end;  // bounded reads: the size seen at discovery
    // Stream offsets are file offsets: framer.offset() (everything before it delivered or
    // skipped) is the file's position.
    line_framer framer;
    bool rotated = false;  // renamed away or deleted: read to the end, then let go
    bool at_eof = false;
    bool done = false;  // bounded read finished; kept for position()
    // Closed to stay within the open-file limit; reopened by path (and checked by identity) to
    // read on from read_offset().
    bool parked = false;
    bool wanted = false;            // parked with bytes left to read
    std::uint64_t last_active = 0;  // when it was last opened or read, in file_impl::tick_
    steady::time_point rotated_at;

    ~tracked_file() {
        if (fd >= 0) ::close(fd);
    }
};

class file_impl : public std::enable_shared_from_this<file_impl> {
  public:
    file_impl(file_settings s, const input_context& ctx)
        : s_(std::move(s)),
          executor_(ctx.executor),
          tailing_(s_.follow && !ctx.once),
          clock_(ctx.clock),
          poll_timer_(ctx.executor),
          inotify_(ctx.executor),
          open_limit_(s_.max_open_files > 0 ? s_.max_open_files : default_open_files()),
          per_file_(has_glob_magic(s_.pattern)),
          name_pattern_(base_name(s_.pattern)) {}

    // One source for one path; with a glob, the files' sources are announced as they are
    // found (each holds the watermark back on its own, so a file read behind the others never
    // makes their records late).
    std::vector<source_id> initial_sources() const {
        if (per_file_) return {};
        return {source_id()};
    }

    void start(input_events& events) {
        events_ = &events;
        started_ = true;
        if (tailing_) setup_inotify();
        std::string failure;
        if (!rescan(true, failure)) {
            failed_ = true;
            post([failure](file_impl& self) { self.events_->on_failure(failure); });
            return;
        }
        saved_.clear();
        if (tailing_) {
            arm_poll();
            wait_inotify();
        }
        post_pump();
    }

    void pause() { paused_ = true; }

    void resume() {
        if (!paused_) return;
        paused_ = false;
        if (started_ && !stopped_) post_pump();
    }

    void stop() {
        if (stopped_) return;
        stopped_ = true;
        poll_timer_.cancel();
        boost::system::error_code ignored;
        inotify_.close(ignored);
    }

    std::string position() const {
        byte_writer w;
        w.u8(position_version);
        if (!started_ || failed_) {
            w.varint(saved_.size());
            for (const auto& f : saved_)
                write_file(w, f.path, f.dev, f.ino, f.fp_len, f.fp_hash, f.offset);
            return w.take();
        }
        w.varint(files_.size());
        for (const auto& f : files_) {
            write_file(w, f->path, f->dev, f->ino, f->fp_len, f->fp_hash, f->framer.offset());
        }
        return w.take();
    }

    bool restore(std::string_view position, std::string& error) {
        byte_reader r(position);
        if (r.u8() != position_version) {
            error = "file position: unknown version";
            return false;
        }
        std::vector<saved_file> saved(r.count(13));
        for (auto& f : saved) {
            f.path = std::string(r.str());
            f.dev = r.varint();
            f.ino = r.varint();
            f.fp_len = r.varint();
            f.fp_hash = r.u64();
            f.offset = r.varint();
            if (f.fp_len > 64 * 1024) r.fail();
        }
        if (!r.ok() || !r.at_end()) {
            error =
                "file position: " + std::string(r.ok() ? "trailing bytes" : to_string(r.error()));
            return false;
        }
        saved_ = std::move(saved);
        return true;
    }

    bool bounded() const { return true; }

  private:
    static void write_file(byte_writer& w, const std::string& path, std::uint64_t dev,
                           std::uint64_t ino, std::uint64_t fp_len, std::uint64_t fp_hash,
                           std::uint64_t offset) {
        w.str(path);
        w.varint(dev);
        w.varint(ino);
        w.varint(fp_len);
        w.u64(fp_hash);
        w.varint(offset);
    }

    template <class F>
    void post(F f) {
        asio::post(executor_, [self = shared_from_this(), f = std::move(f)] {
            if (!self->stopped_) f(*self);
        });
    }

    void post_pump() {
        if (pump_posted_ || stopped_) return;
        pump_posted_ = true;
        post([](file_impl& self) {
            self.pump_posted_ = false;
            self.pump();
        });
    }

    void problem(std::string_view type, const std::string& message) {
        events_->on_problem(type, message);
    }

    std::int64_t wall_now_ns() const {
        if (clock_) return clock_();
        return std::chrono::duration_cast<std::chrono::nanoseconds>(
                   std::chrono::system_clock::now().time_since_epoch())
            .count();
    }

    bool excluded(const std::string& path) const { return excluded_by(s_.exclude, path); }

    std::vector<std::string> matches() const { return glob_matches(s_.pattern); }

    tracked_file* find_tracked(std::uint64_t dev, std::uint64_t ino) {
        for (auto& f : files_) {
            if (f->dev == dev && f->ino == ino) return f.get();
        }
        return nullptr;
    }

    // Hash of the first min(fingerprint_bytes, size) bytes of `fd`; false on a read error.
    bool fingerprint(int fd, std::uint64_t size, std::uint64_t limit, std::uint64_t& len,
                     std::uint64_t& hash) {
        len = std::min<std::uint64_t>(size, limit);
        fp_buf_.resize(len);
        std::size_t got = 0;
        while (got < len) {
            const ssize_t n = ::pread(fd, fp_buf_.data() + got, len - got, static_cast<off_t>(got));
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) break;
            got += static_cast<std::size_t>(n);
        }
        len = got;
        hash = fnv1a(fp_buf_.data(), got);
        return true;
    }

    // Offset just after the last newline before `size` (so start_at: end never begins in the
    // middle of a line), or `size` when the tail holds no newline.
    std::uint64_t line_end_before(int fd, std::uint64_t size) {
        const std::uint64_t span = std::min<std::uint64_t>(size, 64 * 1024);
        fp_buf_.resize(span);
        const ssize_t n = ::pread(fd, fp_buf_.data(), span, static_cast<off_t>(size - span));
        if (n != static_cast<ssize_t>(span)) return size;
        const void* nl = ::memrchr(fp_buf_.data(), '\n', span);
        if (nl == nullptr) return size;
        return size - span +
               static_cast<std::uint64_t>(static_cast<const char*>(nl) - fp_buf_.data()) + 1;
    }

    // Opens `path` and decides where to read it from. False with `failure` when the file
    // cannot be opened.
    bool add_file(const std::string& path, bool first, bool rotated, const saved_file* known,
                  std::string& failure) {
        const int fd = open_within_limit(path, nullptr);
        if (fd < 0) {
            failure = "cannot open " + path + ": " + errno_text(errno);
            return false;
        }
        struct stat st {};
        if (::fstat(fd, &st) != 0) {
            failure = "cannot stat " + path + ": " + errno_text(errno);
            ::close(fd);
            return false;
        }
        auto f = std::make_unique<tracked_file>(s_.max_line, 0);
        f->path = path;
        if (per_file_) f->source = known != nullptr ? known->path : path;
        sources_dirty_ = true;
        f->fd = fd;
        f->dev = static_cast<std::uint64_t>(st.st_dev);
        f->ino = static_cast<std::uint64_t>(st.st_ino);
        const auto size = static_cast<std::uint64_t>(st.st_size);
        fingerprint(fd, size, s_.fingerprint_bytes, f->fp_len, f->fp_hash);

        const saved_file* saved = known;
        if (saved == nullptr) {
            for (const auto& s : saved_) {
                if (s.dev == f->dev && s.ino == f->ino) saved = &s;
            }
        }
        std::uint64_t offset = 0;
        if (saved != nullptr) {
            std::uint64_t len = 0, hash = 0;
            fingerprint(fd, size, saved->fp_len, len, hash);
            if (len != saved->fp_len || hash != saved->fp_hash) {
                problem("rotation", path + ": a different file now has the inode of " +
                                        saved->path +
                                        " (its first bytes changed); reading it "
                                        "from the start");
            } else if (saved->offset > size) {
                problem("rotation", path +
                                        " is shorter than its checkpointed offset "
                                        "(truncated); reading it from the start");
            } else {
                offset = saved->offset;
            }
        } else if (first && s_.start_at_end) {
            offset = line_end_before(fd, size);
        }
        f->framer.reset(offset);
        if (!tailing_) f->end = size;
        if (rotated) {
            f->rotated = true;
            f->rotated_at = steady::now();
        }
        f->last_active = ++tick_;
        files_.push_back(std::move(f));
        return true;
    }

    // ----- the open-file limit

    std::size_t open_count() const {
        return static_cast<std::size_t>(
            std::count_if(files_.begin(), files_.end(),
                          [](const std::unique_ptr<tracked_file>& f) { return f->fd >= 0; }));
    }

    // Closes the least recently active open file that can be reopened later (not a rotated
    // one, whose path names another file now, and not `keep`). False when there is none.
    bool park_one(const tracked_file* keep) {
        tracked_file* victim = nullptr;
        for (auto& f : files_) {
            if (f.get() == keep || f->fd < 0 || f->rotated || f->done) continue;
            if (victim == nullptr || f->last_active < victim->last_active) victim = f.get();
        }
        if (victim == nullptr) return false;
        ::close(victim->fd);
        victim->fd = -1;
        victim->parked = true;
        victim->wanted = !tailing_ || !victim->at_eof || victim->framer.pending();
        return true;
    }

    void report_limit(std::string_view why) {
        problem("io", "more files match " + s_.pattern + " than the " +
                          std::to_string(open_limit_) + " this input keeps open (" +
                          std::string(why) +
                          "); the least recently read are closed and reopened at their "
                          "positions");
    }

    // Opens `path` read-only, first closing the least recently active files beyond the limit.
    // When the process runs out of descriptors all the same, the limit comes down to what
    // could be opened.
    int open_within_limit(const std::string& path, const tracked_file* keep) {
        bool parked = false;
        while (open_count() >= open_limit_ && park_one(keep)) parked = true;
        if (parked && !limit_reported_) {
            limit_reported_ = true;
            report_limit(s_.max_open_files > 0 ? "max_open_files"
                                               : "half of the process's open-file limit");
        }
        int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
        while (fd < 0 && (errno == EMFILE || errno == ENFILE)) {
            const std::size_t open = open_count();
            if (open == 0 || !park_one(keep)) {
                errno = EMFILE;
                break;
            }
            open_limit_ = std::max<std::size_t>(1, open - 1);
            limit_reported_ = true;
            report_limit("the process ran out of file descriptors");
            fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
        }
        if (fd >= 0) watch_file(path);
        return fd;
    }

    // Opens a parked file again where it was left. A file renamed while it was closed is found
    // by inode in its directory and read to its end; one deleted meanwhile is let go, with the
    // lines it still held. False when it is not open afterwards.
    bool unpark(tracked_file& f) {
        const int fd = open_within_limit(f.path, &f);
        struct stat st {};
        const bool same = fd >= 0 && ::fstat(fd, &st) == 0 &&
                          static_cast<std::uint64_t>(st.st_dev) == f.dev &&
                          static_cast<std::uint64_t>(st.st_ino) == f.ino;
        if (fd >= 0 && !same) ::close(fd);
        if (!same) {
            if (fd < 0 && errno == EMFILE) {
                problem("io", "cannot reopen " + f.path + ": " + errno_text(EMFILE));
                return false;  // still parked: tried again later
            }
            const std::string moved = find_by_inode(dir_of(f.path), f.dev, f.ino);
            const int moved_fd = moved.empty() ? -1 : open_within_limit(moved, &f);
            f.parked = false;
            f.wanted = false;
            if (moved_fd < 0) {
                problem("rotation", f.path +
                                        " was deleted while closed for the open-file limit; "
                                        "the lines not yet read from it are lost");
                return false;  // let go at the next sweep
            }
            f.fd = moved_fd;
            f.path = moved;
            f.rotated = true;
            f.rotated_at = steady::now();
            f.at_eof = false;
            f.last_active = ++tick_;
            return true;
        }
        f.fd = fd;
        f.parked = false;
        f.wanted = false;
        f.at_eof = false;
        f.last_active = ++tick_;
        if (tailing_) restart_if_replaced(f, static_cast<std::uint64_t>(st.st_size), true);
        return true;
    }

    // Evaluates the glob: new matches are opened, known inodes under a new name renamed.
    bool rescan(bool first, std::string& failure) {
        last_scan_ = steady::now();
        const auto found = matches();
        bool any = false;
        const std::int64_t now_ns = first || s_.ignore_older.count() > 0 ? wall_now_ns() : 0;
        for (const auto& path : found) {
            if (excluded(path)) continue;
            struct stat st {};
            if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
            any = true;
            const auto dev = static_cast<std::uint64_t>(st.st_dev);
            const auto ino = static_cast<std::uint64_t>(st.st_ino);
            if (tracked_file* f = find_tracked(dev, ino)) {
                if (f->path != path && (f->fd >= 0 || f->parked)) {
                    f->path = path;
                    f->rotated = false;  // renamed within the glob: still followed
                }
                continue;
            }
            if (!tailing_ && !first) continue;
            const bool checkpointed =
                std::any_of(saved_.begin(), saved_.end(),
                            [&](const saved_file& s) { return s.dev == dev && s.ino == ino; });
            if (s_.ignore_older.count() > 0 && !checkpointed) {
                const std::int64_t mtime =
                    static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 +
                    st.st_mtim.tv_nsec;
                if (now_ns - mtime > s_.ignore_older.count() * 1'000'000LL) continue;
            }
            std::string error;
            if (!add_file(path, first, false, nullptr, error)) {
                if (first) {
                    failure = error;
                    return false;
                }
                problem("io", error);
            }
        }
        if (first) {
            // Saved files no longer at any matching path were renamed while weir was down:
            // finish them where they are, by inode, so their last lines are not lost.
            for (const auto& saved : saved_) {
                if (find_tracked(saved.dev, saved.ino) != nullptr) continue;
                const std::string moved = find_by_inode(dir_of(saved.path), saved.dev, saved.ino);
                if (moved.empty()) continue;
                std::string error;
                if (!add_file(moved, true, true, &saved, error)) {
                    problem("io", error);
                    continue;
                }
                // Found, but out of the glob: any file created and rotated out of it entirely
                // while weir was stopped was never seen and cannot be found. Say so once.
                problem("rotation", saved.path + " was rotated to " + moved +
                                        " while weir was stopped; reading it to the end. A file "
                                        "created and rotated out of \"" +
                                        s_.pattern +
                                        "\" while weir is stopped is never seen: let the path "
                                        "match rotated names too (e.g. \"" +
                                        s_.pattern + "*\") to cover restarts");
            }
        }
        if (first && !any && files_.empty()) {
            if (!tailing_) {
                failure = "no file matches " + s_.pattern;
                return false;
            }
            problem("io", "no file matches " + s_.pattern + " yet; waiting for one");
        }
        return true;
    }

    static std::string find_by_inode(const std::string& dir, std::uint64_t dev, std::uint64_t ino) {
        DIR* d = ::opendir(dir.c_str());
        if (d == nullptr) return {};
        std::string found;
        while (const dirent* e = ::readdir(d)) {
            if (static_cast<std::uint64_t>(e->d_ino) != ino) continue;
            const std::string path = (dir == "/" ? "" : dir) + "/" + e->d_name;
            struct stat st {};
            if (::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
                static_cast<std::uint64_t>(st.st_dev) == dev &&
                static_cast<std::uint64_t>(st.st_ino) == ino) {
                found = path;
                break;
            }
        }
        ::closedir(d);
        return found;
    }

    // ----- following

    void setup_inotify() {
        const int fd = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        if (fd < 0) return;  // the poll timer alone still follows
        boost::system::error_code ec;
        inotify_.assign(fd, ec);
        if (ec) {
            ::close(fd);
            return;
        }
        add_watch();
    }

    // The directory is watched for names coming and going; the writes to the files being read
    // are reported by watches of their own (watch_file), so that writes to the other files of
    // the directory wake nothing. Where a file cannot be watched, the directory's watch reports
    // every write again.
    void add_watch() {
        if (watching_ || !inotify_.is_open()) return;
        const std::string dir = dir_of(s_.pattern);
        if (has_glob_magic(dir)) return;
        const std::uint32_t writes = file_watches_ ? 0 : IN_MODIFY | IN_CLOSE_WRITE;
        const int wd = ::inotify_add_watch(
            inotify_.native_handle(), dir.c_str(),
            writes | IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_ATTRIB | IN_ONLYDIR);
        watching_ = wd >= 0;
        if (watching_) dir_watch_ = wd;
    }

    // Watches a file just opened for writes (an inode's watch: it follows the file when it is
    // renamed, and goes when the file is deleted). Watching an inode again changes nothing.
    void watch_file(const std::string& path) {
        if (!file_watches_ || !inotify_.is_open()) return;
        if (::inotify_add_watch(inotify_.native_handle(), path.c_str(),
                                IN_MODIFY | IN_CLOSE_WRITE | IN_ATTRIB) >= 0) {
            return;
        }
        file_watches_ = false;  // out of watches, say: the directory's watch reports writes
        watching_ = false;
        add_watch();  // the same watch, its mask replaced
    }

    void wait_inotify() {
        if (!inotify_.is_open()) return;
        inotify_.async_wait(asio::posix::stream_descriptor::wait_read,
                            [self = shared_from_this()](const boost::system::error_code& ec) {
                                if (ec || self->stopped_) return;
                                self->on_inotify();
                            });
    }

    // The directory's events that concern none of this input's files (another file created,
    // renamed or written beside them: other pipelines' outputs, other logs) are skipped: with
    // many inputs following files in one directory, each would otherwise wake every input,
    // and every created file would make each of them scan the directory.
    void on_inotify() {
        alignas(inotify_event) char buf[4096];
        bool relevant = false;
        bool names_changed = false;
        for (;;) {
            const ssize_t n = ::read(inotify_.native_handle(), buf, sizeof buf);
            if (n <= 0) break;
            for (ssize_t at = 0; at < n;) {
                inotify_event ev{};
                std::memcpy(&ev, buf + at, sizeof ev);
                // NUL-terminated (and padded) by the kernel; "" for the directory itself.
                const char* name = ev.len > 0 ? buf + at + sizeof(inotify_event) : "";
                if ((ev.mask & IN_IGNORED) != 0 && ev.wd == dir_watch_) watching_ = false;
                if ((ev.mask & IN_Q_OVERFLOW) != 0) {
                    relevant = names_changed = true;  // events were lost: look at everything
                } else if (ev.wd != dir_watch_) {
                    relevant = true;  // a file's own watch: written, or gone
                } else if (*name == '\0' || concerns(name)) {
                    relevant = true;
                    if ((ev.mask & (IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE)) != 0) {
                        names_changed = true;
                    }
                }
                at += static_cast<ssize_t>(sizeof(inotify_event) + ev.len);
            }
        }
        if (relevant) refresh(names_changed);
        wait_inotify();
    }

    // Whether a name in the watched directory may be one of this input's files: it matches the
    // pattern's last component (as glob() would match it), or a file being read has it (a
    // rotated file keeps being read under its new name).
    bool concerns(const char* name) const {
        if (::fnmatch(name_pattern_.c_str(), name, FNM_PERIOD) == 0) return true;
        for (const auto& f : files_) {
            if (base_name(f->path) == name) return true;
        }
        return false;
    }

    void arm_poll() {
        poll_timer_.expires_after(poll_interval);
        poll_timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
            if (ec || self->stopped_) return;
            self->refresh(steady::now() - self->last_scan_ >= self->s_.glob_interval);
            self->arm_poll();
        });
    }

    // Notices rotations, truncations and new files, lets go of finished rotated files, and
    // makes sure reading goes on.
    void refresh(bool scan) {
        if (!watching_) add_watch();
        bool need_scan = scan;
        for (auto& f : files_) {
            if (f->parked) {
                struct stat st {};
                if (::stat(f->path.c_str(), &st) != 0 ||
                    static_cast<std::uint64_t>(st.st_dev) != f->dev ||
                    static_cast<std::uint64_t>(st.st_ino) != f->ino) {
                    // Renamed or deleted while closed: reopened (found by inode) now, before a
                    // new file at its path is read.
                    unpark(*f);
                    need_scan = true;
                } else if (static_cast<std::uint64_t>(st.st_size) != f->read_offset()) {
                    f->wanted = true;
                }
                continue;
            }
            if (f->fd < 0 || f->rotated) continue;
            struct stat st {};
            if (::stat(f->path.c_str(), &st) != 0 ||
                static_cast<std::uint64_t>(st.st_dev) != f->dev ||
                static_cast<std::uint64_t>(st.st_ino) != f->ino) {
                f->rotated = true;
                f->rotated_at = steady::now();
                need_scan = true;
            }
        }
        if (need_scan) {
            std::string ignored;
            rescan(false, ignored);
        }
        for (auto& f : files_) {
            if (f->fd < 0) continue;
            struct stat st {};
            if (::fstat(f->fd, &st) != 0) continue;
            const auto size = static_cast<std::uint64_t>(st.st_size);
            if (!restart_if_replaced(*f, size, scan) && f->fp_len < s_.fingerprint_bytes &&
                size > f->fp_len) {
                fingerprint(f->fd, size, s_.fingerprint_bytes, f->fp_len, f->fp_hash);
            }
        }
        const auto now = steady::now();
        for (auto& f : files_) {
            if (f->rotated && f->fd >= 0 && f->at_eof && !f->framer.pending() &&
                now - f->rotated_at >= s_.rotate_wait) {
                if (paused_) continue;
                flush_final_line(*f);
                if (stopped_) return;
                ::close(f->fd);
                f->fd = -1;
            }
        }
        let_go_closed();
        post_pump();
    }

    // copytruncate: a file cut below read_offset, or cut and refilled beyond it (then only its
    // first bytes tell, compared always when `full` and otherwise before bytes past read_offset
    // are read), is read again from the start. True when that happened.
    bool restart_if_replaced(tracked_file& f, std::uint64_t size, bool full) {
        bool replaced = size < f.read_offset();
        if (!replaced && (full || size > f.read_offset()) && f.fp_len > 0) {
            std::uint64_t len = 0, hash = 0;
            fingerprint(f.fd, size, f.fp_len, len, hash);
            replaced = len != f.fp_len || hash != f.fp_hash;
        }
        if (!replaced) return false;
        problem("rotation",
                f.path + " was truncated or rewritten in place; reading it from the start");
        f.framer.reset(0);
        f.at_eof = false;
        fingerprint(f.fd, size, s_.fingerprint_bytes, f.fp_len, f.fp_hash);
        return true;
    }

    // ----- reading

    void pump() {
        if (stopped_ || paused_ || !started_) return;
        bool progress = false;
        // Rotated files first: the lines written before a rotation come before the new file's.
        for (auto& f : files_) {
            if (f->rotated && f->fd >= 0) progress |= step(*f);
            if (stopped_ || paused_) return;
        }
        if (!progress) {
            for (std::size_t i = 0; i < files_.size(); ++i) {
                tracked_file& f = *files_[i];
                if (!f.rotated && f.fd >= 0 && !f.done) progress |= step(f);
                if (stopped_ || paused_) return;
            }
        }
        if (!progress) {
            // The open files have nothing to read: parked ones with bytes left take their place,
            // as many as the limit allows, oldest first.
            std::size_t reopened = 0;
            for (std::size_t i = 0; i < files_.size() && reopened < open_limit_; ++i) {
                tracked_file& f = *files_[i];
                if (!f.parked || !f.wanted || f.done) continue;
                if (!unpark(f)) continue;
                ++reopened;
                progress |= step(f);
                if (stopped_ || paused_) return;
            }
        }
        let_go_closed();
        if (progress) {
            post_pump();
            return;
        }
        if (per_file_) {
            if (sources_dirty_) announce();
            if (tailing_) report_caught_up();
            if (stopped_ || paused_) return;
        }
        if (!tailing_ && !ended_ &&
            std::all_of(files_.begin(), files_.end(),
                        [](const std::unique_ptr<tracked_file>& f) { return f->done; })) {
            ended_ = true;
            events_->on_end();
        }
    }

    // Reads and delivers one chunk of `f`; true when something happened.
    bool step(tracked_file& f) {
        if (f.framer.pending()) {
            deliver(f);
            return true;
        }
        if (f.read_offset() >= f.end) {
            finish_bounded(f);
            return false;
        }
        if (tailing_ && f.at_eof && !f.rotated) {
            // Resuming after the end: the file may have been replaced since the last refresh
            // (which posted this pump), and its new bytes must not be read as a continuation.
            struct stat st {};
            if (::fstat(f.fd, &st) == 0 &&
                restart_if_replaced(f, static_cast<std::uint64_t>(st.st_size), false) &&
                (stopped_ || paused_)) {
                return true;
            }
        }
        std::size_t want = s_.read_buffer_size;
        if (f.end != no_end) {
            want = static_cast<std::size_t>(std::min<std::uint64_t>(want, f.end - f.read_offset()));
        }
        char* into = f.framer.prepare(want);
        ssize_t n = 0;
        do {
            n = ::pread(f.fd, into, want, static_cast<off_t>(f.read_offset()));
        } while (n < 0 && errno == EINTR);
        if (n < 0) {
            const int err = errno;
            problem("io", "reading " + f.path + ": " + errno_text(err));
            ::close(f.fd);
            f.fd = -1;
            f.done = !tailing_;
            return true;
        }
        if (n == 0) {
            const bool reached = !f.at_eof;
            f.at_eof = true;
            if (!tailing_) finish_bounded(f);  // shrank below the size seen at start
            if (tailing_ && per_file_ && reached) report_caught_up();
            return false;
        }
        f.at_eof = false;
        f.last_active = ++tick_;
        f.framer.commit(static_cast<std::size_t>(n));
        deliver(f);
        return true;
    }

    // Hands over the lines `f` holds, leaving out those over the limit, until everything
    // ready is delivered or the input is paused or stopped in a callback.
    void deliver(tracked_file& f) {
        if (per_file_) {
            if (sources_dirty_) announce();
            if (caught_up_.erase(f.source) > 0) events_->on_source_caught_up(f.source, false);
        }
        f.framer.drain(
            [this, &f](std::string_view lines, std::uint64_t offset) {
                events_->on_records(f.source,
                                    record_delivery{.bytes = lines,
                                                    .origin = f.path,
                                                    .offset = static_cast<std::int64_t>(offset),
                                                    .keeper = f.framer.keeper()});
                return !paused_ && !stopped_;
            },
            [this, &f](std::uint64_t at) {
                problem("too_long", f.path + ": skipped a line longer than " +
                                        std::to_string(s_.max_line) + " bytes at offset " +
                                        std::to_string(at));
                return !paused_ && !stopped_;
            });
    }

    // The last line of a file that will not grow any more is a record even without its
    // newline. Called with no complete line pending.
    void flush_final_line(tracked_file& f) {
        f.framer.end_stream();
        deliver(f);
        if (f.framer.held() == 0) f.framer.reset(f.framer.offset());  // frees the buffer
    }

    void finish_bounded(tracked_file& f) {
        if (f.done) return;
        flush_final_line(f);
        if (f.fd >= 0) ::close(f.fd);
        f.fd = -1;
        f.done = !f.rotated || !tailing_;
        sources_dirty_ = true;
    }

    // Forgets the files closed for good (not finished, not parked): their sources may go.
    void let_go_closed() {
        if (std::erase_if(files_, [](const std::unique_ptr<tracked_file>& f) {
                return f->fd < 0 && !f->done && !f->parked;
            }) > 0) {
            sources_dirty_ = true;
        }
    }

    // With a glob: tells the query which files' sources came and went since it last heard
    // (a file found, a file read to its end in --once mode, one let go after its rotation).
    void announce() {
        sources_dirty_ = false;
        std::set<std::string> live;
        for (const auto& f : files_) {
            if (!f->done) live.insert(f->source);
        }
        std::vector<source_id> added, removed;
        for (const auto& id : live) {
            if (!announced_.contains(id)) added.push_back(id);
        }
        for (const auto& id : announced_) {
            if (!live.contains(id)) {
                removed.push_back(id);
                caught_up_.erase(id);
            }
        }
        if (added.empty() && removed.empty()) return;
        announced_ = std::move(live);
        events_->on_sources_changed(added, removed);
    }

    // Following a glob: a source whose files are all read to their end no longer holds the
    // watermark back for the files still behind (what it writes next is written now).
    void report_caught_up() {
        std::map<std::string, bool> all_read;
        for (const auto& f : files_) {
            if (f->done) continue;
            const bool read = f->fd >= 0 ? f->at_eof && !f->framer.pending() : !f->wanted;
            auto [it, fresh] = all_read.emplace(f->source, read);
            if (!fresh) it->second = it->second && read;
        }
        for (const auto& [id, read] : all_read) {
            if (!read || !announced_.contains(id) || !caught_up_.insert(id).second) continue;
            events_->on_source_caught_up(id, true);
            if (stopped_ || paused_) return;
        }
    }

    file_settings s_;
    asio::any_io_executor executor_;
    bool tailing_;
    wall_clock clock_;
    asio::steady_timer poll_timer_;
    asio::posix::stream_descriptor inotify_;
    input_events* events_ = nullptr;

    std::vector<saved_file> saved_;
    std::vector<std::unique_ptr<tracked_file>> files_;
    std::string fp_buf_;
    steady::time_point last_scan_;
    bool watching_ = false;
    int dir_watch_ = -1;        // the directory's watch descriptor
    bool file_watches_ = true;  // files being read are watched themselves (watch_file)
    bool started_ = false;
    bool failed_ = false;
    bool paused_ = false;
    bool stopped_ = false;
    bool ended_ = false;
    bool pump_posted_ = false;
    std::size_t open_limit_;  // files kept open at once
    bool per_file_;           // a glob: a source per file (tracked_file::source)
    // The pattern's last component, which names in its directory are matched against (concerns)
    std::string name_pattern_;
    bool sources_dirty_ = false;       // files came or went since announce()
    std::set<std::string> announced_;  // the sources the query knows of
    std::set<std::string> caught_up_;  // announced sources read to their end (following)
    bool limit_reported_ = false;
    std::uint64_t tick_ = 0;  // counts openings and reads, for least-recently-active
};

}  // namespace

void preflight_file_input(const params::reader& p, const std::string& path, diagnostics& out) {
    const auto pattern = p.string("path");
    std::vector<std::string> exclude;
    for (const auto& e : p.strings("exclude")) exclude.push_back(e.value);
    bool any = false;
    for (const auto& match : glob_matches(pattern.value)) {
        struct stat st {};
        if (excluded_by(exclude, match) || ::stat(match.c_str(), &st) != 0 ||
            !S_ISREG(st.st_mode)) {
            continue;
        }
        any = true;
        if (::access(match.c_str(), R_OK) != 0) {
            out.error(pattern.pos, path + ".path",
                      "cannot read " + match + ": " + std::strerror(errno));
        }
    }
    if (!any && !p.boolean("follow").value) {
        out.error(pattern.pos, path + ".path",
                  "no file matches " + pattern.value +
                      " (with follow: false the input reads the files there are at start)");
    }
}

std::unique_ptr<input> make_file_input(const params::reader& p, const input_context& ctx) {
    file_settings s;
    s.pattern = p.string("path").value;
    for (const auto& e : p.strings("exclude")) s.exclude.push_back(e.value);
    s.follow = p.boolean("follow").value;
    s.start_at_end = p.string("start_at").value == "end";
    s.glob_interval = p.duration("glob_interval").value;
    s.ignore_older = p.duration("ignore_older").value;
    s.rotate_wait = p.duration("rotate_wait").value;
    s.read_buffer_size = static_cast<std::size_t>(p.size("read_buffer_size").value);
    if (ctx.max_delivery_bytes > 0) {
        s.read_buffer_size = std::min(s.read_buffer_size, ctx.max_delivery_bytes);
    }
    s.fingerprint_bytes = static_cast<std::size_t>(p.size("fingerprint_bytes").value);
    s.max_open_files = static_cast<std::size_t>(p.integer("max_open_files").value);
    s.max_line = static_cast<std::size_t>(
        std::min<std::uint64_t>(p.size("max_line_length").value, ctx.max_record_size));
    return make_facade<file_impl>(std::move(s), ctx);
}

}  // namespace weir::connectors
