// A bump arena for strings that expressions produce at run time (lower(), to_string(), "a" + b).
// Owned by the caller (one per batch or per worker), reset between batches; memory is kept
// across resets, so after warm-up evaluating expressions allocates nothing.
#pragma once

#include <cstddef>
#include <memory>
#include <string_view>
#include <vector>

namespace weir::expr {

class scratch_arena {
  public:
    explicit scratch_arena(std::size_t block_size = 16 * 1024) : block_size_(block_size) {}
    scratch_arena(const scratch_arena&) = delete;
    scratch_arena& operator=(const scratch_arena&) = delete;
    scratch_arena(scratch_arena&&) = default;
    scratch_arena& operator=(scratch_arena&&) = default;

    // `n` bytes, valid until reset() or destruction. Allocates from the system only when the
    // retained blocks are exhausted.
    char* allocate(std::size_t n);
    // A copy of `s` in the arena.
    std::string_view copy(std::string_view s);

    // Forgets every allocation; keeps the memory. Everything handed out before is invalid.
    void reset();

    // Bytes handed out since the last reset, and bytes held.
    std::size_t used() const { return used_; }
    std::size_t capacity() const;

  private:
    struct block {
        std::unique_ptr<char[]> data;
        std::size_t size;
    };
    std::vector<block> blocks_;
    std::size_t current_ = 0;  // index of the block being filled
    std::size_t offset_ = 0;   // in blocks_[current_]
    std::size_t used_ = 0;
    std::size_t block_size_;
};

}  // namespace weir::expr
