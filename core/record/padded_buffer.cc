// A padded buffer's shared memory and its reuse; see padded_buffer.h.
#include "core/record/padded_buffer.h"

#include <mutex>
#include <vector>

namespace weir {

// Memory the handles gave up, kept for the buffer's next fresh memory of the same capacity.
// Handles are released on other threads, hence the lock.
struct padded_buffer::recycler {
    // Enough for the memory a reader may hold at once (a lane's backlog of deliveries).
    static constexpr std::size_t k_kept = 32;

    std::mutex mutex;
    std::size_t capacity = 0;  // of the memory kept
    std::vector<std::unique_ptr<char[]>> free;

    std::unique_ptr<char[]> take(std::size_t want) {
        std::lock_guard lock(mutex);
        if (want != capacity) {
            free.clear();
            capacity = want;
            return nullptr;
        }
        if (free.empty()) return nullptr;
        auto mem = std::move(free.back());
        free.pop_back();
        return mem;
    }
    void give(char* mem, std::size_t cap) {
        std::unique_ptr<char[]> owned(mem);
        std::lock_guard lock(mutex);
        if (cap == capacity && free.size() < k_kept) free.push_back(std::move(owned));
    }
};

void padded_buffer::own(std::size_t from, std::size_t capacity) {
    std::unique_ptr<char[]> fresh;
    if (recycler_) fresh = recycler_->take(capacity);
    if (!fresh) {
        fresh.reset(new char[capacity + k_record_padding]);
        // The padding is never written after this: reused memory keeps it zero.
        std::memset(fresh.get() + capacity, 0, k_record_padding);
    }
    const std::size_t kept = size_ > from ? size_ - from : 0;
    if (kept > 0) std::memcpy(fresh.get(), mem_.get() + from, kept);
    if (recycler_) {
        mem_ = std::shared_ptr<char[]>(
            fresh.release(), [r = recycler_, capacity](char* mem) { r->give(mem, capacity); });
    } else {
        mem_ = std::shared_ptr<char[]>(fresh.release());
    }
    size_ = kept;
    capacity_ = capacity;
    shared_ = false;
}

std::shared_ptr<const void> padded_buffer::keep() {
    if (!mem_) return nullptr;
    if (!recycler_) recycler_ = std::make_shared<recycler>();
    shared_ = true;
    return std::shared_ptr<const void>(mem_, mem_.get());
}

}  // namespace weir
