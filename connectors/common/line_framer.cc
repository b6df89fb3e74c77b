// Newline framing over a padded buffer; see line_framer.h. Invariants: begin_ <= complete_ <=
// scanned_ <= size; bytes before begin_ were handed over (dropped by the next prepare());
// while skipping, nothing is held but bytes that arrived since.
#include "connectors/common/line_framer.h"

#include <algorithm>
#include <cstring>
#include <utility>

namespace weir::connectors {

char* line_framer::prepare(std::size_t n) {
    if (begin_ > 0) {
        buf_.consume(begin_);
        base_ += begin_;
        complete_ -= begin_;
        scanned_ -= begin_;
        begin_ = 0;
    }
    if (buf_.room() < n) {
        // Geometric, so a long line arriving in many reads is copied O(1) times per byte, but
        // no bigger than a partial line at the limit and a read need.
        const std::size_t grown = std::min(buf_.capacity() + buf_.capacity() / 2, max_line_ + n);
        buf_.reserve(std::max(buf_.size() + n, grown));
    }
    return buf_.tail();
}

void line_framer::commit(std::size_t n) {
    buf_.commit(n);
}

void line_framer::append(std::string_view bytes) {
    if (!bytes.empty()) std::memcpy(prepare(bytes.size()), bytes.data(), bytes.size());
    commit(bytes.size());
}

line_framer::piece line_framer::next() {
    const char* data = std::as_const(buf_).data();
    const std::size_t size = buf_.size();
    if (skipping_) {
        const void* nl = size > begin_ ? std::memchr(data + begin_, '\n', size - begin_) : nullptr;
        if (nl == nullptr) {
            discard_all();
            if (end_) skipping_ = false;  // the stream ended the line
            return {};
        }
        begin_ = complete_ = scanned_ =
            static_cast<std::size_t>(static_cast<const char*>(nl) - data) + 1;
        skipping_ = false;
    }
    if (begin_ == complete_ && scanned_ < size) {
        const void* last = ::memrchr(data + scanned_, '\n', size - scanned_);
        if (last != nullptr)
            complete_ = static_cast<std::size_t>(static_cast<const char*>(last) - data) + 1;
        scanned_ = size;
    }

    if (begin_ < complete_) {
        const std::size_t start = begin_;
        std::size_t end = complete_;
        // No line is longer than the whole run: a short run needs no line-by-line check.
        if (complete_ - begin_ - 1 > max_line_) {
            for (std::size_t line = begin_; line < complete_;) {
                const auto* nl =
                    static_cast<const char*>(std::memchr(data + line, '\n', complete_ - line));
                const std::size_t after = static_cast<std::size_t>(nl - data) + 1;
                if (after - line - 1 > max_line_) {
                    if (line == begin_) {
                        begin_ = after;
                        return {piece::kind::too_long, {}, base_ + start};
                    }
                    end = line;  // the run before it first; the long line is next time's
                    break;
                }
                line = after;
            }
        }
        begin_ = end;
        return {piece::kind::lines, std::string_view(data + start, end - start), base_ + start};
    }

    // Only a partial line is held (or nothing).
    const std::size_t partial = size - begin_;
    if (partial > max_line_) {
        const std::uint64_t at = base_ + begin_;
        discard_all();
        skip_start_ = at;
        skipping_ = !end_;
        return {piece::kind::too_long, {}, at};
    }
    if (end_ && partial > 0) {
        // The final line gets the newline every line has; the byte is not part of the stream,
        // so it is dropped from the count at once (it stays in memory for the call).
        const std::uint64_t at = base_ + begin_;
        buf_.push_back('\n');
        const std::string_view line(std::as_const(buf_).data() + begin_, partial + 1);
        buf_.resize(size);
        begin_ = complete_ = scanned_ = size;
        return {piece::kind::lines, line, at};
    }
    return {};
}

void line_framer::reset(std::uint64_t stream_offset) {
    buf_ = padded_buffer();
    base_ = stream_offset;
    begin_ = complete_ = scanned_ = 0;
    skip_start_ = 0;
    skipping_ = false;
    end_ = false;
}

void line_framer::discard_all() {
    base_ += buf_.size();
    buf_.clear();
    begin_ = complete_ = scanned_ = 0;
}

}  // namespace weir::connectors
