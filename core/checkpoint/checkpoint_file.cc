// Checkpoint file bytes; see checkpoint_file.h.
#include "core/checkpoint/checkpoint_file.h"

#include <cstring>

#include "core/checkpoint/byte_codec.h"

namespace weir::checkpoint {

namespace {
constexpr std::string_view k_magic = "WEIRCKPT";
constexpr std::size_t k_header = 8 + 4 + 8;
static_assert(k_header == stream::k_payload_at && k_magic.size() + 4 == stream::k_length_at);

void write_pairs(byte_writer& w, const std::vector<std::pair<std::string, std::string>>& pairs) {
    w.varint(pairs.size());
    for (const auto& [name, bytes] : pairs) {
        w.str(name);
        w.str(bytes);
    }
}

// The bytes of each pair are views into what `r` reads.
bool read_pairs(byte_reader& r, std::vector<std::pair<std::string, std::string_view>>& pairs) {
    const std::size_t n = r.count(2);
    for (std::size_t i = 0; i < n && r.ok(); ++i) {
        std::string name(r.str());
        const std::string_view bytes = r.str();
        pairs.emplace_back(std::move(name), bytes);
    }
    return r.ok();
}
}  // namespace

std::string encode(const checkpoint_data& data) {
    byte_writer payload;
    payload.str(data.plan_fingerprint);
    payload.i64(data.written_at);
    write_pairs(payload, data.inputs);
    write_pairs(payload, data.sections);
    byte_writer w;
    w.raw(k_magic.data(), k_magic.size());
    w.u32(k_format_version);
    w.u64(payload.size());
    w.raw(payload.data().data(), payload.size());
    w.u32(crc32c(payload.data()));
    return w.take();
}

namespace stream {

std::string head(const checkpoint_data& data) {
    byte_writer w;
    w.raw(k_magic.data(), k_magic.size());
    w.u32(k_format_version);
    w.u64(0);
    w.str(data.plan_fingerprint);
    w.i64(data.written_at);
    write_pairs(w, data.inputs);
    std::string out = w.take();
    out += fixed_varint(0);
    return out;
}

std::string section_head(std::string_view name) {
    byte_writer w;
    w.str(name);
    std::string out = w.take();
    out += fixed_varint(0);
    return out;
}

std::string fixed_varint(std::uint64_t v) {
    std::string out(k_fixed_varint, '\0');
    for (std::size_t i = 0; i < k_fixed_varint; ++i, v >>= 7) {
        out[i] = static_cast<char>((v & 0x7f) | (i + 1 < k_fixed_varint ? 0x80 : 0));
    }
    return out;
}

std::string length_field(std::uint64_t payload_bytes) {
    byte_writer w;
    w.u64(payload_bytes);
    return w.take();
}

std::string crc_trailer(std::uint32_t crc) {
    byte_writer w;
    w.u32(crc);
    return w.take();
}

}  // namespace stream

std::optional<checkpoint_view> decode_view(std::string_view bytes, std::string& error) {
    if (bytes.size() < k_magic.size() || bytes.substr(0, k_magic.size()) != k_magic) {
        error = "not a weir checkpoint (no WEIRCKPT header)";
        return std::nullopt;
    }
    byte_reader header(bytes.substr(k_magic.size()));
    checkpoint_view data;
    data.version = header.u32();
    const std::uint64_t length = header.u64();
    if (!header.ok()) {
        error = "truncated: the header is incomplete";
        return std::nullopt;
    }
    if (data.version > k_format_version || data.version == 0) {
        error = "checkpoint format version " + std::to_string(data.version) +
                " is not one this weir reads (it reads version " +
                std::to_string(k_format_version) + ")";
        return std::nullopt;
    }
    if (bytes.size() < k_header + 4 || length != bytes.size() - k_header - 4) {
        error = "truncated: " + std::to_string(bytes.size()) + " bytes where the header promises " +
                std::to_string(length + k_header + 4);
        return std::nullopt;
    }
    const std::string_view payload = bytes.substr(k_header, length);
    byte_reader trailer(bytes.substr(k_header + length));
    if (trailer.u32() != crc32c(payload)) {
        error = "checksum mismatch: the file is corrupt";
        return std::nullopt;
    }
    byte_reader r(payload);
    data.plan_fingerprint = std::string(r.str());
    data.written_at = r.i64();
    std::vector<std::pair<std::string, std::string_view>> inputs;
    if (!read_pairs(r, inputs) || !read_pairs(r, data.sections) || !r.at_end()) {
        error = "malformed payload (the checksum matched: written by a faulty weir?)";
        return std::nullopt;
    }
    // Version 1: engine snapshots by node name, and CSV headers among the inputs.
    if (data.version == 1) {
        for (auto& [name, state] : data.sections) name = "engine/" + name;
    }
    for (auto& [name, position] : inputs) {
        constexpr std::string_view k_csv_header = "csv_header:";
        if (data.version == 1 && name.starts_with(k_csv_header)) {
            data.sections.emplace_back("decoder/" + name.substr(k_csv_header.size()), position);
        } else {
            data.inputs.emplace_back(std::move(name), std::string(position));
        }
    }
    return data;
}

checkpoint_data copy_out(checkpoint_view view) {
    checkpoint_data data;
    data.version = view.version;
    data.plan_fingerprint = std::move(view.plan_fingerprint);
    data.written_at = view.written_at;
    data.inputs = std::move(view.inputs);
    data.sections.reserve(view.sections.size());
    for (auto& [name, bytes] : view.sections) {
        data.sections.emplace_back(std::move(name), std::string(bytes));
    }
    return data;
}

std::optional<checkpoint_data> decode(std::string_view bytes, std::string& error) {
    auto view = decode_view(bytes, error);
    if (!view) return std::nullopt;
    return copy_out(std::move(*view));
}

}  // namespace weir::checkpoint
