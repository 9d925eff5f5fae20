#include "galaxy/consumer/dead_letter.hpp"

#include <gtest/gtest.h>

namespace {

using galaxy::consumer::dead_letter_fields;
using galaxy::consumer::delivery_limit_reason;
using galaxy::contract::EntryFields;

TEST(DeadLetter, FieldsInOrderWithOriginalsPrefixed) {
  const EntryFields original = {{"game_id", "g"}, {"details", "{bad"}, {"game_id", "again"}};
  const EntryFields expected = {{"entry_id", "1-0"},      {"reason", "/details: not JSON"},
                                {"consumer", "c1"},       {"orig.game_id", "g"},
                                {"orig.details", "{bad"}, {"orig.game_id", "again"}};
  EXPECT_EQ(dead_letter_fields("1-0", "/details: not JSON", "c1", original), expected);
}

TEST(DeadLetter, AnEntryWithoutFieldsKeepsTheHeader) {
  const auto fields = dead_letter_fields("2-5", "r", "c", {});
  ASSERT_EQ(fields.size(), 3U);
  EXPECT_EQ(fields[0].value, "2-5");
}

TEST(DeadLetter, DeliveryLimitReasonNamesTheLimit) {
  EXPECT_EQ(delivery_limit_reason(5), "delivery limit 5 exceeded");
}

}  // namespace
