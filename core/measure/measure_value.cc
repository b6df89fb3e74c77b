// Literal spelling of measure values (used in canonical assessments and in messages).
#include "core/measure/measure_value.h"

#include "core/expr/syntax.h"

namespace weir {

std::string to_string(const measure_value& v) {
    switch (v.kind) {
        case measure_kind::null:
            return "null";
        case measure_kind::number:
            return format_number(v.number);
        case measure_kind::string:
            return quote(v.text);
        case measure_kind::boolean:
            return v.boolean ? "true" : "false";
    }
    return "null";
}

}  // namespace weir
