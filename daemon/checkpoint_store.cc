// Atomic checkpoint files; see checkpoint_store.h.
#include "daemon/checkpoint_store.h"

#include <fcntl.h>
#include <fmt/core.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string_view>
#include <utility>
#include <vector>

#include "core/checkpoint/byte_codec.h"

namespace weir::daemon {

namespace fs = std::filesystem;

namespace {

std::string errno_text() {
    return std::strerror(errno);
}

class unique_fd {
  public:
    explicit unique_fd(int fd = -1) : fd_(fd) {}
    unique_fd(const unique_fd&) = delete;
    unique_fd& operator=(const unique_fd&) = delete;
    unique_fd(unique_fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
    unique_fd& operator=(unique_fd&& other) noexcept {
        if (this != &other) {
            reset();
            fd_ = std::exchange(other.fd_, -1);
        }
        return *this;
    }
    ~unique_fd() { reset(); }
    int get() const { return fd_; }
    explicit operator bool() const { return fd_ >= 0; }
    void reset() {
        if (fd_ >= 0) ::close(fd_);
        fd_ = -1;
    }

  private:
    int fd_;
};

bool write_all(int fd, std::string_view data) {
    std::size_t done = 0;
    while (done < data.size()) {
        const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
        if (n < 0) {
            if (errno == EINTR) continue;
            return false;
        }
        done += static_cast<std::size_t>(n);
    }
    return true;
}

const char* file_kind(mode_t mode) {
    if (S_ISREG(mode)) return "a regular file";
    if (S_ISDIR(mode)) return "a directory";
    if (S_ISFIFO(mode)) return "a FIFO";
    if (S_ISCHR(mode)) return "a character device";
    if (S_ISBLK(mode)) return "a block device";
    if (S_ISSOCK(mode)) return "a socket";
    if (S_ISLNK(mode)) return "a symbolic link";
    return "a file of an unknown kind";
}

// Why another user could put files in the directory `st` describes, or "" when only weir's
// user and root can. The sticky bit keeps others from renaming or removing weir's files.
std::string unsafe_dir_reason(const struct stat& st) {
    const uid_t me = ::geteuid();
    if (st.st_uid != me && st.st_uid != 0) {
        return fmt::format("it belongs to uid {}, not to uid {} that weir runs as", st.st_uid, me);
    }
    if ((st.st_mode & S_IWOTH) != 0 && (st.st_mode & S_ISVTX) == 0) {
        return fmt::format("every user may write to it (mode {:04o}) and it has no sticky bit",
                           st.st_mode & 07777);
    }
    return "";
}

std::string unsafe_dir_message(const std::string& dir, const std::string& reason) {
    return dir + ": " + reason + ", so other users could plant files where weir writes its " +
           "checkpoints";
}

// The directory of a pipeline's checkpoints, <data_dir>/checkpoints/<pipeline>, opened one step
// at a time without following a symbolic link below data_dir, each step checked with
// unsafe_dir_reason(). With `create`, missing directories are made (checkpoints/ and
// <pipeline>/ with mode 0750); without, an invalid fd with `missing` when one does not exist.
// Otherwise an invalid fd with `error`.
unique_fd open_checkpoint_dir(const std::string& data_dir, const std::string& pipeline, bool create,
                              bool& missing, std::string& error) {
    missing = false;
    unique_fd dir(::open(data_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!dir && errno == ENOENT && create) {
        std::error_code ec;
        fs::create_directories(data_dir, ec);
        if (ec) {
            error = "cannot create " + data_dir + ": " + ec.message();
            return unique_fd();
        }
        dir = unique_fd(::open(data_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    }
    if (!dir) {
        missing = errno == ENOENT;
        error = "cannot open " + data_dir + ": " + errno_text();
        return unique_fd();
    }
    // Each directory is judged once open, so what is judged is what is used.
    auto safe = [&error](int fd, const fs::path& where) {
        struct stat st {};
        if (::fstat(fd, &st) != 0) {
            error = "cannot stat " + where.string() + ": " + errno_text();
            return false;
        }
        if (const std::string why = unsafe_dir_reason(st); !why.empty()) {
            error = unsafe_dir_message(where.string(), why);
            return false;
        }
        return true;
    };
    fs::path where = data_dir;
    if (!safe(dir.get(), where)) return unique_fd();
    for (const std::string& name : {std::string("checkpoints"), pipeline}) {
        where /= name;
        const int flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
        unique_fd next(::openat(dir.get(), name.c_str(), flags));
        if (!next && errno == ENOENT && create) {
            if (::mkdirat(dir.get(), name.c_str(), 0750) != 0 && errno != EEXIST) {
                error = "cannot create " + where.string() + ": " + errno_text();
                return unique_fd();
            }
            next = unique_fd(::openat(dir.get(), name.c_str(), flags));
        }
        if (!next) {
            if (errno == ENOENT) {
                missing = true;
                error = where.string() + ": does not exist";
            } else if (errno == ELOOP || errno == ENOTDIR) {
                struct stat found {};
                const bool known =
                    ::fstatat(dir.get(), name.c_str(), &found, AT_SYMLINK_NOFOLLOW) == 0;
                error = where.string() + ": expected a directory, found " +
                        (known ? file_kind(found.st_mode) : "something else");
                if (known && S_ISLNK(found.st_mode)) {
                    error += " (weir follows no symbolic link below its data dir)";
                }
            } else {
                error = "cannot open " + where.string() + ": " + errno_text();
            }
            return unique_fd();
        }
        dir = std::move(next);
        if (!safe(dir.get(), where)) return unique_fd();
    }
    return dir;
}

// The whole of a regular file open as `fd`, at most k_max_checkpoint_bytes, into the memory
// `allocate(size)` returns; the bytes read, or nullopt with `error`. `name` is for messages.
template <class Allocate>
std::optional<std::size_t> read_regular_into(int fd, const std::string& name, std::string& error,
                                             Allocate allocate) {
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
        error = name + ": cannot stat: " + errno_text();
        return std::nullopt;
    }
    if (!S_ISREG(st.st_mode)) {
        error = name + ": a checkpoint must be a regular file, this is " + file_kind(st.st_mode);
        return std::nullopt;
    }
    const auto size = static_cast<std::uint64_t>(st.st_size);
    if (size > k_max_checkpoint_bytes) {
        error = fmt::format("{}: {} bytes, more than the largest checkpoint weir reads ({} bytes)",
                            name, size, k_max_checkpoint_bytes);
        return std::nullopt;
    }
    char* bytes = allocate(static_cast<std::size_t>(size));
    std::size_t done = 0;
    while (done < size) {
        const ssize_t n = ::pread(fd, bytes + done, size - done, static_cast<off_t>(done));
        if (n < 0) {
            if (errno == EINTR) continue;
            error = name + ": cannot read: " + errno_text();
            return std::nullopt;
        }
        if (n == 0) break;  // it shrank meanwhile: what is there (decode judges it)
        done += static_cast<std::size_t>(n);
    }
    return done;
}

std::optional<std::string> read_regular(int fd, const std::string& name, std::string& error) {
    std::string bytes;
    const auto read = read_regular_into(fd, name, error, [&bytes](std::size_t size) {
        bytes.resize(size);
        return bytes.data();
    });
    if (!read) return std::nullopt;
    bytes.resize(*read);
    return bytes;
}

}  // namespace

std::optional<std::string> read_checkpoint_file(const std::string& path, std::string& error) {
    // Looked at before it is opened: opening a FIFO or a device may block or act.
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) {
        error = path + ": " + errno_text();
        return std::nullopt;
    }
    if (!S_ISREG(st.st_mode)) {
        error = path + ": a checkpoint must be a regular file, this is " + file_kind(st.st_mode);
        return std::nullopt;
    }
    unique_fd fd(::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC));
    if (!fd) {
        error = path + ": " + errno_text();
        return std::nullopt;
    }
    return read_regular(fd.get(), path, error);
}

std::string checkpoint_store::path(const std::string& pipeline, const std::string& query) const {
    return (fs::path(data_dir_) / "checkpoints" / pipeline / (query + ".ckpt")).string();
}

bool checkpoint_store::check_data_dir(std::string& error) const {
    struct stat st {};
    if (::stat(data_dir_.c_str(), &st) != 0) {
        if (errno == ENOENT) return true;
        error = data_dir_ + ": " + errno_text();
        return false;
    }
    if (!S_ISDIR(st.st_mode)) {
        error = data_dir_ + ": expected a directory, found " + file_kind(st.st_mode);
        return false;
    }
    if (const std::string why = unsafe_dir_reason(st); !why.empty()) {
        error = unsafe_dir_message(data_dir_, why);
        return false;
    }
    return true;
}

bool checkpoint_store::write(const std::string& pipeline, const std::string& query,
                             const checkpoint::checkpoint_data& data, std::string& error) const {
    checkpoint_stream out;
    if (out.open(*this, pipeline, query, data)) {
        for (const auto& [name, bytes] : data.sections) {
            out.begin_section(name);
            out.append(bytes);
            out.end_section();
        }
    }
    return out.commit(error);
}

struct checkpoint_stream::impl {
    // Writes smaller than this are gathered, so that the many small framing parts between a
    // large state's pieces do not each cost a system call.
    static constexpr std::size_t k_gather = std::size_t{1} << 20;

