// The file input at run time: reads (and with `follow`, tails) the files matched by a path or
// glob, delivering complete lines and checkpointing each file by identity, not name.
#pragma once

#include <memory>

#include "connectors/runtime.h"

namespace weir::connectors {

// Positions: per file {path, device, inode, fingerprint (a hash of its first
// fingerprint_bytes, or of all of it while shorter), offset of the first byte not yet
// delivered}. The offset always sits at a line boundary, so a restart neither loses nor
// repeats a line. A file whose inode matches but whose fingerprint does not (the inode was
// reused) is read from the start and reported as error_type=rotation; a saved file that was
// renamed out of the path while weir was down is found again by inode in its directory.
//
// Following (follow: true, not --once) works like `tail -F`: appended lines, rotation by
// rename or delete (the old file is read to its end for rotate_wait, before the new file at
// the path), copytruncate (reported as rotation, read from 0) and new files matching the glob
// (every glob_interval, sooner on inotify events). A partial last line is held back until
// its newline arrives — except at the end of a bounded read (follow: false or --once) and
// when a rotated file is let go, where it is a record of its own.
std::unique_ptr<input> make_file_input(const params::reader& p, const input_context& ctx);

// `weir validate`'s checks of what `weir run` would refuse: every matching file must be
// readable, and with follow: false at least one must match.
void preflight_file_input(const params::reader& p, const std::string& path, diagnostics& out);

}  // namespace weir::connectors
