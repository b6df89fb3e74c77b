// A byte buffer with k_record_padding readable bytes after its end, the room the record
// decoders (core/decode) read ahead into. Inputs read into one and hand its bytes over
// without knowing which decoder reads them.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <memory>
#include <string_view>

namespace weir {

// Bytes that must be readable (any value) after the end of a delivery's data. The decoders
// check at compile time that they need no more (core/decode/json_decoder.cc).
inline constexpr std::size_t k_record_padding = 64;

class padded_buffer {
  public:
    padded_buffer() = default;
    explicit padded_buffer(std::size_t capacity) { reserve(capacity); }
    padded_buffer(padded_buffer&&) noexcept = default;
    padded_buffer& operator=(padded_buffer&&) noexcept = default;

    char* data() { return data_.get(); }
    const char* data() const { return data_.get(); }
    std::size_t size() const { return size_; }
    std::size_t capacity() const { return capacity_; }
    bool empty() const { return size_ == 0; }
    std::string_view view() const { return {data_.get(), size_}; }
    std::string_view view(std::size_t from, std::size_t to) const {
        return {data_.get() + from, to - from};
    }

    // Room for `capacity` bytes of data (plus the padding); keeps the content.
    void reserve(std::size_t capacity) {
        if (capacity <= capacity_) return;
        std::unique_ptr<char[]> bigger(new char[capacity + k_record_padding]);
        if (size_ > 0) std::memcpy(bigger.get(), data_.get(), size_);
        std::memset(bigger.get() + capacity, 0, k_record_padding);
        data_ = std::move(bigger);
        capacity_ = capacity;
    }
    // Grows geometrically so appends stay amortised O(1).
    void reserve_more(std::size_t extra) {
        if (size_ + extra <= capacity_) return;
        reserve(std::max(size_ + extra, capacity_ + capacity_ / 2));
    }

    // The writable room after the data: write into it, then commit() what was written.
    char* tail() { return data_.get() + size_; }
    std::size_t room() const { return capacity_ - size_; }
    void commit(std::size_t n) { size_ += n; }

    void append(std::string_view bytes) {
        reserve_more(bytes.size());
        if (!bytes.empty()) std::memcpy(data_.get() + size_, bytes.data(), bytes.size());
        size_ += bytes.size();
    }
    void push_back(char c) {
        reserve_more(1);
        data_[size_++] = c;
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
        std::memmove(data_.get(), data_.get() + n, size_ - n);
        size_ -= n;
    }

  private:
    std::unique_ptr<char[]> data_;
    std::size_t size_ = 0;
    std::size_t capacity_ = 0;
};

}  // namespace weir
