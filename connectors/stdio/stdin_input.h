// The stdin input at run time: newline-delimited records from standard input until its
// writer closes it.
#pragma once

#include <memory>

#include "connectors/runtime.h"

namespace weir::connectors {

// Reads a duplicate of `fd` (the caller keeps its own descriptor), so tests can pass a pipe
// or a regular file; make_stdin_input() passes 0. Pipes, terminals and sockets are read when
// epoll reports them ready; regular files (`weir run < file`), which epoll cannot watch, are
// read directly — Asio performs those reads at once, as they never block.
//
// stdin cannot be rewound: position() is empty and restore() accepts only an empty position,
// so a restart reads whatever the new stdin holds. EOF ends the input (on_end) in every mode,
// which is why bounded() is true.
std::unique_ptr<input> make_stdin_input_from_fd(const params::reader& p, const input_context& ctx,
                                                int fd);

std::unique_ptr<input> make_stdin_input(const params::reader& p, const input_context& ctx);

}  // namespace weir::connectors
