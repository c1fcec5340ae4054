// Hand-computed schedules for the backfill policies: none, easy, conservative.
#include <gtest/gtest.h>

#include "cluster_test_support.hpp"

namespace taskloom::cluster {
namespace {
using namespace testing;

// Two 4-cpu nodes; first fit; wall limits equal runtimes.
//   a  t=0  4 cpu 10 s     b  t=1  2 cpu 5 s     c  t=2  4 cpu 3 s     d  t=3  2 cpu 2 s
std::vector<Node> two_nodes() {
  return {node("n0", 4), node("n1", 4)};
}
std::vector<Job> four_jobs(double d_run) {
  return {job("a", 0, 4, 10), job("b", 1, 2, 5), job("c", 2, 4, 3), job("d", 3, 2, d_run)};
}

TEST(BackfillNone, StartsInOrderAndStopsAtTheFirstBlockedJob) {
  // a@0 n0 (to 10). b@1 n1 (n0 full; to 6). c needs 4 cpus: blocked, and d waits behind it
  // although it fits on n1. b ends at 6: c@6 n1 (to 9). c ends at 9: d@9 n1 (n0 busy to 10).
  auto r = simulate(two_nodes(), {}, four_jobs(2), options("fcfs", "first_fit", "none"));
  expect_schedule(r, {{"a", 0, {"n0"}}, {"b", 1, {"n1"}}, {"c", 6, {"n1"}}, {"d", 9, {"n1"}}});
}

TEST(BackfillEasy, BackfillsAJobThatEndsBeforeTheShadowTime) {
  // c is the head at 2: n1 frees 4 cpus when b ends at 6, n0 at 10: shadow 6 on n1.
  // d (2 cpus, 2 s) fits on n1 now and ends at 5 <= 6: backfilled at 3. c@6 n1.
  auto r = simulate(two_nodes(), {}, four_jobs(2), options("fcfs", "first_fit", "easy"));
  expect_schedule(r, {{"a", 0, {"n0"}}, {"b", 1, {"n1"}}, {"c", 6, {"n1"}}, {"d", 3, {"n1"}}});
}

TEST(BackfillEasy, DoesNotBackfillAJobThatWouldDelayTheHead) {
  // d now runs 4 s: it would end at 7 > shadow 6, and on n1 the head needs all 4 cpus at 6
  // (spare 0). So d waits: c@6 n1 (to 9), d@9 n1.
  auto r = simulate(two_nodes(), {}, four_jobs(4), options("fcfs", "first_fit", "easy"));
  expect_schedule(r, {{"c", 6, {"n1"}}, {"d", 9, {"n1"}}});
}

TEST(BackfillEasy, LongJobsMayUseNodesTheHeadDoesNotNeed) {
  // n0 4 cpus, n1 8 cpus.
  // a t=0 2 cpu 10 s -> n0 (2 left).   b t=1 6 cpu 5 s -> n1 (2 left, to 6).
  // c t=2 8 cpu 3 s: only n1 can hold it: shadow 6 on n1, spare there 8 - 8 = 0.
  // d t=3 2 cpu 10 s: ends 13 > 6, but n0 is not reserved: backfilled at 3 on n0.
  // e t=4 2 cpu 10 s: only n1 has room now, reserved with spare 0: waits. c@6 n1 (to 9).
  //   c ends at 9 and frees n1 before a frees n0 at 10: e@9 n1.
  std::vector<Node> nodes{node("n0", 4), node("n1", 8)};
  std::vector<Job> jobs{job("a", 0, 2, 10), job("b", 1, 6, 5), job("c", 2, 8, 3),
                        job("d", 3, 2, 10), job("e", 4, 2, 10)};
  auto r = simulate(nodes, {}, jobs, options("fcfs", "first_fit", "easy"));
  expect_schedule(
      r,
      {{"a", 0, {"n0"}}, {"b", 1, {"n1"}}, {"c", 6, {"n1"}}, {"d", 3, {"n0"}}, {"e", 9, {"n1"}}});
}

// Two 4-cpu nodes, where EASY delays the second queued job and conservative does not.
//   a t=0 4 cpu 10 s   b t=0 2 cpu 40 s   c t=1 4 cpu 10 s   d t=2 4 cpu x 2 nodes 10 s
//   e t=3 2 cpu 50 s
std::vector<Job> second_job_workload() {
  return {job("a", 0, 4, 10), job("b", 0, 2, 40), job("c", 1, 4, 10), job("d", 2, 4, 10, -1, 2),
          job("e", 3, 2, 50)};
}

TEST(BackfillEasy, MayDelayJobsBehindTheHead) {
  // a@0 n0, b@0 n1 (2 left). c is the head: shadow 10 on n0 (n1 only at 40).
  // d (both nodes whole) cannot start. e fits on n1, ends at 53 > 10, but n1 is not reserved:
  // backfilled at 3. c@10 n0 (to 20). d is now the head: n0 at 20, n1 when b (40) and e (53)
  // have ended: d@53 on n0+n1.
  auto r = simulate(two_nodes(), {}, second_job_workload(), options("fcfs", "first_fit", "easy"));
  expect_schedule(r, {{"a", 0, {"n0"}},
                      {"b", 0, {"n1"}},
                      {"c", 10, {"n0"}},
                      {"d", 53, {"n0", "n1"}},
                      {"e", 3, {"n1"}}});
}

TEST(BackfillConservative, ReservesForEveryJob) {
  // c reserved [10, 20) on n0. d needs both nodes whole: n0 from 20, n1 from 40 -> [40, 50).
  // e (2 cpus, 50 s) would overlap d's reservation on n1 and, on n0, c's and d's: its
  // earliest undisturbing start is 50 (n0, the lowest index). c@10 n0, d@40 n0+n1, e@50 n0.
  auto r = simulate(two_nodes(), {}, second_job_workload(),
                    options("fcfs", "first_fit", "conservative"));
  expect_schedule(r, {{"a", 0, {"n0"}},
                      {"b", 0, {"n1"}},
                      {"c", 10, {"n0"}},
                      {"d", 40, {"n0", "n1"}},
                      {"e", 50, {"n0"}}});
}

TEST(BackfillConservative, BackfillsWhatFitsBeforeEveryReservation) {
  // Same as the EASY case above with d 2 s: conservative also starts d at 3 on n1 (ends 5,
  // before c's reservation at 6).
  auto r = simulate(two_nodes(), {}, four_jobs(2), options("fcfs", "first_fit", "conservative"));
  expect_schedule(r, {{"a", 0, {"n0"}}, {"b", 1, {"n1"}}, {"c", 6, {"n1"}}, {"d", 3, {"n1"}}});
}

TEST(BackfillConservative, HonoursAReservationWhoseTimeNoLongerMatchesAnEvent) {
  // n0, n1 1 cpu each. r0 t=0 runs 10 s (limit 100) on n0; r1 t=0 runs 30 s on n1.
  // z t=1 needs both nodes for 50 s: reserved [100, 150) (r0's limit).
  // y t=2 70 s: fits n1 in [30, 100) before z: reserved there.
  // At 10 r0 ends early: z (first in order) still cannot start before 100 (y holds n1 until
  // 100); y then finds n0 free for [10, 80) and starts. Nothing ends at 100 any more, yet z
  // must start then: z@100 on n0+n1.
  std::vector<Node> nodes{node("n0", 1), node("n1", 1)};
  std::vector<Job> jobs{job("r0", 0, 1, 10, 100), job("r1", 0, 1, 30), job("z", 1, 1, 50, -1, 2),
                        job("y", 2, 1, 70)};
  auto r = simulate(nodes, {}, jobs, options("fcfs", "first_fit", "conservative"));
  expect_schedule(
      r, {{"r0", 0, {"n0"}}, {"r1", 0, {"n1"}}, {"y", 10, {"n0"}}, {"z", 100, {"n0", "n1"}}});
}

// Node events and arrivals under conservative backfilling, with the reservation invariant
// checked at every pass (options() turns check_invariants on): no reservation moves later,
// except one on a node that goes down.

TEST(BackfillConservative, KeepsEveryReservationWhenANodeComesUp) {
  // n0, n1 up, n2 down until 5; one cpu each.
  //   x t=0 100 s -> n0;  y t=0 20 s -> n1;  A t=1 2 nodes 30 s;  B t=1 50 s.
  // At 1: A reserved [100, 130) on n0+n1; B fits n1 [20, 70) before it.
  // At 5 n2 comes up. The reservations are kept and compressed in queue order: A's earliest
  // around B is 70 on n1+n2 (earlier than 100); B's is now, on n2, [5, 55) (before A there).
  // Planning everything again instead would give A 20 on n1+n2 and push B from 20 to 50.
  std::vector<Node> nodes{node("n0", 1), node("n1", 1), node("n2", 1)};
  nodes[2].state = NodeState::kDown;
  std::vector<Job> jobs{job("x", 0, 1, 100), job("y", 0, 1, 20), job("A", 1, 1, 30, -1, 2),
                        job("B", 1, 1, 50)};
  SimulationOptions o = options("fcfs", "first_fit", "conservative");
  o.node_events = {{sec(5), "n2", NodeState::kUp}};
  auto r = simulate(nodes, {}, jobs, o);
  expect_schedule(r,
                  {{"x", 0, {"n0"}}, {"y", 0, {"n1"}}, {"B", 5, {"n2"}}, {"A", 70, {"n1", "n2"}}});
}

TEST(BackfillConservative, ANodeGoingDownMovesOnlyTheReservationsOnIt) {
  // n0, n1, n2, one cpu each. x t=0 100 s -> n0; y t=0 50 s -> n1; z t=0 60 s -> n2.
  // At 1: A (20 s) [50, 70) on n1; B (20 s) [60, 80) on n2; C (2 nodes, 10 s) [80, 90) on
  // n1+n2. At 10 n1 goes down: y is lost and requeued; A's and C's reservations (on n1) are
  // void, B's stays. In queue order: y (submitted first) gets n2 after B, [80, 130); A gets
  // n0 at 100; B keeps 60; C gets n0+n2 at 130. (Planning everything again would give y n2 at
  // 60 and push B to 110.)
  std::vector<Job> jobs{job("x", 0, 1, 100), job("y", 0, 1, 50), job("z", 0, 1, 60),
                        job("A", 1, 1, 20),  job("B", 1, 1, 20), job("C", 1, 1, 10, -1, 2)};
  SimulationOptions o = options("fcfs", "first_fit", "conservative");
  o.node_events = {{sec(10), "n1", NodeState::kDown}};
  auto r = simulate({node("n0", 1), node("n1", 1), node("n2", 1)}, {}, jobs, o);
  expect_schedule(r, {{"B", 60, {"n2"}}, {"A", 100, {"n0"}}, {"C", 130, {"n0", "n2"}}});
  const JobRecord& y = record(r, "y");
  EXPECT_EQ(y.failures, 1u);
  EXPECT_EQ(y.nodes, std::vector<std::string>{"n2"});
  EXPECT_DOUBLE_EQ(to_sec(*y.end), 130);
}

TEST(BackfillConservative, AnUrgentArrivalDoesNotTakeAReservation) {
  // One 1-cpu node, earliest deadline first. x t=0 100 s; A t=1 50 s (no deadline): [100, 150).
  // E t=2 10 s, deadline 120, goes ahead of A in the queue, but conservative backfilling never
  // delays a reservation: E gets the earliest start that disturbs none, 150 (and misses its
  // deadline). Re-planning in the new order would have moved A to 110.
  Job e = job("E", 2, 1, 10);
  e.deadline = sec(120);
  auto r = simulate({node("n", 1)}, {}, {job("x", 0, 1, 100), job("A", 1, 1, 50), e},
                    options("edf", "first_fit", "conservative"));
  expect_schedule(r, {{"A", 100, {"n"}}, {"E", 150, {"n"}}});
  EXPECT_EQ(r.metrics.deadline_misses, 1u);
}

TEST(BackfillEasy, MaxCandidatesBoundsTheJobsTriedBehindTheHead) {
  // As BackfillsAJobThatEndsBeforeTheShadowTime, with a 2 s job e queued behind a 9 s job x
  // that cannot be backfilled: with max_candidates = 1 only x is tried, so e waits for c.
  std::vector<Job> jobs{job("a", 0, 4, 10), job("b", 1, 2, 5), job("c", 2, 4, 3), job("x", 3, 2, 9),
                        job("e", 3, 2, 2)};
  auto all = simulate(two_nodes(), {}, jobs, options("fcfs", "first_fit", "easy"));
  expect_schedule(all, {{"e", 3, {"n1"}}});
  SimulationOptions o = options("fcfs", "first_fit", "easy");
  o.backfill.params = {{"max_candidates", 1.0}};
  auto one = simulate(two_nodes(), {}, jobs, o);
  EXPECT_GT(to_sec(*record(one, "e").start), 3);
}

TEST(BackfillEasy, UsesForecastsInsteadOfWallLimits) {
  // One 4-cpu node. a t=0 4 cpu runs 10 s (limit 100). b t=1 4 cpu 10 s is the head.
  // c t=2 2 cpu... nothing fits while a holds the node; the forecast changes b's shadow only.
  // Here: with "requested", b's shadow is 100 and with an ewma forecaster fed by an earlier
  // job of the same shape it is 10; the estimate recorded for a shows which one was used.
  std::vector<Node> nodes{node("n0", 4)};
  std::vector<Job> jobs{job("w", 0, 4, 10, 100), job("a", 20, 4, 10, 100)};
  SimulationOptions o = options("fcfs", "first_fit", "easy");
  o.forecaster = {"ewma", {}};
  auto r = simulate(nodes, {}, jobs, o);
  EXPECT_DOUBLE_EQ(to_sec(record(r, "w").estimated_runtime), 100);  // no history: the limit
  EXPECT_DOUBLE_EQ(to_sec(record(r, "a").estimated_runtime), 10);   // w's runtime
}

}  // namespace
}  // namespace taskloom::cluster
