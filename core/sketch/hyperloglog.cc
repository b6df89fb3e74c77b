// HyperLogLog: sparse list maintenance, 6-bit register packing, and the estimators.
#include "core/sketch/hyperloglog.h"

#include <algorithm>
#include <bit>
#include <cmath>

#include "core/record/prefetch.h"

namespace weir::sketch {

namespace {

constexpr int k_sp = hyperloglog::k_sparse_precision;
constexpr unsigned k_rank_bits = 6;
constexpr std::uint32_t k_rank_mask = (1u << k_rank_bits) - 1;
constexpr std::size_t k_first_capacity = 16;  // sparse words: one 64-byte line

// Rank of the bits after the first `index_bits`: leading zeros + 1, at most 64 - index_bits + 1.
unsigned rank_after(std::uint64_t hash, int index_bits) {
    const std::uint64_t rest = hash << index_bits;
    if (rest == 0) return static_cast<unsigned>(64 - index_bits + 1);
    return static_cast<unsigned>(std::countl_zero(rest)) + 1;
}

std::uint32_t sparse_word(std::uint64_t hash) {
    const auto bucket = static_cast<std::uint32_t>(hash >> (64 - k_sp));
    return (bucket << k_rank_bits) | rank_after(hash, k_sp);
}

std::uint32_t word_bucket(std::uint32_t w) {
    return w >> k_rank_bits;
}
unsigned word_rank(std::uint32_t w) {
    return w & k_rank_mask;
}

// Sorts words by bucket then rank and keeps, per bucket, the largest rank.
template <class Words>
void sort_unique(Words& v, std::size_t sorted_prefix) {
    const auto mid = v.begin() + static_cast<std::ptrdiff_t>(sorted_prefix);
    std::sort(mid, v.end());
    if (sorted_prefix > 0 && mid != v.end() && *(mid - 1) > *mid) {
        // Merged from the back with the (short) tail copied aside: std::inplace_merge would
        // allocate a buffer on every compaction.
        thread_local std::vector<std::uint32_t> tail;
        tail.assign(mid, v.end());
        std::size_t i = sorted_prefix;
        std::size_t j = tail.size();
        std::size_t out = v.size();
        while (j > 0) v[--out] = i > 0 && v[i - 1] > tail[j - 1] ? v[--i] : tail[--j];
    }
    std::size_t out = 0;
    for (std::size_t i = 0; i < v.size(); ++i) {
        // Equal buckets are adjacent with ranks ascending: the last of a run wins.
        if (i + 1 < v.size() && word_bucket(v[i + 1]) == word_bucket(v[i])) continue;
        v[out++] = v[i];
    }
    v.resize(out);
}

// sigma(x) = x + sum_{k>=1} x^(2^k) 2^(k-1), for the share x of empty registers.
double sigma(double x) {
    if (x == 1.0) return std::numeric_limits<double>::infinity();
    double y = 1;
    double z = x;
    for (;;) {
        x *= x;
        const double before = z;
        z += x * y;
        y += y;
        if (z == before) return z;
    }
}

// tau(x) = (1 - x - sum_{k>=1} (1 - x^(2^-k))^2 2^-k) / 3, for the share x of saturated
// registers.
double tau(double x) {
    if (x == 0.0 || x == 1.0) return 0;
    double y = 1;
    double z = 1 - x;
    for (;;) {
        x = std::sqrt(x);
        const double before = z;
        y *= 0.5;
        z -= (1 - x) * (1 - x) * y;
        if (z == before) return z / 3;
    }
}

}  // namespace

hyperloglog::hyperloglog(int precision)
    : p_(static_cast<std::uint8_t>(std::clamp(precision, k_min_precision, k_max_precision))) {}

std::size_t hyperloglog::dense_bytes() const {
    return ((std::size_t{1} << p_) * 6) / 8;
}

std::size_t hyperloglog::memory_bytes() const {
    return sparse_.capacity() * sizeof(std::uint32_t) + dense_.capacity();
}

unsigned hyperloglog::get(std::size_t i) const {
    const std::size_t bit = i * k_rank_bits;
    const std::size_t byte = bit >> 3;
    const unsigned v = dense_[byte] | (static_cast<unsigned>(dense_[byte + 1]) << 8);
    return (v >> (bit & 7)) & k_rank_mask;
}

void hyperloglog::set_max(std::size_t i, unsigned rank) {
    const std::size_t bit = i * k_rank_bits;
    const std::size_t byte = bit >> 3;
    const unsigned shift = bit & 7;
    unsigned v = dense_[byte] | (static_cast<unsigned>(dense_[byte + 1]) << 8);
    if (((v >> shift) & k_rank_mask) >= rank) return;
    v = (v & ~(k_rank_mask << shift)) | (rank << shift);
    dense_[byte] = static_cast<std::uint8_t>(v);
    dense_[byte + 1] = static_cast<std::uint8_t>(v >> 8);
}

void hyperloglog::add_hash(std::uint64_t hash) {
    if (!dense_.empty()) {
        set_max(static_cast<std::size_t>(hash >> (64 - p_)), rank_after(hash, p_));
        return;
    }
    const std::uint32_t word = sparse_word(hash);
    // Repeated values are the common case: skip a word the sorted part already covers, so
    // the tail (and the sorting) only sees news.
    const auto end = sparse_.begin() + sorted_;
    const auto it = std::lower_bound(sparse_.begin(), end, word & ~k_rank_mask);
    if (it != end && word_bucket(*it) == word_bucket(word) && word_rank(*it) >= word_rank(word)) {
        return;
    }
    // The first word makes room for a few: most groups see more than one value, and growing
    // one by one would allocate at 1, 2, 4 and 8 words.
    if (sparse_.capacity() == 0) sparse_.reserve(k_first_capacity);
    sparse_.push_back(word);
    // The unsorted tail may grow to a quarter of the sorted part before it is merged in, so
    // the sort cost per add stays logarithmic.
    if (sparse_.size() - sorted_ >= std::max<std::size_t>(16, sorted_ / 4)) compact();
}

void hyperloglog::prefetch() const {
    if (sparse_.empty()) return;
    // The binary search reads the sorted part from its middle; then the tail is appended to.
    const auto* p = reinterpret_cast<const char*>(sparse_.data());
    const std::size_t bytes = std::min<std::size_t>(sorted_ * sizeof(std::uint32_t), 256);
    for (std::size_t off = 0; off < bytes; off += 64) weir::prefetch(p + off);
    weir::prefetch(p + (sorted_ / 2) * sizeof(std::uint32_t));
    if (sparse_.size() < sparse_.capacity())
        weir::prefetch(p + sparse_.size() * sizeof(std::uint32_t));
}

void hyperloglog::compact() {
    if (sorted_ == sparse_.size()) return;
    sort_unique(sparse_, sorted_);
    sorted_ = static_cast<std::uint32_t>(sparse_.size());
    if (sparse_.size() > sparse_limit()) to_dense();
}

pooled_vector<std::uint32_t> hyperloglog::sorted_sparse() const {
    pooled_vector<std::uint32_t> v = sparse_;
    if (sorted_ != v.size()) sort_unique(v, sorted_);
    return v;
}

void hyperloglog::fold_sparse_word(std::uint32_t word) {
    const int shift = k_sp - p_;
    const std::uint32_t bucket = word_bucket(word);
    const std::uint32_t low = bucket & ((1u << shift) - 1);
    // The sparse bucket's extra bits are the first bits the dense rank looks at.
    const unsigned rank = low != 0 ? static_cast<unsigned>(shift - std::bit_width(low)) + 1
                                   : static_cast<unsigned>(shift) + word_rank(word);
    set_max(bucket >> shift, rank);
}

void hyperloglog::to_dense() {
    // +1 byte: a register is read as two bytes, the last one included.
    dense_.assign(dense_bytes() + 1, 0);
    for (std::uint32_t w : sparse_) fold_sparse_word(w);
    decltype(sparse_)().swap(sparse_);
    sorted_ = 0;
}

bool hyperloglog::merge(const hyperloglog& other) {
    if (other.p_ != p_) return false;
    if (other.dense_.empty()) {
        if (dense_.empty()) {
            sparse_.insert(sparse_.end(), other.sparse_.begin(), other.sparse_.end());
            compact();
        } else {
            for (std::uint32_t w : other.sparse_) fold_sparse_word(w);
        }
        return true;
    }
    if (dense_.empty()) to_dense();
    const std::size_t m = std::size_t{1} << p_;
    for (std::size_t i = 0; i < m; ++i) set_max(i, other.get(i));
    return true;
}

double hyperloglog::estimate() const {
    if (dense_.empty()) {
        const auto buckets = static_cast<double>(
            sorted_ == sparse_.size() ? sparse_.size() : sorted_sparse().size());
        const double m = std::ldexp(1.0, k_sp);
        return -m * std::log1p(-buckets / m);  // linear counting: m ln(m / empty)
    }
    const std::size_t m = std::size_t{1} << p_;
    const int q = 64 - p_;
    std::uint32_t hist[66] = {};
    for (std::size_t i = 0; i < m; ++i) ++hist[get(i)];
    const double md = static_cast<double>(m);
    double z = md * tau(1.0 - hist[q + 1] / md);
    for (int k = q; k >= 1; --k) z = 0.5 * (z + hist[k]);
    z += md * sigma(hist[0] / md);
    const double alpha_inf = 1.0 / (2.0 * std::log(2.0));
    return alpha_inf * md * md / z;
}

double hyperloglog::standard_error() const {
    if (dense_.empty()) return 0;  // see the class comment: exact up to bucket collisions
    return 1.04 / std::sqrt(std::ldexp(1.0, p_));
}

void hyperloglog::serialize(byte_writer& w) const {
    w.u8(p_);
    w.u8(dense_.empty() ? 0 : 1);
    if (dense_.empty()) {
        const pooled_vector<std::uint32_t> words = sorted_sparse();
        w.varint(words.size());
        std::uint32_t prev = 0;
        for (std::uint32_t word : words) {
            w.varint(word - prev);
            prev = word;
        }
    } else {
        w.raw(dense_.data(), dense_bytes());
    }
}

bool hyperloglog::deserialize(byte_reader& r) {
    const std::uint8_t p = r.u8();
    const std::uint8_t mode = r.u8();
    if (!r.ok()) return false;
    if (p < k_min_precision || p > k_max_precision || mode > 1) {
        r.fail();
        return false;
    }
    hyperloglog h(p);
    const unsigned max_dense_rank = static_cast<unsigned>(64 - p + 1);
    if (mode == 0) {
        const std::size_t n = r.count(1);
        if (n > h.sparse_limit()) r.fail();
        if (!r.ok()) return false;
        h.sparse_.reserve(n);
        std::uint32_t prev = 0;
        for (std::size_t i = 0; i < n && r.ok(); ++i) {
            const std::uint64_t delta = r.varint();
            const std::uint64_t word = prev + delta;
            const bool increasing =
                i == 0 || word_bucket(static_cast<std::uint32_t>(word)) > word_bucket(prev);
            const unsigned rank = static_cast<unsigned>(word & k_rank_mask);
            if (word >> (k_sp + k_rank_bits) != 0 || !increasing || rank == 0 ||
                rank > 64 - k_sp + 1) {
                r.fail();
                break;
            }
            prev = static_cast<std::uint32_t>(word);
            h.sparse_.push_back(prev);
        }
        h.sorted_ = static_cast<std::uint32_t>(h.sparse_.size());
    } else {
        const std::string_view bytes = r.raw(h.dense_bytes());
        if (!r.ok()) return false;
        h.dense_.assign(h.dense_bytes() + 1, 0);
        std::copy(bytes.begin(), bytes.end(), h.dense_.begin());
        const std::size_t m = std::size_t{1} << p;
        for (std::size_t i = 0; i < m; ++i)
            if (h.get(i) > max_dense_rank) r.fail();
    }
    if (!r.ok()) return false;
    *this = std::move(h);
    return true;
}

}  // namespace weir::sketch
