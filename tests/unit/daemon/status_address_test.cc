// Tests of where `weir status` asks when no --url is given: http.listen of the settings file.
#include <gtest/gtest.h>

#include "daemon/status_client.h"

namespace weir::daemon {
namespace {

TEST(status_url_for_listen, asks_the_address_the_daemon_listens_on) {
    EXPECT_EQ(status_url_for_listen(""), "http://127.0.0.1:9797");
    EXPECT_EQ(status_url_for_listen("127.0.0.1:9100"), "http://127.0.0.1:9100");
    EXPECT_EQ(status_url_for_listen("monitor.internal:80"), "http://monitor.internal:80");
    EXPECT_EQ(status_url_for_listen("[::1]:9797"), "http://[::1]:9797");
}

TEST(status_url_for_listen, asks_loopback_for_a_wildcard_host) {
    EXPECT_EQ(status_url_for_listen("0.0.0.0:9100"), "http://127.0.0.1:9100");
    EXPECT_EQ(status_url_for_listen(":9100"), "http://127.0.0.1:9100");
    EXPECT_EQ(status_url_for_listen("[::]:9100"), "http://[::1]:9100");
}

TEST(status_url_for_listen, refuses_what_does_not_name_a_port) {
    EXPECT_EQ(status_url_for_listen("127.0.0.1:0"), std::nullopt);
    EXPECT_EQ(status_url_for_listen("127.0.0.1"), std::nullopt);
    EXPECT_EQ(status_url_for_listen("127.0.0.1:"), std::nullopt);
    EXPECT_EQ(status_url_for_listen("127.0.0.1:http"), std::nullopt);
}

}  // namespace
}  // namespace weir::daemon