    unique_fd dir;
    unique_fd fd;
    std::string name;       // <query>.ckpt
    std::string temp;       // <query>.ckpt.tmp
    std::string temp_path;  // for messages
    std::string target_path;
    std::string error;
    std::string gathered;        // written to the file next
    std::uint64_t size = 0;      // the file's bytes, the gathered ones included
    std::uint64_t count_at = 0;  // where the section count's placeholder lies
    std::uint64_t sections = 0;
    std::uint64_t section_at = 0;  // the open section's length placeholder, or 0
    std::uint64_t section_bytes = 0;
    std::vector<std::pair<std::uint64_t, std::string>> patches;  // at commit: offset, bytes
    bool committed = false;

    ~impl() {
        if (fd && !committed) ::unlinkat(dir.get(), temp.c_str(), 0);
    }

    bool failed() const { return !error.empty(); }

    void fail_io(std::string_view what) {
        if (error.empty()) error = fmt::format("cannot {} {}: {}", what, temp_path, errno_text());
    }

    void put(std::string_view bytes) {
        if (failed()) return;
        size += bytes.size();
        if (size > k_max_checkpoint_bytes) {
            error = fmt::format("{}: more than {} bytes, the largest checkpoint weir reads",
                                target_path, k_max_checkpoint_bytes);
            return;
        }
        if (bytes.size() >= k_gather) {
            if (!flush() || !write_all(fd.get(), bytes)) fail_io("write");
            return;
        }
        gathered += bytes;
        if (gathered.size() >= k_gather && !flush()) fail_io("write");
    }

