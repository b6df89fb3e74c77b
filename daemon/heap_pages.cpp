// The weir binary's large heap blocks on transparent huge pages (built only when the binary is
// linked with tcmalloc: see CMakeLists.txt).
//
// tcmalloc takes its heap from the system on 4 KiB pages: every page is a fault the first time
// it is touched. A Kafka input's fetch buffers are megabytes each, and a daemon faults in tens of
// megabytes of them as it starts reading. Where a fault is dear (a virtual machine whose page
// tables the hypervisor shadows: 11 us a fault on one test machine, where a 4 KiB page on a
// huge page costs 0.3 us), that was a large share of a short run's CPU, and of what several daemons
// cost over one. On another machine a fault cost 2.6-4.4 us and a huge page's first touch up to
// 19.5 us a 4 KiB page: WEIR_HUGE_PAGES=off is the way out there.
//
// So tcmalloc's requests to the system of a huge page or more (its large blocks) are mapped
// aligned to a huge page and advised onto huge pages (madvise: where the kernel has no huge page
// to give, or is set never to, they stay small). Smaller requests (the heap growing for small
// objects) keep tcmalloc's own allocator: on huge pages, the few pages of each that a quiet
// daemon touches would be resident as whole huge pages (20 idle pipelines: 18 MiB became
// 60 MiB). tcmalloc still gives free memory back with MADV_DONTNEED, which splits a huge page
// where it must.
//
// WEIR_HUGE_PAGES=off keeps tcmalloc's own allocator for every request.
#include <gperftools/malloc_extension.h>

#include <cstddef>
#include <cstdlib>
#include <new>
#include <string_view>

#include "core/record/huge_pages.h"

namespace weir::daemon {
namespace {

// Called by tcmalloc under its own lock, one call at a time. Allocates nothing from the heap it
// serves, and throws nothing.
class huge_block_allocator final : public SysAllocator {
  public:
    explicit huge_block_allocator(SysAllocator* fallback) : fallback_(fallback) {}

    void* Alloc(std::size_t size, std::size_t* actual_size, std::size_t alignment) override {
        if (size >= k_huge_page && alignment <= k_huge_page) {
            if (void* p = try_allocate_huge(size)) {
                // The rest of the last huge page is tcmalloc's too: it takes what it is given.
                if (actual_size != nullptr) {
                    *actual_size = huge_pages_of(size);
                }
                return p;
            }
        }
        return fallback_->Alloc(size, actual_size, alignment);
    }

  private:
    SysAllocator* fallback_;
};

}  // namespace

void heap_onto_huge_pages() {
    if (const char* v = std::getenv("WEIR_HUGE_PAGES");
        v != nullptr && std::string_view(v) == "off") {
        return;
    }
    MallocExtension* ext = MallocExtension::instance();
    SysAllocator* fallback = ext->GetSystemAllocator();
    if (fallback == nullptr) return;
    // Static storage, as the heap it serves cannot hold it; never destroyed, as tcmalloc uses
    // it to the process's end.
    alignas(huge_block_allocator) static std::byte storage[sizeof(huge_block_allocator)];
    ext->SetSystemAllocator(new (storage) huge_block_allocator(fallback));
}

}  // namespace weir::daemon
