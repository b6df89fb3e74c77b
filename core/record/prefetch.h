// A hint that memory is needed soon, for loops over tables probed at random: each record's
// line is fetched a few records ahead, so the misses of several records overlap.
#pragma once

namespace weir {

// GCC may delete a __builtin_prefetch as dead code (it has no visible effect), depending on
// the branches around it; an asm statement marked volatile stays where it is written.
inline void prefetch(const void* p) {
#if defined(__x86_64__) || defined(__i386__)
    asm volatile("prefetcht0 %0" : : "m"(*static_cast<const char*>(p)));
#else
    __builtin_prefetch(p);
#endif
}

}  // namespace weir
