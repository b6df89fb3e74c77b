// Memory on transparent huge pages for the large tables probed at random (a join's keys and
// records, a window engine's groups): with 4 KiB pages each probe of a table of many megabytes
// misses the TLB as well as the cache, and the page walk costs about as much again. The
// kernel is asked (madvise), not told: where it has no huge page to give, the pages are small.
#pragma once

#include <sys/mman.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <memory>
#include <new>
#include <utility>
#include <vector>

#include "core/diag/sanitizers.h"

namespace weir {

inline constexpr std::size_t k_huge_page = std::size_t{2} << 20;

// A build with AddressSanitizer takes this memory from the heap instead of mapping it, so that
// it still sees overruns past a block and uses after release.
inline constexpr bool k_mapped_memory = !k_address_sanitizer;

// `bytes` rounded up to whole huge pages.
inline constexpr std::size_t huge_pages_of(std::size_t bytes) {
    return (bytes + k_huge_page - 1) & ~(k_huge_page - 1);
}

// `bytes` of zeroed anonymous pages, mapped from the kernel (resident once touched), or null
// where the system has none to give; release with munmap.
inline void* try_map_pages(std::size_t bytes) noexcept {
    void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? nullptr : p;
}

// try_map_pages(), throwing std::bad_alloc where it has no memory.
inline void* map_pages(std::size_t bytes) {
    void* p = try_map_pages(bytes);
    if (p == nullptr) throw std::bad_alloc();
    return p;
}

// `bytes` (rounded up to whole huge pages) aligned to a huge page, advised onto huge pages
// unless `advise` is false (its pages then come as they are touched, small), or null where the
// system has no memory to give; release with free_huge(). Mapped from the kernel, not taken from
// the heap: released, the memory goes back to the system at once (a heap would keep a large
// table's old array after it grew). Allocates nothing from the heap, so a heap may take its
// memory from it.
inline void* try_allocate_huge(std::size_t bytes, bool advise = true) noexcept {
    if (bytes >
        static_cast<std::size_t>(std::numeric_limits<std::ptrdiff_t>::max()) - 2 * k_huge_page) {
        return nullptr;
    }
    const std::size_t rounded = huge_pages_of(bytes);
    if constexpr (!k_mapped_memory) return std::aligned_alloc(k_huge_page, rounded);
    // One huge page more than needed, then what lies outside the aligned block is unmapped.
    const std::size_t mapped = rounded + k_huge_page;
    void* p = try_map_pages(mapped);
    if (p == nullptr) return nullptr;
    const auto start = reinterpret_cast<std::uintptr_t>(p);
    const std::uintptr_t aligned = (start + k_huge_page - 1) & ~std::uintptr_t{k_huge_page - 1};
    if (aligned > start) ::munmap(p, aligned - start);
    if (const std::uintptr_t end = start + mapped; end > aligned + rounded) {
        ::munmap(reinterpret_cast<void*>(aligned + rounded), end - (aligned + rounded));
    }
    auto* block = reinterpret_cast<void*>(aligned);
    if (advise) ::madvise(block, rounded, MADV_HUGEPAGE);  // advice: an error means small pages
    return block;
}

// try_allocate_huge(), throwing std::bad_alloc where it has no memory.
inline void* allocate_huge(std::size_t bytes, bool advise = true) {
    void* p = try_allocate_huge(bytes, advise);
    if (p == nullptr) throw std::bad_alloc();
    return p;
}

// Releases what allocate_huge(bytes) returned.
inline void free_huge(void* p, std::size_t bytes) noexcept {
    if constexpr (!k_mapped_memory) {
        std::free(p);
    } else if (p != nullptr) {
        ::munmap(p, huge_pages_of(bytes));
    }
}

// An allocator whose arrays of a huge page or more are on huge pages (smaller ones as
// std::allocator's: a small table stays small).
template <class T>
struct huge_page_allocator {
    using value_type = T;
    huge_page_allocator() = default;
    template <class U>
    huge_page_allocator(const huge_page_allocator<U>&) noexcept {}

