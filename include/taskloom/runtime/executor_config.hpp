// taskloom/runtime/executor_config.hpp — ExecutorOptions from a YAML or JSON file, for
// applications that configure pools, classes and resources outside their code.
//
//   runtime::Executor executor(runtime::load_executor_options("executor.yaml"));
//
// executor.yaml (every key optional; JSON with the same keys reads the same):
//   pools:                                  # or `workers: 6` for one pool that runs anything
//     - {name: interactive, workers: 2, min_priority: interactive}
//     - {name: general, workers: 4}
//   classes:
//     - {name: ui, priority: 800, queue_capacity: 64}
//   resources: {gpu: 2, memory: 64GiB, license.arnold: 4}
//   aging_interval: 16
//   preemption: true
//   yield_grace: 200us
//   max_interruptions: 8
//   caller_helps: true
//   spin_before_sleep: 50us
//   thread_name: render
// Keys are ExecutorOptions' fields. A priority is a number or a class name (built in, or one
// of `classes`); a duration is "200us", "5ms", "1s" (units::parse_duration); a resource amount
// a number, or a size such as "64GiB" (units::parse_size). The clock and the worker_resource
// factory are code, not configuration: set them on the result.
// Errors: InputError listing every problem at once, each with file:line:column and the fix
// (an unknown key names the closest known one). Options the Executor itself rejects (no pool
// that runs anything...) are its InvalidArgumentError, as in code. Pure: any thread.
#pragma once

#include <filesystem>
#include <string_view>

#include "taskloom/runtime/executor.hpp"

namespace taskloom::runtime {

/// Parses a YAML (or JSON) document; `file` names it in diagnostics.
ExecutorOptions parse_executor_options(std::string_view text,
                                       std::string_view file = "<executor options>");
/// Reads `path` and parses it; an unreadable file is an InputError too.
ExecutorOptions load_executor_options(const std::filesystem::path& path);

}  // namespace taskloom::runtime
