// Memory of the sketches' growing buffers (a sparse HyperLogLog's list, the exact values of a
// quantile): size classes carved from large slabs on huge pages, so that a window engine's many
// small buffers cost neither a malloc each nor a TLB miss on every visit.
#pragma once

#include <cstddef>
#include <limits>
#include <new>
#include <vector>

namespace weir::sketch {

// Buffers up to this size come from the pool; larger ones from operator new.
inline constexpr std::size_t k_max_pooled_bytes = std::size_t{32} << 10;

// Process-wide and thread-safe (one mutex). A pooled buffer takes the next power of two of its
// size (at least 64 bytes: it starts a cache line); freed, it waits on its size class's free
// list for the next buffer of that class. The pool keeps what it took from the system until the
// process ends: memory of a class is neither returned nor given to another class (a window's
// buffers are freed when it closes and taken again by the next window's).
void* pool_allocate(std::size_t bytes);
// `bytes` as given to pool_allocate.
void pool_free(void* p, std::size_t bytes) noexcept;

template <class T>
struct pool_allocator {
    using value_type = T;
    pool_allocator() = default;
    template <class U>
    pool_allocator(const pool_allocator<U>&) noexcept {}

    T* allocate(std::size_t n) {
        if (n > std::numeric_limits<std::size_t>::max() / sizeof(T)) {
            throw std::bad_array_new_length();
        }
        return static_cast<T*>(pool_allocate(n * sizeof(T)));
    }
    void deallocate(T* p, std::size_t n) noexcept { pool_free(p, n * sizeof(T)); }
    template <class U>
    bool operator==(const pool_allocator<U>&) const noexcept {
        return true;
    }
};

template <class T>
using pooled_vector = std::vector<T, pool_allocator<T>>;

}  // namespace weir::sketch
