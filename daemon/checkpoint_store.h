// Checkpoint files on disk: <data_dir>/checkpoints/<pipeline>/<query>.ckpt, written
// atomically (temp file, fsync, rename, fsync the directory) so a crash leaves either the old
// or the new checkpoint, never a mix. weir often runs as root: below data_dir no symbolic link
// is followed, a directory other users may write to is refused, and only regular files of at
// most k_max_checkpoint_bytes are read.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "core/checkpoint/checkpoint_file.h"

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

    // Writes atomically; false with a message (disk full, permissions) and the old file kept.
    // `pieces`: sections in the slices they were snapshot in, written after data.sections
    // without being joined first (checkpoint::encode_parts).
    bool write(const std::string& pipeline, const std::string& query,
               const checkpoint::checkpoint_data& data, const checkpoint::section_pieces& pieces,
               std::string& error) const;

    enum class load_status { absent, loaded, invalid };
    // absent: no checkpoint (a first start); invalid: `error` names the file and the problem
    // (corrupt, not a regular file, too large, an unsafe directory).
    load_status load(const std::string& pipeline, const std::string& query,
                     checkpoint::checkpoint_data& out, std::string& error) const;

    enum class reset_status { removed, absent, failed };
    // Deletes a query's checkpoint (`weir run --reset-checkpoint`): removed, absent (there was
    // none), or failed with `error`.
    reset_status reset(const std::string& pipeline, const std::string& query,
                       std::string& error) const;

  private:
    std::string data_dir_;
};

// A checkpoint file named by the user (`weir checkpoint inspect`): nullopt with the reason in
// `error` when it cannot be read, is not a regular file or is larger than
// k_max_checkpoint_bytes.
std::optional<std::string> read_checkpoint_file(const std::string& path, std::string& error);

}  // namespace weir::daemon
