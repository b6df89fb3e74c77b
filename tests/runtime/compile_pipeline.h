// What the runtime tests share: the pipeline compiler with the built-in connectors, as the
// daemon runs it, over a YAML text.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <string>

#include "config/load.h"
#include "config/plan.h"
#include "tests/unit/config/builtin_registry.h"

namespace weir::test {

// The only query of a one-pipeline YAML text (null, with the errors reported, when it does
// not compile).
inline std::shared_ptr<const config::compiled_pipeline> compile(const std::string& yaml) {
    const auto r = config::load_text(yaml, "test.yaml", registry(),
                                     [](const std::string&) { return std::nullopt; });
    std::string problems;
    for (const auto& d : r.diags.sorted()) problems += format(d) + "\n";
    EXPECT_FALSE(r.diags.has_errors()) << problems;
    if (r.config.pipelines.empty() || !r.config.pipelines[0].plan) return nullptr;
    return r.config.pipelines[0].plan;
}

}  // namespace weir::test