    T* allocate(std::size_t n) {
        if (n > static_cast<std::size_t>(std::numeric_limits<std::ptrdiff_t>::max()) / sizeof(T)) {
            throw std::bad_array_new_length();
        }
        if (n * sizeof(T) < k_huge_page) return std::allocator<T>().allocate(n);
        return static_cast<T*>(allocate_huge(n * sizeof(T)));
    }
    void deallocate(T* p, std::size_t n) noexcept {
        if (n * sizeof(T) < k_huge_page) {
            std::allocator<T>().deallocate(p, n);
        } else {
            free_huge(p, n * sizeof(T));
        }
    }
    template <class U>
    bool operator==(const huge_page_allocator<U>&) const noexcept {
        return true;
    }
};

template <class T>
using huge_vector = std::vector<T, huge_page_allocator<T>>;

// Zeroed memory straight from the kernel (anonymous pages): resident only once touched, and
// given back to the system as soon as it is released, where a heap would keep it for reuse.
// For large pools that empty all at once (a window engine's cells when its input ends).
// `huge`: aligned to a huge page and the whole huge pages within `bytes` advised onto huge
// pages; the rest, less than one, on small pages (touched, a huge page past the end would be
// resident whole).
class mapped_bytes {
  public:
    mapped_bytes() = default;
    mapped_bytes(std::size_t bytes, bool huge) : bytes_(bytes), huge_(huge) {
        if constexpr (!k_mapped_memory) {
            p_ = new std::byte[bytes]();
            return;
        }
        if (!huge) {
            p_ = static_cast<std::byte*>(map_pages(bytes));
            return;
        }
        p_ = static_cast<std::byte*>(allocate_huge(bytes, false));
        if (const std::size_t whole = bytes & ~(k_huge_page - 1); whole != 0) {
            ::madvise(p_, whole, MADV_HUGEPAGE);  // advice: an error means small pages
        }
    }
    ~mapped_bytes() { release(); }
    mapped_bytes(mapped_bytes&& o) noexcept
        : p_(std::exchange(o.p_, nullptr)), bytes_(std::exchange(o.bytes_, 0)), huge_(o.huge_) {}
    mapped_bytes& operator=(mapped_bytes&& o) noexcept {
        if (this != &o) {
            release();
            p_ = std::exchange(o.p_, nullptr);
            bytes_ = std::exchange(o.bytes_, 0);
            huge_ = o.huge_;
        }
        return *this;
    }
    std::byte* get() const { return p_; }

  private:
    void release() noexcept {
        if (p_ == nullptr) return;
        if constexpr (k_mapped_memory) {
            if (huge_) {
                free_huge(p_, bytes_);
            } else {
                ::munmap(p_, bytes_);
            }
        } else {
            delete[] p_;
        }
    }
    std::byte* p_ = nullptr;
    std::size_t bytes_ = 0;
    bool huge_ = false;
};

// Entries that never move (pointers to them stay valid as it grows), in chunks of a huge page
// each, indexed in O(1). The first chunk is on small pages, touched as entries come: a small
// pool takes little memory; from the second on, the pool is large and its chunks are advised
// onto huge pages.
template <class T>
class stable_pool {
  public:
    static constexpr std::size_t k_chunk = k_huge_page / sizeof(T);
    static_assert(k_chunk > 0);

    stable_pool() = default;
    stable_pool(const stable_pool&) = delete;
    stable_pool& operator=(const stable_pool&) = delete;
    ~stable_pool() {
        for (std::size_t i = 0; i < size_; ++i) (*this)[i].~T();
        for (T* chunk : chunks_) free_huge(chunk, k_chunk * sizeof(T));
    }

    std::size_t size() const { return size_; }
    T& operator[](std::size_t i) { return chunks_[i / k_chunk][i % k_chunk]; }
    const T& operator[](std::size_t i) const { return chunks_[i / k_chunk][i % k_chunk]; }

    // A new default-constructed entry at the end.
    T& emplace_back() {
        if (size_ == chunks_.size() * k_chunk) {
            chunks_.push_back(
                static_cast<T*>(allocate_huge(k_chunk * sizeof(T), !chunks_.empty())));
        }
        T* at = new (&chunks_[size_ / k_chunk][size_ % k_chunk]) T();
        ++size_;
        return *at;
    }

  private:
    std::vector<T*> chunks_;
    std::size_t size_ = 0;
};

}  // namespace weir
