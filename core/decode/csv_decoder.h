// CSV decoding (RFC 4180 with a configurable delimiter and quote): the cells of the columns the
// plan references go straight into a record_batch. No exception, no allocation per record in
// the steady state; a bad row becomes an invalid record with a reason, never an error of the
// stream.
//
// Reading rules (the contract tests hold the decoder to):
//  - A record ends at LF or CRLF outside quotes; a quoted cell may hold delimiters, newlines
//    and doubled quotes (`""` stands for one `"`). A quote only opens a quoted cell as the
//    cell's first character; elsewhere in an unquoted cell it is a literal character. Text
//    between a closing quote and the next delimiter or end of record makes the row malformed.
//  - Nothing is trimmed: ` a ` is the three characters. Empty lines are skipped.
//  - An empty unquoted cell is null; a quoted empty cell `""` is the empty string (both are
//    missing to measures). A cell whose (unquoted) text is one of `null_values` is null.
//    Every other cell is a string, numeric-looking or not: the schema coerces types.
//  - A row whose cell count differs from the column count is `malformed` (its slots stay
//    absent); a record longer than max_record_size (bytes, without its terminator) is
//    `too_long`. A referenced column that the header does not name is absent in every record.
//  - Fields map to columns by name: a one-segment path `["odd key"]` names the column
//    `odd key`; a longer path `a.b` names the column spelled `a.b` (CSV has no nesting).
//    Several slots may read the same column.
//  - A UTF-8 byte order mark at the start of a stream is skipped.
//  - With a header, a later row whose cells are exactly the header's is skipped, not a record
//    (a file rotated in, or concatenated onto another, brings its header along).
//  - Strings point into the data passed in, except cells with doubled quotes, which are
//    unquoted into the batch's arena.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/expr/field_path.h"
#include "core/record/batch.h"

namespace weir::decode {

// The `csv:` options of an input (connectors/common/common_spec.cc), already validated.
struct csv_decoder_options {
    char delimiter = ',';
    char quote = '"';
    // The first record of a stream names the columns. With false, `columns` names them.
    bool header = true;
    // Column names in order; with a header they replace the header's names (the header row
    // is then only skipped, and rows must have columns.size() cells).
    std::vector<std::string> columns;
    std::vector<std::string> null_values;  // cell texts read as null, e.g. "NA"
    std::size_t max_record_size = 1 << 20;
};

struct csv_decode_result {
    // Bytes of the data fully processed. The rest (data.size() - consumed) is a partial
    // record the caller keeps and passes again, followed by more data. It is never longer
    // than max_record_size: a longer unfinished record is reported too_long at once and the
    // decoder skips up to the next line feed, even across calls.
    std::size_t consumed = 0;
    std::size_t records = 0;  // records added to the batch
};

class csv_decoder {
  public:
    // `fields[i]` fills slot i of every record. Throws std::invalid_argument when the
    // options are inconsistent (header: false without columns, delimiter == quote,
    // delimiter or quote being CR or LF).
    explicit csv_decoder(const std::vector<field_path>& fields, csv_decoder_options options = {});
    ~csv_decoder();
    csv_decoder(csv_decoder&&) noexcept;
    csv_decoder& operator=(csv_decoder&&) noexcept;

    // Decodes the complete records of `data`, the continuation of the stream. While the
    // header is still due (header: true, none read or set yet), the first record is taken
    // as the header and adds no record. With `end_of_data`, a final record without a line
    // end is decoded too (an unclosed quote then makes it malformed) and everything is
    // consumed. The batch's strings point into `data`, which must outlive the batch's use.
    // `rows`, when given, receives each added record's row text (line end excluded; empty for
    // a too_long record), in batch order.
    csv_decode_result decode(std::string_view data, record_batch& out, bool end_of_data = false,
                             std::vector<std::string_view>* rows = nullptr);

    // Every cell of one row text (from `rows`) by column name, as decode() reads cells: for
    // writing the whole record out (a node without checks passing CSV records on). Cells
    // beyond the columns are left out; false (nothing added) while the header is due or when
    // the row is malformed. Unquoted strings go into `strings`.
    bool row_cells(std::string_view row, std::vector<std::pair<std::string_view, field_value>>& out,
                   arena& strings);

    // One complete record (a message or datagram; a trailing line end is ignored). Returns
    // false when the record was taken as the header instead (no record added). Text after
    // the first record's end makes it malformed.
    bool decode_record(std::string_view record, record_batch& out);

    // Reads the header from the start of a stream — for a followed file resumed mid-file
    // from a checkpoint, pass the file's first bytes. Returns the bytes consumed (the BOM,
    // blank lines and the header row), 0 when `data` holds no complete header row yet.
    // With header: false it changes nothing and returns 0.
    std::size_t header_from(std::string_view data);

    // Sets the header from one row of text (without its line end).
    void set_header(std::string_view row);

    // Forget the stream: the next data starts a new stream (BOM, header) — after a file
    // rotation or truncation.
    void reset();

    bool header_known() const;
    // The header row read from the stream, as one row of text (every cell quoted) that
    // set_header() reads back the same: a checkpoint keeps it, so a followed file resumed
    // mid-file knows its columns. "" while the header is due or with header: false.
    std::string header_row() const;
    // The columns' names (empty while the header is due).
    const std::vector<std::string>& columns() const;
    // Slots whose field no column names (absent in every record), for a warning.
    std::vector<std::size_t> unmatched_slots() const;
    std::size_t slots() const;

  private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

}  // namespace weir::decode
