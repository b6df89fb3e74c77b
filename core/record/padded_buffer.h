// A byte buffer with k_record_padding readable bytes after its end, the room the record
// decoders (core/decode) read ahead into. Inputs read into one and hand its bytes over
// without knowing which decoder reads them.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <memory>
#include <string_view>
#include <utility>

#include "core/record/bytes_keeper.h"

namespace weir {

// Bytes that must be readable (any value) after the end of a delivery's data. The decoders
// check at compile time that they need no more (core/decode/json_decoder.cc).
inline constexpr std::size_t k_record_padding = 64;

// The memory can be shared: keep() hands out a handle under which the bytes written so far
// (and the padding after them) stay valid and unchanged, for a reader on another thread; the
// buffer's next write then goes to memory of its own, with only what it still holds copied
// there. Memory given up by every handle is reused for the buffer's next fresh memory. As a
// bytes_keeper, it lets a delivery of its bytes be kept.
class padded_buffer final : public bytes_keeper {
  public:
    padded_buffer() = default;
    explicit padded_buffer(std::size_t capacity) { reserve(capacity); }
    padded_buffer(padded_buffer&&) noexcept = default;
    padded_buffer& operator=(padded_buffer&&) noexcept = default;

    // Writable: memory that was shared is left to its handles first.
    char* data() {
        if (shared_) own(0, capacity_);
        return mem_.get();
    }
    const char* data() const { return mem_.get(); }
    std::size_t size() const { return size_; }
    std::size_t capacity() const { return capacity_; }
    bool empty() const { return size_ == 0; }
    std::string_view view() const { return {mem_.get(), size_}; }
    std::string_view view(std::size_t from, std::size_t to) const {
        return {mem_.get() + from, to - from};
    }

    // Room for `capacity` bytes of data (plus the padding); keeps the content.
    void reserve(std::size_t capacity) {
        if (capacity > capacity_) own(0, capacity);
    }
    // Grows geometrically so appends stay amortised O(1).
    void reserve_more(std::size_t extra) {
        if (size_ + extra <= capacity_) return;
        reserve(std::max(size_ + extra, capacity_ + capacity_ / 2));
    }

    // The writable room after the data: write into it, then commit() what was written.
    char* tail() { return data() + size_; }
    std::size_t room() const { return capacity_ - size_; }
    void commit(std::size_t n) { size_ += n; }

    void append(std::string_view bytes) {
        reserve_more(bytes.size());
        if (!bytes.empty()) std::memcpy(tail(), bytes.data(), bytes.size());
        size_ += bytes.size();
    }
    void push_back(char c) {
        reserve_more(1);
        *tail() = c;
        ++size_;
    }
    void resize(std::size_t n) {
        reserve(n);
        size_ = n;
    }
    void clear() { size_ = 0; }
    // Forgets the first n bytes; the rest moves to the front.
    void consume(std::size_t n) {
        if (n >= size_) {
            size_ = 0;
            return;
        }
        if (shared_) {
            own(n, capacity_);  // copies only the rest
            return;
        }
        std::memmove(mem_.get(), mem_.get() + n, size_ - n);
        size_ -= n;
    }

    // A handle that keeps the memory as it is now, data and padding, until released: the
    // buffer writes nothing there any more. Empty for a buffer without memory.
    std::shared_ptr<const void> keep() override;

  private:
    struct recycler;
    // Fresh memory of `capacity` bytes (and the padding) holding [from, size_) of the old.
    void own(std::size_t from, std::size_t capacity);

    std::shared_ptr<char[]> mem_;
    std::size_t size_ = 0;
    std::size_t capacity_ = 0;
    bool shared_ = false;                 // handles of mem_ are out: read only
    std::shared_ptr<recycler> recycler_;  // since the first keep()
};

}  // namespace weir
