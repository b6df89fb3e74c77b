// Compiles the strings of a pipeline that carry a language of their own — filter and set
// expressions, join keys, measures, must_be/should_be assessments, time formats, schema
// patterns — so that `weir validate` reports their errors at the exact character.
#pragma once

#include "config/model.h"
#include "core/diag/diagnostic.h"

namespace weir::config {

// When a node's fields are known (a `schema:` declares them, or the node reads derived
// records of a node whose fields are known), expressions are type-checked against the declared
// types, and a field one typo away from a declared one — in an expression, a measure,
// `time.field` or `group_by` — is an error with a "did you mean". Other undeclared fields are
// accepted, of any type: a schema lists the fields it checks, not every field records carry.
void compile_pipeline(const pipeline_config& pipeline, diagnostics& out);

}  // namespace weir::config