    bool flush() {
        const bool ok = write_all(fd.get(), gathered);
        gathered.clear();
        return ok;
    }

    bool pwrite_all(std::uint64_t at, std::string_view bytes) {
        std::size_t done = 0;
        while (done < bytes.size()) {
            const ssize_t n = ::pwrite(fd.get(), bytes.data() + done, bytes.size() - done,
                                       static_cast<off_t>(at + done));
            if (n < 0) {
                if (errno == EINTR) continue;
                return false;
            }
            done += static_cast<std::size_t>(n);
        }
        return true;
    }

    // The CRC32C of the file's bytes from `from` to `to`, read back.
    bool crc_of(std::uint64_t from, std::uint64_t to, std::uint32_t& crc) {
        std::string buf(static_cast<std::size_t>(std::min<std::uint64_t>(k_gather, to - from)),
                        '\0');
        crc = 0;
        for (std::uint64_t at = from; at < to;) {
            const std::size_t want =
                static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), to - at));
            const ssize_t n = ::pread(fd.get(), buf.data(), want, static_cast<off_t>(at));
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) return false;
            crc = crc32c(std::string_view(buf.data(), static_cast<std::size_t>(n)), crc);
            at += static_cast<std::uint64_t>(n);
        }
        return true;
    }
};

checkpoint_stream::checkpoint_stream() : impl_(std::make_unique<impl>()) {}
checkpoint_stream::~checkpoint_stream() = default;

