#include "galaxy/consumer/options.hpp"

#include <gtest/gtest.h>

namespace {

using namespace std::chrono_literals;
using galaxy::consumer::ConsumerOptions;
using galaxy::consumer::is_start_id;
using galaxy::consumer::resolve;

ConsumerOptions valid() {
  ConsumerOptions o;
  o.group = "g";
  o.consumer = "c";
  return o;
}

TEST(ConsumerOptions, DefaultsAreFilledIn) {
  auto o = valid();
  o.stream = "s";
  o.claim_idle = 10s;
  const auto r = resolve(o);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->options.dead_letter_stream, "s:dead");
  EXPECT_EQ(r->options.claim_interval, 5s);
  EXPECT_EQ(r->endpoint.port, 6379);
}

TEST(ConsumerOptions, ExplicitValuesAreKept) {
  auto o = valid();
  o.dead_letter_stream = "elsewhere";
  o.claim_interval = 250ms;
  const auto r = resolve(o);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->options.dead_letter_stream, "elsewhere");
  EXPECT_EQ(r->options.claim_interval, 250ms);
}

struct Bad {
  const char* field;
  void (*spoil)(ConsumerOptions&);
};

class ConsumerOptionsRejects : public testing::TestWithParam<Bad> {};

TEST_P(ConsumerOptionsRejects, NamingTheField) {
  auto o = valid();
  GetParam().spoil(o);
  const auto r = resolve(o);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().path, GetParam().field) << r.error().message();
}

INSTANTIATE_TEST_SUITE_P(
    Cases, ConsumerOptionsRejects,
    testing::Values(Bad{"redis_url", [](ConsumerOptions& o) { o.redis_url = "http://x"; }},
                    Bad{"stream", [](ConsumerOptions& o) { o.stream.clear(); }},
                    Bad{"group", [](ConsumerOptions& o) { o.group.clear(); }},
                    Bad{"consumer", [](ConsumerOptions& o) { o.consumer.clear(); }},
                    Bad{"start_id", [](ConsumerOptions& o) { o.start_id = "latest"; }},
                    Bad{"block", [](ConsumerOptions& o) { o.block = 0ms; }},
                    Bad{"count", [](ConsumerOptions& o) { o.count = 0; }},
                    Bad{"count", [](ConsumerOptions& o) { o.count = 10001; }},
                    Bad{"claim_idle", [](ConsumerOptions& o) { o.claim_idle = 0ms; }},
                    Bad{"claim_interval", [](ConsumerOptions& o) { o.claim_interval = -1ms; }},
                    Bad{"max_deliveries", [](ConsumerOptions& o) { o.max_deliveries = 0; }},
                    Bad{"dead_letter_stream",
                        [](ConsumerOptions& o) { o.dead_letter_stream = o.stream; }},
                    Bad{"connect_timeout", [](ConsumerOptions& o) { o.connect_timeout = 0ms; }},
                    Bad{"command_timeout", [](ConsumerOptions& o) { o.command_timeout = 0ms; }},
                    Bad{"reconnect_min", [](ConsumerOptions& o) { o.reconnect_max = 1ms; }}));

TEST(StartId, AcceptsWhatRedisAccepts) {
  EXPECT_TRUE(is_start_id("$"));
  EXPECT_TRUE(is_start_id("0"));
  EXPECT_TRUE(is_start_id("1700000000000-0"));
  EXPECT_TRUE(is_start_id("1700000000000"));
  EXPECT_FALSE(is_start_id(""));
  EXPECT_FALSE(is_start_id("-"));
  EXPECT_FALSE(is_start_id("1-"));
  EXPECT_FALSE(is_start_id("-1"));
  EXPECT_FALSE(is_start_id("1-2-3"));
  EXPECT_FALSE(is_start_id(">"));
  EXPECT_FALSE(is_start_id("123456789012345678901"));
}

}  // namespace
