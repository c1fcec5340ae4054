// examples/01_render_shot.cpp — a render-farm shot as a task graph (the demo of scripts/demo.sh).
//
//   load_scene ─┬─> render_chunk_00 (frames 1-4) ─> composite_0001 .. composite_0004 ─┐
//               ├─> ...                                                               ├─> encode
//               ├─> render_chunk_11 (frames 45-48) ─> composite_0045 .. 0048 ─────────┘
//               └─> preview_0001, preview_0011, ... (every 10th frame, Priority::kHigh)
//
// Task bodies sleep for a few milliseconds to stand in for rendering. One chunk fails on its
// first attempt (a licence server hiccup) and succeeds on the retry. The run writes a Chrome
// trace to render_shot_trace.json in the current directory (open it in ui.perfetto.dev) and
// prints the report (totals, waves, the measured critical path, the slowest tasks), the retried
// chunk's attempts, and the speedup.
#include <chrono>
#include <cstdio>
#include <iostream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <taskloom/taskloom.hpp>

using namespace taskloom;
using namespace std::chrono_literals;

namespace {

constexpr int kFrames = 48;
constexpr int kChunkSize = 4;  // frames rendered by one task
constexpr int kPreviewEvery = 10;
constexpr auto kRenderPerFrame = 40ms;
constexpr auto kCompositePerFrame = 12ms;
constexpr auto kPreviewPerFrame = 30ms;

struct Frame {
  int number = 0;
  double mean_luma = 0;
};

std::string frame_id(const char* prefix, int frame) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%s_%04d", prefix, frame);
  return buffer;
}
std::string chunk_id(int chunk) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "render_chunk_%02d", chunk);
  return buffer;
}

double ms(Duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

}  // namespace

int main() {
  runtime::TaskGraph shot;

  shot.add("load_scene", [] {
    std::this_thread::sleep_for(60ms);
    return std::string("shot_010.usd");
  });

  constexpr int kChunks = kFrames / kChunkSize;
  for (int chunk = 0; chunk < kChunks; ++chunk) {
    const int first = 1 + chunk * kChunkSize;
    shot.add(chunk_id(chunk),
             [first, chunk](runtime::TaskContext& ctx) {
               if (chunk == 5 && ctx.attempt() == 1) {
                 throw std::runtime_error("licence server busy (simulated), frames " +
                                          std::to_string(first) + "-" +
                                          std::to_string(first + kChunkSize - 1));
               }
               std::vector<Frame> frames;
               for (int f = first; f < first + kChunkSize; ++f) {
                 std::this_thread::sleep_for(kRenderPerFrame);
                 frames.push_back({f, 0.5 + 0.01 * (f % 7)});
               }
               ctx.shared().update<int>("frames_rendered", [](int& n) { n += kChunkSize; });
               return frames;
             },
             {.after = {"load_scene"}, .retries = 2, .weight = double(kChunkSize)});

    for (int f = first; f < first + kChunkSize; ++f) {
      shot.add(frame_id("composite", f),
               [f, chunk](runtime::TaskContext& ctx) {
                 const auto& frames = ctx.result<std::vector<Frame>>(chunk_id(chunk));
                 std::this_thread::sleep_for(kCompositePerFrame);
                 Frame out = frames.at(f - frames.front().number);
                 out.mean_luma *= 0.9;  // the grade
                 return out;
               },
               {.after = {chunk_id(chunk)}, .weight = 0.5});
    }
  }

  // The preview pass: every 10th frame, rendered at high priority so that the supervisor sees
  // the shot early, ahead of the bulk of the chunks that become ready at the same moment.
  for (int f = 1; f <= kFrames; f += kPreviewEvery) {
    shot.add(frame_id("preview", f),
             [](runtime::TaskContext&) { std::this_thread::sleep_for(kPreviewPerFrame); },
             {.after = {"load_scene"}, .priority = Priority::kHigh, .weight = 1.0});
  }

  std::vector<std::string> composites;
  for (int f = 1; f <= kFrames; ++f) composites.push_back(frame_id("composite", f));
  shot.add("encode",
           [composites](runtime::TaskContext& ctx) {
             double luma = 0;
             for (const auto& id : composites) luma += ctx.result<Frame>(id).mean_luma;
             std::this_thread::sleep_for(100ms);
             char movie[96];
             std::snprintf(movie, sizeof movie, "shot_010.mov: %zu frames, mean luma %.3f",
                           composites.size(), luma / double(composites.size()));
             return std::string(movie);
           },
           {.after = composites, .weight = 4.0});

  const runtime::Plan plan = shot.plan();
  std::cout << "plan: " << plan.task_count << " tasks, " << plan.edge_count << " edges, "
            << plan.waves.size() << " waves, planned critical path of " << plan.critical_path.size()
            << " tasks (weight " << plan.critical_path_weight << ")\n\n";

  // Four workers whatever the machine: the tasks sleep, so they overlap even on one core.
  runtime::Executor executor(4);
  runtime::Run run = executor.run(shot, {.backoff = {.initial = 20ms}});
  const runtime::RunReport& report = run.report();

  std::cout << report.summary() << "\n";
  const runtime::TaskReport& retried = report.task(chunk_id(5));
  std::cout << retried.id << ": " << to_string(retried.status) << " after " << retried.attempts
            << " attempts\n";
  for (const runtime::AttemptRecord& attempt : retried.history) {
    std::printf("  attempt %u: %-9s %7.1f ms .. %7.1f ms  %s\n", attempt.number,
                std::string(to_string(attempt.status)).c_str(), ms(attempt.start), ms(attempt.end),
                attempt.error.c_str());
  }
  std::printf("preview_0001 started at %.1f ms, render_chunk_11 at %.1f ms\n",
              ms(report.task("preview_0001").start), ms(report.task(chunk_id(11)).start));
  std::cout << "frames rendered: " << run.shared().get<int>("frames_rendered").value_or(0) << "\n";
  if (report.ok()) std::cout << report.task("encode").result_as<std::string>() << "\n";
  std::printf("wall %.1f ms, sequential %.1f ms, speedup %.2fx on %u workers\n",
              ms(report.wall_time), ms(report.sequential_time), report.speedup(),
              executor.worker_count());

  report.write_chrome_trace("render_shot_trace.json");
  std::cout << "trace: render_shot_trace.json (open in ui.perfetto.dev)\n";
  return report.ok() ? 0 : 1;
}
