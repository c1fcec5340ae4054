// Internal: TASKLOOM_ASSERT(condition, message) — a broken internal invariant aborts a debug
// build (no NDEBUG, as in the asan and tsan presets) with the file, line and message; in a
// release build it compiles to nothing and the condition is not evaluated.
#pragma once

#include <cstdio>
#include <cstdlib>

#ifdef NDEBUG
#define TASKLOOM_ASSERT(condition, message) static_cast<void>(0)
#else
#define TASKLOOM_ASSERT(condition, message)                                                     \
  ((condition) ? static_cast<void>(0)                                                           \
               : (std::fprintf(stderr, "%s:%d: taskloom invariant broken: %s (%s)\n", __FILE__, \
                               __LINE__, message, #condition),                                  \
                  std::abort()))
#endif
