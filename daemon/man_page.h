// weir(1): the manual page, written from the command line's own CLI11 definitions (every verb,
// option, default and environment variable), so the page cannot drift from `weir --help`.
#pragma once

#include <string>
#include <string_view>

namespace CLI {
class App;
}

namespace weir::daemon {

// The page in man(7) roff. `app` is the fully defined command line; its hidden subcommands and
// options (an empty group) are left out, as in --help. `version` goes to the page's footer.
std::string render_man_page(const CLI::App& app, std::string_view version);

}  // namespace weir::daemon
