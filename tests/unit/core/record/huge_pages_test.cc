// The huge-page arrays: a stable_pool's entries keep their addresses and values as it grows
// over several chunks and are destroyed with it; a huge_vector holds its elements across the
// size where its storage moves onto huge pages; try_allocate_huge() gives a block aligned to a
// huge page and advised onto huge pages, or null without throwing.
#include "core/record/huge_pages.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

namespace weir {
namespace {

struct counted {
    static inline int alive = 0;
    std::string text;
    counted() { ++alive; }
    ~counted() { --alive; }
};

// The VmFlags of the mapping holding `p` (/proc/self/smaps), empty if none holds it.
std::string vm_flags(const void* p) {
    std::ifstream smaps("/proc/self/smaps");
    const auto at = reinterpret_cast<std::uintptr_t>(p);
    bool inside = false;
    for (std::string line; std::getline(smaps, line);) {
        std::uintptr_t from = 0, to = 0;
        char dash = 0;
        if (std::istringstream head(line); head >> std::hex >> from >> dash >> to && dash == '-') {
            inside = from <= at && at < to;
        } else if (inside && line.starts_with("VmFlags:")) {
            return line.substr(8) + " ";
        }
    }
    return {};
}

TEST(try_allocate_huge, gives_a_block_aligned_and_advised_onto_huge_pages_or_null) {
    EXPECT_EQ(try_allocate_huge(std::numeric_limits<std::size_t>::max()), nullptr);
    EXPECT_EQ(try_allocate_huge(std::numeric_limits<std::size_t>::max() - k_huge_page), nullptr);

    const std::size_t bytes = k_huge_page + 1;  // two huge pages, both the block's
    void* p = try_allocate_huge(bytes);
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(p) % k_huge_page, 0u);
    std::memset(p, 0x5a, 2 * k_huge_page);
    EXPECT_EQ(static_cast<unsigned char*>(p)[2 * k_huge_page - 1], 0x5a);
    if constexpr (k_mapped_memory) {
        if (!std::filesystem::exists("/sys/kernel/mm/transparent_hugepage")) {
            free_huge(p, bytes);
            GTEST_SKIP() << "this kernel has no transparent huge pages";
        }
        EXPECT_NE(vm_flags(p).find(" hg "), std::string::npos) << vm_flags(p);
    }
    free_huge(p, bytes);
}

TEST(stable_pool, entries_never_move_and_are_destroyed_with_it) {
    {
        stable_pool<counted> pool;
        const std::size_t n = 2 * stable_pool<counted>::k_chunk + 7;  // three chunks
        std::vector<const counted*> at;
        for (std::size_t i = 0; i < n; ++i) {
            counted& c = pool.emplace_back();
            c.text = "entry " + std::to_string(i) + " with a string longer than its buffer";
            at.push_back(&c);
        }
        ASSERT_EQ(pool.size(), n);
        EXPECT_EQ(counted::alive, static_cast<int>(n));
        for (std::size_t i = 0; i < n; ++i) {
            ASSERT_EQ(&pool[i], at[i]) << i;
            ASSERT_EQ(pool[i].text,
                      "entry " + std::to_string(i) + " with a string longer than its buffer");
        }
        // Each chunk is aligned to a huge page.
        EXPECT_EQ(reinterpret_cast<std::uintptr_t>(&pool[0]) % k_huge_page, 0u);
        EXPECT_EQ(
            reinterpret_cast<std::uintptr_t>(&pool[stable_pool<counted>::k_chunk]) % k_huge_page,
            0u);
    }
    EXPECT_EQ(counted::alive, 0);
}

TEST(huge_vector, keeps_its_elements_as_it_grows_onto_huge_pages) {
    huge_vector<std::uint64_t> v;
    const std::size_t n = 3 * k_huge_page / sizeof(std::uint64_t);
    for (std::size_t i = 0; i < n; ++i) v.push_back(i * 7);
    for (std::size_t i = 0; i < n; ++i) ASSERT_EQ(v[i], i * 7) << i;
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(v.data()) % k_huge_page, 0u);
    v.resize(10);
    v.shrink_to_fit();  // back below a huge page: std::allocator's storage again
    EXPECT_EQ(v.size(), 10u);
    EXPECT_EQ(v[9], 63u);
}

}  // namespace
}  // namespace weir