const std::string& checkpoint_stream::error() const {
    return impl_->error;
}

bool checkpoint_stream::open(const checkpoint_store& store, const std::string& pipeline,
                             const std::string& query, const checkpoint::checkpoint_data& data) {
    impl& s = *impl_;
    s.target_path = store.path(pipeline, query);
    s.temp_path = s.target_path + ".tmp";
    s.name = query + ".ckpt";
    s.temp = s.name + ".tmp";
    bool missing = false;
    s.dir = open_checkpoint_dir(store.data_dir_, pipeline, true, missing, s.error);
    if (!s.dir) {
        if (s.error.empty()) s.error = "cannot open the directory of " + s.target_path;
        return false;
    }
    // A temporary file a crash left, or whatever was planted in its place, goes first: the
    // name itself, never what a symbolic link points to. The new one must then be created
    // (O_EXCL), not opened, so nothing put there meanwhile is written through.
    struct stat st {};
    if (::fstatat(s.dir.get(), s.temp.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
        if (S_ISLNK(st.st_mode)) {
            spdlog::warn(
                "{}: a symbolic link where weir writes its temporary checkpoint: "
                "removed, not followed",
                s.temp_path);
        }
        if (::unlinkat(s.dir.get(), s.temp.c_str(), S_ISDIR(st.st_mode) ? AT_REMOVEDIR : 0) != 0 &&
            errno != ENOENT) {
            s.error = "cannot remove " + s.temp_path + ": " + errno_text();
            return false;
        }
    }
    // Read and written: the CRC is computed from the file once the lengths are patched in.
    s.fd = unique_fd(::openat(s.dir.get(), s.temp.c_str(),
                              O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0640));
    if (!s.fd) {
        s.fail_io("write");
        return false;
    }
    const std::string head = checkpoint::stream::head(data);
    s.count_at = head.size() - checkpoint::stream::k_fixed_varint;
    s.put(head);
    return !s.failed();
}

void checkpoint_stream::begin_section(std::string_view name) {
    impl& s = *impl_;
    if (s.failed() || !s.fd) return;
    const std::string head = checkpoint::stream::section_head(name);
    s.put(head);
    s.section_at = s.size - checkpoint::stream::k_fixed_varint;
    s.section_bytes = 0;
    ++s.sections;
}

void checkpoint_stream::append(std::string_view bytes) {
    impl& s = *impl_;
    if (s.failed() || !s.fd || bytes.empty()) return;
    s.put(bytes);
    s.section_bytes += bytes.size();
}

void checkpoint_stream::end_section() {
    impl& s = *impl_;
    if (s.failed() || !s.fd || s.section_at == 0) return;
    s.patches.emplace_back(s.section_at, checkpoint::stream::fixed_varint(s.section_bytes));
    s.section_at = 0;
}

void checkpoint_stream::abandon() {
    impl& s = *impl_;
    if (s.fd && !s.committed) ::unlinkat(s.dir.get(), s.temp.c_str(), 0);
    s.committed = true;
}

bool checkpoint_stream::commit(std::string& error) {
    impl& s = *impl_;
    const auto fail = [&] {
        error = s.error.empty() ? "cannot write " + s.temp_path : s.error;
        abandon();
        return false;
    };
    if (s.failed() || !s.fd) return fail();
    const std::uint64_t payload = s.size - checkpoint::stream::k_payload_at;
    s.patches.emplace_back(s.count_at, checkpoint::stream::fixed_varint(s.sections));
    s.patches.emplace_back(checkpoint::stream::k_length_at,
                           checkpoint::stream::length_field(payload));
    if (!s.flush()) {
        s.fail_io("write");
        return fail();
    }
    for (const auto& [at, bytes] : s.patches) {
        if (!s.pwrite_all(at, bytes)) {
            s.fail_io("write");
            return fail();
        }
    }
    std::uint32_t crc = 0;
    if (!s.crc_of(checkpoint::stream::k_payload_at, s.size, crc)) {
        s.fail_io("read back");
        return fail();
    }
    s.put(checkpoint::stream::crc_trailer(crc));
    if (s.failed() || !s.flush() || ::fsync(s.fd.get()) != 0) {
        s.fail_io("write");
        return fail();
    }
    if (::renameat(s.dir.get(), s.temp.c_str(), s.dir.get(), s.name.c_str()) != 0) {
        s.error = "cannot rename " + s.temp_path + ": " + errno_text();
        return fail();
    }
    s.committed = true;
    if (::fsync(s.dir.get()) != 0) {
        error =
            "cannot fsync " + fs::path(s.target_path).parent_path().string() + ": " + errno_text();
        return false;
    }
    return true;
}

checkpoint_store::load_status checkpoint_store::load(const std::string& pipeline,
                                                     const std::string& query,
                                                     loaded_checkpoint& out,
                                                     std::string& error) const {
    const std::string file = path(pipeline, query);
    bool missing = false;
    std::string dir_error;
    const unique_fd dir = open_checkpoint_dir(data_dir_, pipeline, false, missing, dir_error);
    if (!dir) {
        if (missing) return load_status::absent;
        error = file + ": " + dir_error;
        return load_status::invalid;
    }
    const std::string name = query + ".ckpt";
    // Looked at before it is opened: opening a FIFO or a device may block or act.
    struct stat st {};
    if (::fstatat(dir.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
        if (errno == ENOENT) return load_status::absent;
        error = file + ": cannot stat: " + errno_text();
        return load_status::invalid;
    }
    if (!S_ISREG(st.st_mode)) {
        error = file + ": a checkpoint must be a regular file, this is " + file_kind(st.st_mode);
        return load_status::invalid;
    }
    const unique_fd fd(::openat(dir.get(), name.c_str(),
                                O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC));
    if (!fd) {
        error = file + ": cannot read: " + errno_text();
        return load_status::invalid;
    }
    // Mapped memory, not the heap: given back to the system as soon as the state is restored.
    const auto size = read_regular_into(fd.get(), file, error, [&out](std::size_t bytes) {
        out.file = mapped_bytes(std::max<std::size_t>(bytes, 1), false);
        return reinterpret_cast<char*>(out.file.get());
    });
    if (!size) return load_status::invalid;
    std::string decode_error;
    auto data = checkpoint::decode_view(
        std::string_view(reinterpret_cast<const char*>(out.file.get()), *size), decode_error);
    if (!data) {
        error = file + ": " + decode_error;
        return load_status::invalid;
    }
    out.data = std::move(*data);
    return load_status::loaded;
}

checkpoint_store::load_status checkpoint_store::load(const std::string& pipeline,
                                                     const std::string& query,
                                                     checkpoint::checkpoint_data& out,
                                                     std::string& error) const {
    loaded_checkpoint loaded;
    const load_status status = load(pipeline, query, loaded, error);
    if (status == load_status::loaded) out = checkpoint::copy_out(std::move(loaded.data));
    return status;
}

checkpoint_store::reset_status checkpoint_store::reset(const std::string& pipeline,
                                                       const std::string& query,
                                                       std::string& error) const {
    const std::string file = path(pipeline, query);
    bool missing = false;
    std::string dir_error;
    const unique_fd dir = open_checkpoint_dir(data_dir_, pipeline, false, missing, dir_error);
    if (!dir) {
        if (missing) return reset_status::absent;
        error = "cannot remove " + file + ": " + dir_error;
        return reset_status::failed;
    }
    const std::string name = query + ".ckpt";
    ::unlinkat(dir.get(), (name + ".tmp").c_str(), 0);  // a crash's leftover, if any
    if (::unlinkat(dir.get(), name.c_str(), 0) != 0) {
        if (errno == ENOENT) return reset_status::absent;
        error = "cannot remove " + file + ": " + errno_text();
        return reset_status::failed;
    }
    if (::fsync(dir.get()) != 0) {
        error = "cannot fsync " + fs::path(file).parent_path().string() + ": " + errno_text();
        return reset_status::failed;
    }
    return reset_status::removed;
}

}  // namespace weir::daemon
