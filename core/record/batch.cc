// Names of invalid-record reasons, as metrics labels and log text.
#include "core/record/batch.h"

namespace weir {

const char* to_string(invalid_reason r) {
    switch (r) {
        case invalid_reason::none:
            return "none";
        case invalid_reason::malformed:
            return "malformed";
        case invalid_reason::too_long:
            return "too_long";
        case invalid_reason::bad_time:
            return "bad_time";
        case invalid_reason::schema:
            return "schema";
        case invalid_reason::schema_kept:
            return "schema_kept";
    }
    return "unknown";
}

}  // namespace weir
