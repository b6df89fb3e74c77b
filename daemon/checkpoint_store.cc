// Atomic checkpoint files; see checkpoint_store.h.
#include "daemon/checkpoint_store.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace weir::daemon {

namespace fs = std::filesystem;

namespace {

std::string errno_text() {
    return std::strerror(errno);
}

bool write_all(int fd, const std::string& data) {
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

bool fsync_directory(const fs::path& dir) {
    const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return false;
    const bool ok = ::fsync(fd) == 0;
    ::close(fd);
    return ok;
}

}  // namespace

std::optional<std::string> read_whole_file(const std::string& path, std::string& error) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        error = errno_text();
        return std::nullopt;
    }
    std::ostringstream ss;
    ss << in.rdbuf();
    if (in.bad()) {
        error = errno_text();
        return std::nullopt;
    }
    return ss.str();
}

std::string checkpoint_store::path(const std::string& pipeline, const std::string& query) const {
    return (fs::path(data_dir_) / "checkpoints" / pipeline / (query + ".ckpt")).string();
}

bool checkpoint_store::write(const std::string& pipeline, const std::string& query,
                             const checkpoint::checkpoint_data& data, std::string& error) const {
    const fs::path target = path(pipeline, query);
    const fs::path dir = target.parent_path();
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) {
        error = "cannot create " + dir.string() + ": " + ec.message();
        return false;
    }
    const fs::path temp = target.string() + ".tmp";
    const std::string bytes = checkpoint::encode(data);
    const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (fd < 0) {
        error = "cannot write " + temp.string() + ": " + errno_text();
        return false;
    }
    if (!write_all(fd, bytes) || ::fsync(fd) != 0) {
        error = "cannot write " + temp.string() + ": " + errno_text();
        ::close(fd);
        ::unlink(temp.c_str());
        return false;
    }
    ::close(fd);
    if (::rename(temp.c_str(), target.c_str()) != 0) {
        error = "cannot rename " + temp.string() + ": " + errno_text();
        ::unlink(temp.c_str());
        return false;
    }
    if (!fsync_directory(dir)) {
        error = "cannot fsync " + dir.string() + ": " + errno_text();
        return false;
    }
    return true;
}

checkpoint_store::load_status checkpoint_store::load(const std::string& pipeline,
                                                     const std::string& query,
                                                     checkpoint::checkpoint_data& out,
                                                     std::string& error) const {
    const std::string file = path(pipeline, query);
    std::error_code ec;
    if (!fs::exists(file, ec)) return load_status::absent;
    std::string read_error;
    auto bytes = read_whole_file(file, read_error);
    if (!bytes) {
        error = file + ": cannot read: " + read_error;
        return load_status::invalid;
    }
    std::string decode_error;
    auto data = checkpoint::decode(*bytes, decode_error);
    if (!data) {
        error = file + ": " + decode_error;
        return load_status::invalid;
    }
    out = std::move(*data);
    return load_status::loaded;
}

bool checkpoint_store::reset(const std::string& pipeline, const std::string& query,
                             std::string& error) const {
    const std::string file = path(pipeline, query);
    std::error_code ec;
    fs::remove(file, ec);
    if (ec) {
        error = "cannot remove " + file + ": " + ec.message();
        return false;
    }
    return true;
}

}  // namespace weir::daemon
