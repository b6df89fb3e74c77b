// Tests of weir(1) as written from CLI11 definitions: every visible verb and option with its
// default and environment variable, nested verbs, hidden ones left out, roff escapes.
#include "daemon/man_page.h"

#include <gtest/gtest.h>

#include <CLI/CLI.hpp>
#include <string>

namespace weir::daemon {
namespace {

TEST(man_page, lists_every_visible_verb_and_option_with_defaults_and_environment) {
    CLI::App app{"test program", "weir"};
    std::string format = "text";
    std::string dir;
    std::vector<std::string> paths;
    bool flag = false;
    auto* validate = app.add_subcommand("validate", "Check pipelines");
    validate->add_option("paths", paths, "Pipeline files");
    validate->add_option("--format", format, "Report format")
        ->check(CLI::IsMember({"text", "json"}))
        ->capture_default_str();
    auto* run = app.add_subcommand("run", "Start the daemon");
    run->add_option("--data-dir", dir, "Where checkpoints live")->envname("WEIR_DATA_DIR");
    run->add_flag("-v,--verbose", flag, "Say more");
    auto* outer = app.add_subcommand("checkpoint", "Work with checkpoint files");
    std::string file;
    outer->add_subcommand("inspect", "Print a checkpoint")
        ->add_option("file", file, "A .ckpt file")
        ->required();
    app.add_subcommand("secret", "Not for people")->group("");
    app.add_flag("--hidden-flag", flag, "Not for people")->group("");

    const std::string page = render_man_page(app, "1.2.3");
    EXPECT_EQ(page.rfind(".TH WEIR 1 \"\" \"weir 1.2.3\"", 0), 0u) << page;
    EXPECT_NE(page.find(".SS \"weir validate\""), std::string::npos) << page;
    EXPECT_NE(page.find(".SS \"weir run\""), std::string::npos);
    EXPECT_NE(page.find(".SS \"weir checkpoint inspect\""), std::string::npos);
    EXPECT_NE(page.find("\\fBweir checkpoint inspect\\fR \\fIfile\\fR"), std::string::npos);
    EXPECT_NE(page.find("\\fBweir validate\\fR [\\fIOPTIONS\\fR] [\\fIpaths\\fR...]"),
              std::string::npos);
    EXPECT_NE(
        page.find("\\fB\\-\\-format\\fR \\fITEXT\\fR\nReport format (one of text, json; default: "
                  "text)"),
        std::string::npos)
        << page;
    EXPECT_NE(page.find("\\fB\\-v\\fR, \\fB\\-\\-verbose\\fR\nSay more\n"), std::string::npos);
    EXPECT_NE(page.find("(environment: \\fBWEIR_DATA_DIR\\fR)"), std::string::npos);
    EXPECT_NE(page.find(".SH ENVIRONMENT\n.TP\n\\fBWEIR_DATA_DIR\\fR\nas \\fBweir run "
                        "\\-\\-data\\-dir\\fR"),
              std::string::npos)
        << page;
    EXPECT_NE(page.find(".SH EXIT STATUS"), std::string::npos);
    EXPECT_NE(page.find("\\fB78\\fR\nan invalid configuration"), std::string::npos);
    EXPECT_EQ(page.find("weir secret"), std::string::npos);
    EXPECT_EQ(page.find("\\-\\-hidden"), std::string::npos);
}

TEST(man_page, escapes_roff_in_descriptions) {
    CLI::App app{"test program", "weir"};
    std::string value;
    app.add_subcommand("x", ".starts with a dot and has a \\ backslash")
        ->add_option("--y", value, "'quoted");
    const std::string page = render_man_page(app, "0");
    EXPECT_NE(page.find("\n\\&.starts with a dot and has a \\e backslash.\n"), std::string::npos)
        << page;
    EXPECT_NE(page.find("\n\\&'quoted\n"), std::string::npos) << page;
}

}  // namespace
}  // namespace weir::daemon
