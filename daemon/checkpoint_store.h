// Checkpoint files on disk: <data_dir>/checkpoints/<pipeline>/<query>.ckpt, written
// atomically (temp file, fsync, rename, fsync the directory) so a crash leaves either the old
// or the new checkpoint, never a mix. weir often runs as root: below data_dir no symbolic link
// is followed, a directory other users may write to is refused, and only regular files of at
// most k_max_checkpoint_bytes are read.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/checkpoint/checkpoint_file.h"
#include "core/record/huge_pages.h"

namespace weir::daemon {

// The largest checkpoint weir writes or reads (4 GiB): a larger file is refused rather than
// read into memory.
inline constexpr std::uint64_t k_max_checkpoint_bytes = std::uint64_t{4} << 30;

class checkpoint_store {
  public:
    explicit checkpoint_store(std::string data_dir) : data_dir_(std::move(data_dir)) {}

    std::string path(const std::string& pipeline, const std::string& query) const;

    // False with a message when other users could plant files where weir writes: data_dir is
    // owned by another user than weir's (root excepted), or everyone may write to it without
    // the sticky bit. A data_dir that does not exist yet is fine (the first checkpoint makes
    // it). The same rule holds for checkpoints/ and checkpoints/<pipeline>/ at every use.
    bool check_data_dir(std::string& error) const;

    // Writes atomically (through a checkpoint_stream); false with a message (disk full,
    // permissions) and the old file kept.
    bool write(const std::string& pipeline, const std::string& query,
               const checkpoint::checkpoint_data& data, std::string& error) const;

    enum class load_status { absent, loaded, invalid };
    // A checkpoint as read: the file's bytes, and the checkpoint viewing them (its sections
    // are not copied, so restoring a large state holds it once beside what it becomes).
    struct loaded_checkpoint {
        mapped_bytes file;
        checkpoint::checkpoint_view data;
    };
    // absent: no checkpoint (a first start); invalid: `error` names the file and the problem
    // (corrupt, not a regular file, too large, an unsafe directory).
    load_status load(const std::string& pipeline, const std::string& query, loaded_checkpoint& out,
                     std::string& error) const;
    // The same, copied out of the file.
    load_status load(const std::string& pipeline, const std::string& query,
                     checkpoint::checkpoint_data& out, std::string& error) const;

    enum class reset_status { removed, absent, failed };
    // Deletes a query's checkpoint (`weir run --reset-checkpoint`): removed, absent (there was
    // none), or failed with `error`.
    reset_status reset(const std::string& pipeline, const std::string& query,
                       std::string& error) const;

  private:
    friend class checkpoint_stream;
    std::string data_dir_;
};

// A query's checkpoint written while its state is still being snapshot
// (checkpoint::stream): open() creates the temporary file, the sections go to it as they come
// (gathered into writes of at least 1 MiB, never held whole), and commit() patches their
// lengths in, appends the CRC32C (read back from the file) and makes it the checkpoint
// atomically, as write() does. The first failure is kept: later calls do nothing, and
// commit() returns it. Destroyed without a commit, the temporary file is removed and the old
// checkpoint stays. Used by one thread at a time.
class checkpoint_stream {
  public:
    checkpoint_stream();
    ~checkpoint_stream();
    checkpoint_stream(const checkpoint_stream&) = delete;
    checkpoint_stream& operator=(const checkpoint_stream&) = delete;

    // The header and data's plan fingerprint, written time and inputs (not its sections).
    bool open(const checkpoint_store& store, const std::string& pipeline, const std::string& query,
              const checkpoint::checkpoint_data& data);
    // A section: its name, then its bytes in any number of appends, then its end.
    void begin_section(std::string_view name);
    void append(std::string_view bytes);
    void end_section();
    // False with `error` when anything failed (the temporary file is then removed).
    bool commit(std::string& error);
    // Removes the temporary file: this checkpoint is not written.
    void abandon();
    const std::string& error() const;

  private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

// A checkpoint file named by the user (`weir checkpoint inspect`): nullopt with the reason in
// `error` when it cannot be read, is not a regular file or is larger than
// k_max_checkpoint_bytes.
std::optional<std::string> read_checkpoint_file(const std::string& path, std::string& error);

}  // namespace weir::daemon
