// A bump allocator for the strings a batch owns (unescaped JSON strings, CSV cells with
// quotes). Memory is released all at once by reset(), which keeps the largest block so a
// steady stream of batches allocates nothing.
#pragma once

#include <cstddef>
#include <cstring>
#include <memory>
#include <string_view>
#include <vector>

namespace weir {

class arena {
  public:
    explicit arena(std::size_t block_size = 64 * 1024) : block_size_(block_size) {}

    // Copies `s` into the arena; the view lives until reset() or destruction.
    std::string_view copy(std::string_view s) {
        char* p = allocate(s.size());
        if (!s.empty()) std::memcpy(p, s.data(), s.size());
        return {p, s.size()};
    }

    char* allocate(std::size_t n) {
        if (used_ + n > capacity_) grow(n);
        char* p = current_ + used_;
        used_ += n;
        return p;
    }

    void reset() {
        if (blocks_.size() > 1) {
            // Keep only the largest (last) block.
            std::unique_ptr<char[]> keep = std::move(blocks_.back());
            blocks_.clear();
            blocks_.push_back(std::move(keep));
        }
        current_ = blocks_.empty() ? nullptr : blocks_.back().get();
        used_ = 0;
    }

    std::size_t capacity() const { return total_; }

  private:
    void grow(std::size_t n) {
        std::size_t size = std::max(block_size_, n);
        if (!blocks_.empty()) size = std::max(size, capacity_ * 2);
        blocks_.push_back(std::make_unique<char[]>(size));
        current_ = blocks_.back().get();
        capacity_ = size;
        total_ += size;
        used_ = 0;
    }

    std::size_t block_size_;
    std::vector<std::unique_ptr<char[]>> blocks_;
    char* current_ = nullptr;
    std::size_t capacity_ = 0;
    std::size_t used_ = 0;
    std::size_t total_ = 0;
};

}  // namespace weir
