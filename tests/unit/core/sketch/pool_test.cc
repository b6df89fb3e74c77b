// The sketch buffer pool: buffers are aligned, never overlap while live, keep their contents
// as vectors grow and shrink, and are taken again once freed.
#include "core/sketch/pool.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <map>
#include <random>
#include <utility>
#include <vector>

namespace weir::sketch {
namespace {

TEST(sketch_pool, live_buffers_are_aligned_and_disjoint_and_keep_their_bytes) {
    std::mt19937_64 rng(17);
    std::map<std::uintptr_t, std::pair<std::size_t, unsigned char>> live;  // at -> size, fill
    for (int step = 0; step < 20000; ++step) {
        if (!live.empty() && rng() % 3 == 0) {
            auto it = live.begin();
            std::advance(it, static_cast<long>(rng() % live.size()));
            auto* p = reinterpret_cast<unsigned char*>(it->first);
            const auto [size, fill] = it->second;
            ASSERT_TRUE(std::all_of(p, p + size, [&](unsigned char c) { return c == fill; }));
            pool_free(p, size);
            live.erase(it);
            continue;
        }
        // Mostly pooled sizes, a few beyond the largest class.
        const std::size_t size = rng() % 10 == 0 ? k_max_pooled_bytes + 1 + rng() % 1000
                                                 : 1 + rng() % k_max_pooled_bytes;
        auto* p = static_cast<unsigned char*>(pool_allocate(size));
        const auto at = reinterpret_cast<std::uintptr_t>(p);
#if !defined(__SANITIZE_ADDRESS__)
        // (AddressSanitizer builds allocate each buffer on its own, aligned as malloc does.)
        if (size <= k_max_pooled_bytes) {
            EXPECT_EQ(at % 64, 0u) << size;
        }
#endif
        const auto next = live.lower_bound(at);
        if (next != live.end()) {
            ASSERT_LE(at + size, next->first);
        }
        if (next != live.begin()) {
            const auto prev = std::prev(next);
            ASSERT_LE(prev->first + prev->second.first, at);
        }
        const auto fill = static_cast<unsigned char>(step);
        std::memset(p, fill, size);
        live.emplace(at, std::make_pair(size, fill));
    }
    for (const auto& [at, v] : live) pool_free(reinterpret_cast<void*>(at), v.first);
}

TEST(sketch_pool, a_freed_buffer_is_taken_again) {
#if !defined(__SANITIZE_ADDRESS__)
    void* a = pool_allocate(100);
    pool_free(a, 100);
    void* b = pool_allocate(128);  // the same size class
    EXPECT_EQ(a, b);
    pool_free(b, 128);
#endif
}

TEST(sketch_pool, vectors_grow_and_copy) {
    pooled_vector<std::uint32_t> v;
    for (std::uint32_t i = 0; i < 20000; ++i) v.push_back(i * 7);
    pooled_vector<std::uint32_t> w = v;
    v.clear();
    v.shrink_to_fit();
    ASSERT_EQ(w.size(), 20000u);
    for (std::uint32_t i = 0; i < 20000; ++i) ASSERT_EQ(w[i], i * 7);
}

}  // namespace
}  // namespace weir::sketch
