// taskloom/taskloom.hpp — everything public, in one include.
#pragma once

#include "taskloom/core/clock.hpp"
#include "taskloom/core/error.hpp"
#include "taskloom/core/priority.hpp"
#include "taskloom/core/resources.hpp"
#include "taskloom/core/status.hpp"
#include "taskloom/core/text.hpp"
#include "taskloom/graph/algorithms.hpp"
#include "taskloom/graph/digraph.hpp"
#include "taskloom/graph/dot.hpp"
#include "taskloom/runtime/executor.hpp"
#include "taskloom/runtime/future.hpp"
#include "taskloom/runtime/report.hpp"
#include "taskloom/runtime/run.hpp"
#include "taskloom/runtime/shared_state.hpp"
#include "taskloom/runtime/task_context.hpp"
#include "taskloom/runtime/task_graph.hpp"
