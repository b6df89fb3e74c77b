// Bump allocation for run-time strings of expressions.
#include "core/expr/scratch_arena.h"

#include <algorithm>
#include <cstring>

namespace weir::expr {

char* scratch_arena::allocate(std::size_t n) {
    if (n == 0) n = 1;  // distinct, valid pointers even for empty strings
    while (current_ < blocks_.size()) {
        block& b = blocks_[current_];
        if (b.size - offset_ >= n) {
            char* p = b.data.get() + offset_;
            offset_ += n;
            used_ += n;
            return p;
        }
        if (offset_ == 0 && b.size < n) break;  // this retained block can never hold it
        ++current_;
        offset_ = 0;
    }
    const std::size_t size = std::max(n, block_size_);
    const auto at =
        blocks_.begin() + static_cast<std::ptrdiff_t>(std::min(current_, blocks_.size()));
    blocks_.insert(at, block{std::make_unique<char[]>(size), size});
    offset_ = n;
    used_ += n;
    return blocks_[current_].data.get();
}

std::string_view scratch_arena::copy(std::string_view s) {
    char* p = allocate(s.size());
    if (!s.empty()) std::memcpy(p, s.data(), s.size());
    return {p, s.size()};
}

void scratch_arena::reset() {
    current_ = 0;
    offset_ = 0;
    used_ = 0;
}

std::size_t scratch_arena::capacity() const {
    std::size_t total = 0;
    for (const auto& b : blocks_) total += b.size;
    return total;
}

}  // namespace weir::expr
