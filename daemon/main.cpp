// weir: the streaming data-quality monitoring daemon.
#include "daemon/cli.h"

int main(int argc, char** argv) {
    return weir::daemon::run_cli(argc, argv);
}
