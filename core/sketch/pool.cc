// The sketch buffer pool: power-of-two size classes with free lists, bump-allocated from slabs.
#include "core/sketch/pool.h"

#include <bit>
#include <cstdint>
#include <mutex>

#include "core/diag/sanitizers.h"
#include "core/record/huge_pages.h"

namespace weir::sketch {

namespace {

constexpr std::size_t k_min_class_bytes = 64;
constexpr int k_classes = std::countr_zero(k_max_pooled_bytes / k_min_class_bytes) + 1;

int class_of(std::size_t bytes) {
    if (bytes <= k_min_class_bytes) return 0;
    return std::bit_width(bytes - 1) - std::countr_zero(k_min_class_bytes);
}

struct pool {
    std::mutex mutex;
    void* free[k_classes] = {};  // singly linked through each buffer's first word
    std::byte* next = nullptr;   // the current slab's unused part
    std::byte* end = nullptr;
    std::vector<void*> slabs;  // kept reachable: the pool lives as long as the process
};

pool& the_pool() {
    // Never destroyed: buffers may be freed by static destructors that run after it would be.
    static pool* p = new pool();
    return *p;
}

// A build with AddressSanitizer allocates each buffer on its own, so that it still sees
// overruns and use after free.
constexpr bool k_pooled = !k_address_sanitizer;

}  // namespace

void* pool_allocate(std::size_t bytes) {
    if (!k_pooled || bytes > k_max_pooled_bytes) return ::operator new(bytes);
    const int c = class_of(bytes);
    const std::size_t size = k_min_class_bytes << c;
    pool& p = the_pool();
    std::lock_guard lock(p.mutex);
    if (void* b = p.free[c]) {
        p.free[c] = *static_cast<void**>(b);
        return b;
    }
    if (static_cast<std::size_t>(p.end - p.next) < size) {
        // The first slab on small pages, touched as buffers come (a few small sketches take
        // little memory); the next ones advised onto huge pages. The old slab's rest (less than
        // the largest class) is left unused.
        auto* slab = static_cast<std::byte*>(allocate_huge(k_huge_page, !p.slabs.empty()));
        p.slabs.push_back(slab);
        p.next = slab;
        p.end = slab + k_huge_page;
    }
    void* b = p.next;
    p.next += size;
    return b;
}

void pool_free(void* b, std::size_t bytes) noexcept {
    if (b == nullptr) return;
    if (!k_pooled || bytes > k_max_pooled_bytes) {
        ::operator delete(b);
        return;
    }
    const int c = class_of(bytes);
    pool& p = the_pool();
    std::lock_guard lock(p.mutex);
    *static_cast<void**>(b) = p.free[c];
    p.free[c] = b;
}

}  // namespace weir::sketch
