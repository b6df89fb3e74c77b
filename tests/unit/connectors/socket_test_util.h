// Shared by the tcp and udp input tests: a recorder of input events, and a fixture that builds
// an input from settings (validated against its declaration) and runs the loop with bounds.
#pragma once

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "connectors/runtime.h"
#include "core/params/registry.h"
#include "tests/unit/connectors/input_test_util.h"

namespace weir::connectors::test {

struct recorder : input_events {
    std::string data;
    std::vector<std::string> batches;
    std::vector<std::string> failures;
    std::vector<std::string> problems;
    std::function<void()> after_data;

    void on_records(std::string_view source, const record_delivery& records) override {
        expect_one_stream_lines(source, records);
        data.append(records.bytes);
        batches.emplace_back(records.bytes);
        if (after_data) after_data();
    }
    void on_sources_changed(std::span<const source_id> added,
                            std::span<const source_id> removed) override {
        ADD_FAILURE() << "a one-stream input announced " << added.size() << " and retired "
                      << removed.size() << " sources";
    }
    void on_end() override { ADD_FAILURE() << "a socket input never ends"; }
    void on_problem(std::string_view type, const std::string& message) override {
        problems.push_back(std::string(type) + ": " + message);
    }
    void on_failure(const std::string& message) override { failures.push_back(message); }
};

// `Input` is built as Input(reader, context); `component` declares its parameters.
template <class Input>
class socket_input_fixture : public ::testing::Test {
  protected:
    explicit socket_input_fixture(params::component_info component) : info_(std::move(component)) {}

    std::unique_ptr<Input> make(std::map<std::string, std::string> settings) {
        if (!settings.contains("listen")) settings["listen"] = "127.0.0.1:0";
        value_.type = params::value::kind::mapping;
        value_.entries.clear();
        for (const auto& [key, text] : settings) {
            params::value v;
            v.type = params::value::kind::scalar;
            v.text = text;
            value_.entries.push_back({key, {}, v});
        }
        diagnostics diags;
        EXPECT_TRUE(params::validate(*info_.spec, value_, "inputs.in", diags));
        params::reader reader(*info_.spec, value_);
        input_context ctx;
        ctx.executor = boost::asio::make_strand(io_);
        ctx.input = "in";
        return std::make_unique<Input>(reader, ctx);
    }

    template <class Pred>
    bool run_until(Pred done, std::chrono::milliseconds limit = std::chrono::seconds(10)) {
        const auto deadline = std::chrono::steady_clock::now() + limit;
        while (!done() && std::chrono::steady_clock::now() < deadline) {
            io_.restart();
            io_.run_for(std::chrono::milliseconds(5));
        }
        return done();
    }

    void run_for(std::chrono::milliseconds d) {
        io_.restart();
        io_.run_for(d);
    }

    params::component_info info_;
    params::value value_;
    boost::asio::io_context io_;
    boost::asio::io_context client_io_;
};

}  // namespace weir::connectors::test
