// WfCommons workflow instances (WfFormat 1.5) -> jobs with dependencies.
#include <algorithm>
#include <cmath>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "taskloom/cluster/workload.hpp"

#include "reader_support.hpp"

namespace taskloom::cluster {
namespace {

using detail::readers::report;
using detail::readers::seconds;
using json = nlohmann::json;

/// 1-based line and column of byte `offset` in `text`.
std::pair<int, int> line_column(std::string_view text, std::size_t offset) {
  offset = std::min(offset, text.size());
  int line = 1, column = 1;
  for (std::size_t i = 0; i < offset; ++i) {
    if (text[i] == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  return {line, column};
}

const json* find(const json& object, std::string_view key) {
  if (!object.is_object()) return nullptr;
  auto it = object.find(key);
  return it == object.end() ? nullptr : &*it;
}

struct TaskRecord {
  const json* spec = nullptr;
  const json* exec = nullptr;
};

}  // namespace

Workload read_wfcommons_string(std::string_view text, std::string_view source_name,
                               const WorkloadOptions& options) {
  Workload w;
  w.source = std::string(source_name);
  w.format = "wfcommons";
  json doc;
  try {
    doc = json::parse(text.begin(), text.end());
  } catch (const json::parse_error& e) {
    auto [line, column] = line_column(text, e.byte > 0 ? e.byte - 1 : 0);
    // nlohmann's text opens with "[json.exception.parse_error.101] parse error at line 1,
    // column 5: "; the position is ours already, the rest is what is wrong.
    std::string what = e.what();
    if (const auto colon = what.find(": ", what.find("column")); colon != std::string::npos) {
      what = what.substr(colon + 2);
    }
    throw InputError({{w.source, line, column, "this is not valid JSON: " + what,
                       "fix the JSON at this position (a WfCommons instance is one JSON object)"}});
  }
  auto fail = [&](std::string message, std::string fix = {}) {
    throw InputError({{w.source, 0, 0, std::move(message), std::move(fix)}});
  };
  const json* workflow = find(doc, "workflow");
  if (workflow == nullptr || !workflow->is_object()) {
    fail("no 'workflow' object",
         "a WfCommons instance (WfFormat 1.5) has workflow.specification"
         " and workflow.execution");
  }
  if (const json* v = find(doc, "schemaVersion"); v != nullptr && v->is_string()) {
    if (v->get<std::string>().rfind("1.", 0) != 0) {
      fail("schemaVersion " + v->get<std::string>() + " is not supported", "WfFormat 1.x");
    }
  }
  const json* spec = find(*workflow, "specification");
  const json* exec = find(*workflow, "execution");
  const json* spec_tasks = spec != nullptr ? find(*spec, "tasks") : nullptr;
  const json* exec_tasks = exec != nullptr ? find(*exec, "tasks") : nullptr;
  if (spec_tasks == nullptr || !spec_tasks->is_array() || exec_tasks == nullptr ||
      !exec_tasks->is_array()) {
    fail("workflow.specification.tasks and workflow.execution.tasks must be arrays",
         "this reader takes WfFormat 1.5 instances");
  }
  std::string workflow_name;
  if (const json* n = find(doc, "name"); n != nullptr && n->is_string()) workflow_name = *n;

  // Machines: `machines` (array, what instances hold) or `machine` (what the schema names).
  // A machine that does not say how much memory it has (BLAST's do not) has an unknown amount,
  // not none: tasks then ask for no memory, or none of them could run on these machines.
  std::string machine_without_memory;
  const json* machines = find(*exec, "machines");
  if (machines == nullptr) machines = find(*exec, "machine");
  if (machines != nullptr) {
    const json one = machines->is_object() ? json::array({*machines}) : json();
    const json& list = machines->is_object() ? one : *machines;
    if (list.is_array()) {
      for (const json& m : list) {
        const json* name = find(m, "nodeName");
        if (name == nullptr || !name->is_string()) continue;
        Node node;
        node.id = *name;
        double cores = 1;
        if (const json* cpu = find(m, "cpu")) {
          if (const json* c = find(*cpu, "coreCount"); c != nullptr && c->is_number()) {
            cores = c->get<double>();
          }
        }
        node.capacity.set("cpu", std::max(cores, 1.0));
        if (const json* mem = find(m, "memoryInBytes"); mem != nullptr && mem->is_number()) {
          node.capacity.set("memory", std::max(mem->get<double>(), 0.0));
        } else {
          if (machine_without_memory.empty()) machine_without_memory = node.id;
        }
        node.labels.push_back("host=" + node.id);
        w.machines.push_back(std::move(node));
      }
    }
  }

  if (!machine_without_memory.empty()) {
    report(w, options,
           {w.source, 0, 0,
            "machine '" + machine_without_memory +
                "' has no memoryInBytes: tasks are scheduled by cores alone",
            "give the machines memoryInBytes, or simulate on a cluster file"},
           false);
  }

  // Execution records by id.
  std::unordered_map<std::string, const json*> exec_by_id;
  for (const json& t : *exec_tasks) {
    const json* id = find(t, "id");
    if (id != nullptr && id->is_string()) exec_by_id.emplace(id->get<std::string>(), &t);
  }
  std::unordered_map<std::string, std::size_t> index;  // id -> position in spec_tasks
  std::vector<std::string> ids;
  for (const json& t : *spec_tasks) {
    const json* id = find(t, "id");
    if (id == nullptr) id = find(t, "name");
    ids.push_back(id != nullptr && id->is_string() ? id->get<std::string>() : std::string());
    if (!ids.back().empty()) index.emplace(ids.back(), ids.size() - 1);
  }

  // Each task in specification order; a task that is bad, or whose parent is missing or was
  // dropped, is dropped with a warning (kSkip) or stops the read (kStop). Parents may come after
  // their children in the file, so resolve in dependency order.
  const std::size_t n = spec_tasks->size();
  std::vector<int> state(n, 0);  // 0 unseen, 1 visiting, 2 kept, 3 dropped
  std::vector<Job> jobs(n);
  auto where = [&](std::size_t i) {
    return "task " + (ids[i].empty() ? "#" + std::to_string(i + 1) : "'" + ids[i] + "'");
  };
  auto drop = [&](std::size_t i, std::string message, std::string fix = {}) {
    state[i] = 3;
    ++w.malformed;
    report(w, options, {w.source, 0, 0, where(i) + ": " + message, std::move(fix)}, true);
  };
  std::function<bool(std::size_t)> visit = [&](std::size_t i) -> bool {
    if (state[i] == 2) return true;
    if (state[i] == 3) return false;
    if (state[i] == 1) {
      drop(i, "is its own ancestor (dependency cycle)");
      return false;
    }
    state[i] = 1;
    const json& t = (*spec_tasks)[i];
    if (ids[i].empty()) {
      drop(i, "has no id", "every task needs a string id");
      return false;
    }
    auto e = exec_by_id.find(ids[i]);
    if (e == exec_by_id.end()) {
      drop(i, "has no execution record", "workflow.execution.tasks needs one per task");
      return false;
    }
    const json& x = *e->second;
    const json* runtime = find(x, "runtimeInSeconds");
    if (runtime == nullptr || !runtime->is_number() || runtime->get<double>() < 0 ||
        runtime->get<double>() > 4e9) {
      drop(i, "runtimeInSeconds is missing, negative or out of range");
      return false;
    }
    Job job;
    job.id = ids[i];
    job.user = workflow_name;
    job.actual_runtime = seconds(runtime->get<double>());
    job.requested_runtime = job.actual_runtime;
    ++w.estimated_requested;
    double cores = 1;
    if (const json* c = find(x, "coreCount")) {
      if (!c->is_number() || c->get<double>() < 1 || c->get<double>() > 1e7) {
        drop(i, "coreCount must be a number from 1 to 1e7");
        return false;
      }
      cores = c->get<double>();
    }
    job.request.set("cpu", cores);
    if (const json* mem = find(x, "memoryInBytes");
        mem != nullptr && mem->is_number() && machine_without_memory.empty()) {
      job.request.set("memory", std::max(mem->get<double>(), 0.0));
    }
    if (const json* cmd = find(x, "command")) {
      if (const json* p = find(*cmd, "program"); p != nullptr && p->is_string()) {
        job.application = *p;
      }
    }
    if (const json* parents = find(t, "parents")) {
      if (!parents->is_array()) {
        drop(i, "parents must be an array of task ids");
        return false;
      }
      for (const json& p : *parents) {
        auto it = p.is_string() ? index.find(p.get<std::string>()) : index.end();
        if (it == index.end()) {
          drop(i, "parent " + p.dump() + " is not a task of this workflow");
          return false;
        }
        if (!visit(it->second)) {
          if (state[i] != 3) drop(i, "depends on dropped " + where(it->second));
          return false;
        }
        job.after.push_back(p.get<std::string>());
      }
    }
    jobs[i] = std::move(job);
    state[i] = 2;
    return true;
  };
  for (std::size_t i = 0; i < n; ++i) {
    ++w.records;
    visit(i);
  }
  for (std::size_t i = 0; i < n; ++i) {
    if (state[i] == 2) w.jobs.push_back(std::move(jobs[i]));
  }
  return w;
}

Workload read_wfcommons(const std::filesystem::path& file, const WorkloadOptions& options) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    throw InputError({{file.string(), 0, 0, "cannot open the workflow file", "check the path"}});
  }
  std::ostringstream text;
  text << in.rdbuf();
  return read_wfcommons_string(text.str(), file.string(), options);
}

}  // namespace taskloom::cluster
