// How a failed commit is told apart: by its error code, not by the text librdkafka gives it.
#include "connectors/kafka/kafka_client.h"

#include <gtest/gtest.h>

namespace weir::connectors::kafka {
namespace {

TEST(commit_failure, a_group_changing_generation_is_a_rebalance) {
    for (const auto err :
         {RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS, RD_KAFKA_RESP_ERR_ILLEGAL_GENERATION,
          RD_KAFKA_RESP_ERR_UNKNOWN_MEMBER_ID, RD_KAFKA_RESP_ERR__ASSIGNMENT_LOST}) {
        const commit_error e = commit_failure("commit: ", err);
        EXPECT_TRUE(e.rebalancing) << rd_kafka_err2str(err);
        EXPECT_FALSE(e.undelivered);
        EXPECT_EQ(e.message, std::string("commit: ") + rd_kafka_err2str(err));
    }
}

TEST(commit_failure, other_errors_are_failures) {
    for (const auto err :
         {RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED, RD_KAFKA_RESP_ERR__TIMED_OUT,
          RD_KAFKA_RESP_ERR__TRANSPORT, RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE,
          RD_KAFKA_RESP_ERR_OFFSET_METADATA_TOO_LARGE}) {
        const commit_error e = commit_failure("Kafka offset commit: t/3: ", err);
        EXPECT_FALSE(e.rebalancing) << rd_kafka_err2str(err);
        EXPECT_EQ(e.message, std::string("Kafka offset commit: t/3: ") + rd_kafka_err2str(err));
    }
}

}  // namespace
}  // namespace weir::connectors::kafka
