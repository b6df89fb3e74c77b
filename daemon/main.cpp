// weir: the streaming data-quality monitoring daemon.
#include "daemon/cli.h"

#if WEIR_TCMALLOC_HEAP
namespace weir::daemon {
// heap_pages.cpp: tcmalloc's large blocks on transparent huge pages (unless
// WEIR_HUGE_PAGES=off).
void heap_onto_huge_pages();
}  // namespace weir::daemon
#endif

int main(int argc, char** argv) {
#if WEIR_TCMALLOC_HEAP
    weir::daemon::heap_onto_huge_pages();
#endif
    return weir::daemon::run_cli(argc, argv);
}
