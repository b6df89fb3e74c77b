// Immutable bytes in 16 bytes: up to 15 of them inline, longer ones in one heap array. A window
// engine keeps one encoded group key per group; a key of one short string value (a tag, four
// length bytes and the text) fits inline, so a million groups cost 16 MB of keys instead of the
// 32 MB of as many std::string objects.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string_view>
#include <utility>

namespace weir::engine {

class short_bytes {
  public:
    static constexpr std::size_t k_inline = 15;

    short_bytes() noexcept { bytes_[k_inline] = 0; }
    explicit short_bytes(std::string_view s) {
        bytes_[k_inline] = 0;
        assign(s);
    }
    short_bytes(const short_bytes& o) : short_bytes(o.view()) {}
    short_bytes(short_bytes&& o) noexcept {
        std::memcpy(bytes_, o.bytes_, sizeof bytes_);
        o.bytes_[k_inline] = 0;
    }
    short_bytes& operator=(const short_bytes& o) {
        if (this != &o) assign(o.view());
        return *this;
    }
    short_bytes& operator=(short_bytes&& o) noexcept {
        if (this != &o) {
            release();
            std::memcpy(bytes_, o.bytes_, sizeof bytes_);
            o.bytes_[k_inline] = 0;
        }
        return *this;
    }
    short_bytes& operator=(std::string_view s) {
        assign(s);
        return *this;
    }
    ~short_bytes() { release(); }

    void assign(std::string_view s) {
        // `s` may lie in this object's own bytes: copy before releasing them.
        if (s.size() <= k_inline) {
            char copy[k_inline];
            if (!s.empty()) std::memcpy(copy, s.data(), s.size());
            release();
            if (!s.empty()) std::memcpy(bytes_, copy, s.size());
            bytes_[k_inline] = static_cast<char>(s.size());
            return;
        }
        // A group key of 4 GiB cannot come from a record (inputs bound their records far
        // below: max_line_length, a Kafka message's size); refused rather than cut.
        if (s.size() > UINT32_MAX) throw std::length_error("short_bytes: over 4 GiB");
        char* p = new char[s.size()];
        std::memcpy(p, s.data(), s.size());
        release();
        const auto n = static_cast<std::uint32_t>(s.size());
        std::memcpy(bytes_, &p, sizeof p);
        std::memcpy(bytes_ + sizeof p, &n, sizeof n);
        bytes_[k_inline] = k_heap;
    }
    void clear() noexcept {
        release();
        bytes_[k_inline] = 0;
    }

    bool on_heap() const noexcept { return bytes_[k_inline] == k_heap; }
    std::size_t size() const noexcept {
        if (!on_heap()) return static_cast<std::size_t>(bytes_[k_inline]);
        std::uint32_t n = 0;
        std::memcpy(&n, bytes_ + sizeof(char*), sizeof n);
        return static_cast<std::size_t>(n);
    }
    const char* data() const noexcept {
        if (!on_heap()) return bytes_;
        const char* p;
        std::memcpy(&p, bytes_, sizeof p);
        return p;
    }
    std::string_view view() const noexcept { return {data(), size()}; }
    operator std::string_view() const noexcept { return view(); }
    // Heap bytes beyond the object itself.
    std::size_t heap_bytes() const noexcept { return on_heap() ? size() : 0; }

  private:
    static constexpr char k_heap = static_cast<char>(0x80);

    void release() noexcept {
        if (on_heap()) delete[] data();
    }

    // Inline: the bytes, then their count in the last byte. On the heap: the array's address,
    // its length in the next four bytes, then k_heap.
    alignas(8) char bytes_[k_inline + 1];
};

static_assert(sizeof(short_bytes) == 16);

}  // namespace weir::engine
