// White-box tests of the runtime's ready queue (src/runtime/detail/ready_queue.hpp): key
// order, first-in first-out within a key, bucket reuse, and concurrent pushes and steals.
#include "runtime/detail/ready_queue.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <set>
#include <thread>
#include <vector>

namespace taskloom::runtime::detail {
namespace {

Item node(Key key, std::uint32_t id) {
  return Item{key, nullptr, id, 0, Item::Kind::kNode};
}

std::vector<std::uint32_t> drain_ids(ReadyQueue& q) {
  std::vector<std::uint32_t> ids;
  Item it;
  while (q.pop(it)) ids.push_back(it.begin);
  return ids;
}

TEST(ReadyQueue, EmptyQueuePopsNothingAndHasNoTopKey) {
  ReadyQueue q;
  Item it;
  EXPECT_FALSE(q.pop(it));
  EXPECT_FALSE(q.try_pop(it));
  EXPECT_EQ(q.top_key(), 0u);
}

TEST(ReadyQueue, LargerKeyComesFirst) {
  ReadyQueue q;
  q.push(node(5, 1));
  q.push(node(9, 2));
  q.push(node(7, 3));
  EXPECT_EQ(q.top_key(), 9u);
  EXPECT_EQ(drain_ids(q), (std::vector<std::uint32_t>{2, 3, 1}));
  EXPECT_EQ(q.top_key(), 0u);
}

TEST(ReadyQueue, EqualKeysLeaveInArrivalOrder) {
  ReadyQueue q;
  for (std::uint32_t i = 0; i < 200; ++i) q.push(node(i % 2 == 0 ? 4 : 8, i));
  std::vector<std::uint32_t> expected;
  for (std::uint32_t i = 1; i < 200; i += 2) expected.push_back(i);  // key 8, in order
  for (std::uint32_t i = 0; i < 200; i += 2) expected.push_back(i);  // then key 4, in order
  EXPECT_EQ(drain_ids(q), expected);
}

TEST(ReadyQueue, MinKeyLeavesWorseItemsQueued) {
  ReadyQueue q;
  q.push(node(3, 1));
  Item it;
  EXPECT_FALSE(q.pop(it, 4));
  EXPECT_EQ(q.top_key(), 3u);
  EXPECT_TRUE(q.pop(it, 3));
  EXPECT_EQ(it.begin, 1u);
}

TEST(ReadyQueue, BucketsEmptiedAndRefilledKeepOrder) {
  // Keys come and go many times; retired buckets are reused without mixing keys up.
  ReadyQueue q;
  for (int round = 0; round < 50; ++round) {
    for (Key k = 1; k <= 20; ++k)
      q.push(node(k * 3 + static_cast<Key>(round % 2), static_cast<std::uint32_t>(k)));
    Item it;
    Key previous = ~Key{0};
    for (int i = 0; i < 20; ++i) {
      ASSERT_TRUE(q.pop(it));
      ASSERT_LT(it.key, previous);
      previous = it.key;
    }
    ASSERT_FALSE(q.pop(it));
  }
}

TEST(ReadyQueue, InterleavedPushAndPopFollowTheKeys) {
  ReadyQueue q;
  q.push(node(2, 1));
  q.push(node(2, 2));
  Item it;
  ASSERT_TRUE(q.pop(it));
  EXPECT_EQ(it.begin, 1u);
  q.push(node(6, 3));  // a better key arrives while key 2 is half drained
  q.push(node(2, 4));
  EXPECT_EQ(drain_ids(q), (std::vector<std::uint32_t>{3, 2, 4}));
}

TEST(ReadyQueue, PushPopPublishesTheItemAndTakesTheBest) {
  ReadyQueue q;
  q.push(node(9, 1));
  Item out;
  ASSERT_TRUE(q.push_pop(node(5, 2), out, 1));
  EXPECT_EQ(out.begin, 1u);
  EXPECT_EQ(q.top_key(), 5u);
  // The item pushed may itself be the best: it comes straight back.
  ASSERT_TRUE(q.push_pop(node(7, 3), out, 1));
  EXPECT_EQ(out.begin, 3u);
  EXPECT_EQ(drain_ids(q), (std::vector<std::uint32_t>{2}));
}

TEST(ReadyQueue, TryPopHalfTakesTheOlderHalfOfTheBestKeyOnly) {
  ReadyQueue q;
  for (std::uint32_t i = 1; i <= 5; ++i) q.push(node(9, i));
  q.push(node(4, 100));
  std::vector<Item> out(8);
  ASSERT_EQ(q.try_pop_half(out.data(), out.size()), 3u);  // half of 5, rounded up
  EXPECT_EQ(out[0].begin, 1u);
  EXPECT_EQ(out[1].begin, 2u);
  EXPECT_EQ(out[2].begin, 3u);
  EXPECT_EQ(q.try_pop_half(out.data(), 1), 1u) << "never more than max";
  EXPECT_EQ(out[0].begin, 4u);
  EXPECT_EQ(q.try_pop_half(out.data(), out.size(), 5), 1u);
  EXPECT_EQ(out[0].begin, 5u);
  EXPECT_EQ(q.try_pop_half(out.data(), out.size(), 5), 0u) << "4 is below min_key";
  EXPECT_EQ(drain_ids(q), (std::vector<std::uint32_t>{100}));
}

TEST(ReadyQueue, PushManyKeepsTheOrderGiven) {
  ReadyQueue q;
  q.push(node(9, 1));
  const std::vector<Item> items{node(9, 2), node(3, 3), node(9, 4)};
  q.push_many(items.data(), items.size());
  EXPECT_EQ(drain_ids(q), (std::vector<std::uint32_t>{1, 2, 4, 3}));
}

TEST(ReadyQueueStress, ConcurrentPushersAndThievesLoseAndDuplicateNothing) {
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
  constexpr std::uint32_t kPerPusher = 5'000;
#else
  constexpr std::uint32_t kPerPusher = 50'000;
#endif
  constexpr std::uint32_t kPushers = 2, kThieves = 2;
  ReadyQueue q;
  std::atomic<std::uint32_t> pushed_done{0};
  std::vector<std::vector<std::uint32_t>> taken(kThieves);
  std::vector<std::thread> threads;
  for (std::uint32_t p = 0; p < kPushers; ++p) {
    threads.emplace_back([&, p] {
      for (std::uint32_t i = 0; i < kPerPusher; ++i) q.push(node(1 + i % 7, p * kPerPusher + i));
      pushed_done.fetch_add(1);
    });
  }
  for (std::uint32_t t = 0; t < kThieves; ++t) {
    threads.emplace_back([&, t] {
      Item it;
      for (;;) {
        if (q.try_pop(it) || q.pop(it)) {
          taken[t].push_back(it.begin);
        } else if (pushed_done.load() == kPushers && q.top_key() == 0) {
          break;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  std::vector<std::uint32_t> all;
  for (const auto& v : taken) all.insert(all.end(), v.begin(), v.end());
  std::sort(all.begin(), all.end());
  ASSERT_EQ(all.size(), kPushers * kPerPusher);
  for (std::uint32_t i = 0; i < all.size(); ++i) ASSERT_EQ(all[i], i) << "lost or duplicated";
}

}  // namespace
}  // namespace taskloom::runtime::detail
