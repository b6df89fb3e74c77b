// Newline framing of one byte stream (a file, a connection, stdin), shared by the inputs that
// read lines: partial lines held, complete lines handed over in runs, lines over the size
// limit skipped — also across reads — and reported, and a final line without newline at the
// end of a bounded stream.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <type_traits>

#include "core/record/padded_buffer.h"

namespace weir::connectors {

// The input reads into prepare(), commit()s what arrived, then hands over what next() returns
// until it returns nothing, or until the input is paused or stopped: a piece returned by
// next() counts as handed over, and what was not returned yet stays for later calls. So a
// pause or stop arriving during a callback costs nothing and repeats nothing. Single-threaded
// (the input's strand); the bytes of a piece stay valid until the next call of prepare(),
// commit(), next(), end_stream() or reset().
//
// Lines are '\n'-terminated; a line's length is counted without its newline. Blank lines are
// handed over like any other (the decoders skip them).
class line_framer {
  public:
    struct piece {
        enum class kind { none, lines, too_long };
        kind what = kind::none;
        // kind::lines: complete lines, each within the limit and ending in '\n' (a final line
        // gets one added), with k_record_padding readable bytes after the end.
        std::string_view lines;
        // Where the piece starts in the stream: its first line, or the over-long line.
        std::uint64_t offset = 0;

        explicit operator bool() const { return what != kind::none; }
    };

    // `stream_offset`: where in the stream the first byte committed will be.
    explicit line_framer(std::size_t max_line, std::uint64_t stream_offset = 0)
        : max_line_(max_line), base_(stream_offset) {}

    // Room for `n` more bytes, returned; commit() then the bytes actually written there. The
    // buffer keeps only what was not handed over yet: called when everything ready was, it
    // stays within max_line + n bytes (and the padding).
    char* prepare(std::size_t n);
    void commit(std::size_t n);
    // prepare() + copy + commit().
    void append(std::string_view bytes);

    // The stream ends after what was committed: next() then also hands over the final line
    // without newline (or reports it over the limit). An over-long line being skipped ends
    // here too.
    void end_stream() { end_ = true; }

    // The next piece to hand over, counted as handed over; kind::none when everything ready
    // was (until more bytes arrive or the stream ends).
    piece next();

    // Hands over every ready piece: `on_lines(std::string_view lines)` — or
    // `on_lines(lines, std::uint64_t offset)`, with the stream offset of the first line — per
    // run of lines, `on_too_long(std::uint64_t offset)` per over-long line. Each returns
    // whether to go on (false: the input was paused or stopped meanwhile). True when nothing
    // ready is left.
    template <class OnLines, class OnTooLong>
    bool drain(OnLines&& on_lines, OnTooLong&& on_too_long) {
        for (;;) {
            const piece p = next();
            switch (p.what) {
                case piece::kind::none:
                    return true;
                case piece::kind::lines:
                    if constexpr (std::is_invocable_v<OnLines&, std::string_view, std::uint64_t>) {
                        if (!on_lines(p.lines, p.offset)) return false;
                    } else {
                        if (!on_lines(p.lines)) return false;
                    }
                    break;
                case piece::kind::too_long:
                    if (!on_too_long(p.offset)) return false;
                    break;
            }
        }
    }

    // Stream offset of the first byte not yet handed over: always at a line boundary, since
    // a line being skipped counts from its start until its end is seen. What a restart
    // resumes from.
    std::uint64_t offset() const { return skipping_ ? skip_start_ : base_ + begin_; }
    // Stream offset after the last byte committed.
    std::uint64_t end_offset() const { return base_ + buf_.size(); }
    // Bytes held and not handed over: a partial line, and complete lines when the last
    // next() or drain() was cut short. Nothing of a line being skipped is held.
    std::size_t held() const { return buf_.size() - begin_; }
    // Whether next() has something to hand over or to look at without more bytes: complete
    // lines or a partial line over the limit left by a drain() cut short, bytes not looked at
    // yet, or a final line.
    bool pending() const {
        const std::size_t held_bytes = buf_.size() - begin_;
        return begin_ < complete_ || scanned_ < buf_.size() || held_bytes > max_line_ ||
               (end_ && held_bytes > 0);
    }
    // Inside a line over the limit (already reported), discarding up to its newline.
    bool skipping() const { return skipping_; }

    // What keeps the bytes of every piece handed over so far valid and unchanged (for a reader
    // on another thread): the buffer, whose next write then goes to memory of its own.
    bytes_keeper* keeper() { return &buf_; }

    // Forgets everything held, and the end; the stream goes on at `stream_offset` (a file
    // truncated, or finished: the memory is released).
    void reset(std::uint64_t stream_offset);

  private:
    void discard_all();

    std::size_t max_line_;
    padded_buffer buf_;
    std::uint64_t base_;            // stream offset of buf_[0]
    std::size_t begin_ = 0;         // first byte not handed over
    std::size_t complete_ = 0;      // [begin_, complete_): complete lines, when beyond begin_
    std::size_t scanned_ = 0;       // [complete_, scanned_) holds no newline
    std::uint64_t skip_start_ = 0;  // stream offset of the line being skipped
    bool skipping_ = false;
    bool end_ = false;
};

}  // namespace weir::connectors
