// bench/runtime/thread_pool.hpp — the plain std::thread baseline of runtime_bench.
//
// What a careful engineer writes without a task library: N threads around one queue guarded by
// one mutex and a condition variable, and for a DAG one atomic counter of unfinished
// predecessors per node; the task that brings a counter to zero queues that node.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "workloads.hpp"

namespace taskloom::bench {

class ThreadPool {
 public:
  explicit ThreadPool(unsigned workers) {
    for (unsigned i = 0; i < workers; ++i) threads_.emplace_back([this] { work(); });
  }
  ~ThreadPool() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    ready_.notify_all();
    for (std::thread& t : threads_) t.join();
  }
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  void push(std::function<void()> job) {
    {
      std::lock_guard lock(mutex_);
      queue_.push_back(std::move(job));
    }
    ready_.notify_one();
  }

 private:
  void work() {
    for (;;) {
      std::function<void()> job;
      {
        std::unique_lock lock(mutex_);
        ready_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
        if (queue_.empty()) return;  // stopping, and nothing left
        job = std::move(queue_.front());
        queue_.pop_front();
      }
      job();
    }
  }

  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<std::function<void()>> queue_;  // guarded by mutex_
  bool stopping_ = false;                    // guarded by mutex_
  std::vector<std::thread> threads_;
};

/// Builds the DAG as nodes with a body, successor lists and dependency counters, runs it on
/// `pool` and returns when every node has run.
template <class MakeBody>
void run_dag(ThreadPool& pool, const Dag& dag, MakeBody&& make_body) {
  struct Node {
    std::function<void()> work;
    std::vector<std::uint32_t> successors;
    std::atomic<std::uint32_t> pending{0};
  };
  struct GraphRun {
    ThreadPool* pool;
    std::vector<Node> nodes;
    std::atomic<std::size_t> remaining;
    std::mutex mutex;
    std::condition_variable finished;
    bool done = false;  // guarded by mutex

    void execute(std::uint32_t v) {
      Node& node = nodes[v];
      node.work();
      for (std::uint32_t s : node.successors) {
        if (nodes[s].pending.fetch_sub(1, std::memory_order_acq_rel) == 1) {
          pool->push([this, s] { execute(s); });
        }
      }
      if (remaining.fetch_sub(1, std::memory_order_acq_rel) == 1) {
        std::lock_guard lock(mutex);
        done = true;
        finished.notify_one();  // under the lock: the waiter may destroy us once it returns
      }
    }
  };

  GraphRun run{&pool, std::vector<Node>(dag.nodes), {dag.nodes}, {}, {}, false};
  for (std::uint32_t v = 0; v < dag.nodes; ++v) run.nodes[v].work = make_body(v);
  for (std::size_t e = 0; e < dag.edges(); ++e) {
    run.nodes[dag.from[e]].successors.push_back(dag.to[e]);
    run.nodes[dag.to[e]].pending.fetch_add(1, std::memory_order_relaxed);
  }
  if (dag.nodes == 0) return;
  // Find every source before queueing any: once the first runs, counters start to fall.
  std::vector<std::uint32_t> sources;
  for (std::uint32_t v = 0; v < dag.nodes; ++v) {
    if (run.nodes[v].pending.load(std::memory_order_relaxed) == 0) sources.push_back(v);
  }
  for (std::uint32_t v : sources) pool.push([r = &run, v] { r->execute(v); });
  std::unique_lock lock(run.mutex);
  run.finished.wait(lock, [&] { return run.done; });
}

}  // namespace taskloom::bench
