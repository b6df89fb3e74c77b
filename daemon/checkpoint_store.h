// Checkpoint files on disk: <data_dir>/checkpoints/<pipeline>/<query>.ckpt, written
// atomically (temp file, fsync, rename, fsync the directory) so a crash leaves either the old
// or the new checkpoint, never a mix.
#pragma once

#include <optional>
#include <string>

#include "core/checkpoint/checkpoint_file.h"

namespace weir::daemon {

class checkpoint_store {
  public:
    explicit checkpoint_store(std::string data_dir) : data_dir_(std::move(data_dir)) {}

    std::string path(const std::string& pipeline, const std::string& query) const;

    // Writes atomically; false with a message (disk full, permissions) and the old file kept.
    bool write(const std::string& pipeline, const std::string& query,
               const checkpoint::checkpoint_data& data, std::string& error) const;

    enum class load_status { absent, loaded, invalid };
    // absent: no checkpoint (a first start); invalid: `error` names the file and the problem.
    load_status load(const std::string& pipeline, const std::string& query,
                     checkpoint::checkpoint_data& out, std::string& error) const;

    // Deletes a query's checkpoint (`weir run --reset-checkpoint`); true when none is left.
    bool reset(const std::string& pipeline, const std::string& query, std::string& error) const;

  private:
    std::string data_dir_;
};

// Reads a whole file; nullopt with errno's message in `error`.
std::optional<std::string> read_whole_file(const std::string& path, std::string& error);

}  // namespace weir::daemon
