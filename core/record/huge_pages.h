// Memory on transparent huge pages for the large tables probed at random (a join's keys and
// records, a window engine's groups): with 4 KiB pages each probe of a table of many megabytes
// misses the TLB as well as the cache, and the page walk costs about as much again. The
// kernel is asked (madvise), not told: where it has no huge page to give, the pages are small.
#pragma once

#include <sys/mman.h>

#include <cstddef>
#include <cstdlib>
#include <limits>
#include <memory>
#include <new>
#include <vector>

namespace weir {

inline constexpr std::size_t k_huge_page = std::size_t{2} << 20;

// `bytes` (rounded up to whole huge pages) aligned to a huge page, advised onto huge pages
// unless `advise` is false (its pages then come as they are touched, small); release with
// std::free.
inline void* allocate_huge(std::size_t bytes, bool advise = true) {
    if (bytes >
        static_cast<std::size_t>(std::numeric_limits<std::ptrdiff_t>::max()) - k_huge_page) {
        throw std::bad_alloc();
    }
    const std::size_t rounded = (bytes + k_huge_page - 1) & ~(k_huge_page - 1);
    void* p = std::aligned_alloc(k_huge_page, rounded);
    if (p == nullptr) throw std::bad_alloc();
    if (advise) ::madvise(p, rounded, MADV_HUGEPAGE);  // advice: an error only means small pages
    return p;
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
            std::free(p);
        }
    }
    template <class U>
    bool operator==(const huge_page_allocator<U>&) const noexcept {
        return true;
    }
};

template <class T>
using huge_vector = std::vector<T, huge_page_allocator<T>>;

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
        for (T* chunk : chunks_) std::free(chunk);
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
