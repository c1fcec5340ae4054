// apps/taskloom/gantt_svg.hpp — `taskloom simulate --gantt out.svg`: a schedule as an SVG chart.
//
// The chart has two panels sharing one time axis: on top the share of the cluster's cpus in
// use over time (a step line), below it one lane per node with a bar per job from its start to
// its end (hover a bar for the job's id, user, cpus and times). Within a node's lane a bar has
// the height of the job's share of the node's cpus, so jobs sharing a node lie side by side;
// bars are coloured by user, with a legend. Lane labels are thinned out to stay legible on
// large clusters. Lanes are drawn for up to kMaxLanes nodes; above that only the utilisation
// panel is drawn.
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>
#include <ostream>
#include <string>
#include <unordered_map>
#include <vector>

#include "taskloom/cluster/model.hpp"
#include "taskloom/cluster/simulator.hpp"

namespace taskloom::cli {

inline constexpr std::size_t kMaxLanes = 2000;

inline void write_gantt_svg(std::ostream& out, const std::string& title,
                            const std::vector<cluster::Node>& nodes,
                            const std::vector<cluster::Job>& jobs,
                            const std::vector<cluster::JobRecord>& records) {
  using cluster::JobRecord;
  auto secs = [](Duration d) { return std::chrono::duration<double>(d).count(); };
  double t0 = INFINITY, t1 = -INFINITY;
  for (const JobRecord& r : records) {
    if (!r.start || !r.end) continue;
    t0 = std::min(t0, secs(*r.start));
    t1 = std::max(t1, secs(*r.end));
  }
  if (!(t1 > t0)) {
    t0 = 0;
    t1 = 1;
  }
  const bool lanes = nodes.size() <= kMaxLanes;
  const double left = 90, right = 20, plot_w = 1200, util_h = 120, top = 40;
  const double lane_h =
      lanes ? std::clamp(600.0 / std::max<std::size_t>(nodes.size(), 1), 1.0, 14.0) : 0;
  const double lanes_top = top + util_h + 30;
  const double height = lanes_top + lane_h * (lanes ? nodes.size() : 0) + 40;
  const double legend_h = lanes ? 35 : 0;
  auto x = [&](double t) { return left + (t - t0) / (t1 - t0) * plot_w; };
  char buf[256];
  auto num = [&](double v) {
    std::snprintf(buf, sizeof buf, "%.1f", v);
    return std::string(buf);
  };
  auto escape = [](const std::string& s) {
    std::string e;
    for (char c : s) {
      if (c == '<') {
        e += "&lt;";
      } else if (c == '>') {
        e += "&gt;";
      } else if (c == '&') {
        e += "&amp;";
      } else if (c == '"') {
        e += "&quot;";
      } else {
        e += c;
      }
    }
    return e;
  };
  out << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << num(left + plot_w + right)
      << "\" height=\"" << num(height + legend_h)
      << "\" font-family=\"sans-serif\" font-size=\"11\">\n";
  out << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  out << "<text x=\"" << num(left) << "\" y=\"20\" font-size=\"14\">" << escape(title)
      << "</text>\n";

  // Time axis: at most ten ticks from the first start, in s, min, h or d by the span.
  const double span = t1 - t0;
  const double unit = span > 72 * 3600 ? 86400 : span > 3 * 3600 ? 3600 : span > 300 ? 60 : 1;
  const char* unit_name = unit == 86400 ? " d" : unit == 3600 ? " h" : unit == 60 ? " min" : " s";
  const double raw = std::max(span / unit / 10, 1e-6);  // at most ten ticks
  const double decade = std::pow(10, std::floor(std::log10(raw)));
  double step = decade * 10;
  for (double m : {1.0, 2.0, 5.0}) {
    if (decade * m >= raw) {
      step = decade * m;
      break;
    }
  }
  const double axis_y = height - 25;
  for (double v = 0; v * unit <= span + 1e-9; v += step) {
    const double px = x(t0 + v * unit);
    out << "<line x1=\"" << num(px) << "\" y1=\"" << num(top) << "\" x2=\"" << num(px) << "\" y2=\""
        << num(axis_y) << "\" stroke=\"#ddd\"/>\n";
    char label[32];
    std::snprintf(label, sizeof label, "%g%s", v, unit_name);
    out << "<text x=\"" << num(px) << "\" y=\"" << num(axis_y + 15) << "\" text-anchor=\"middle\">"
        << label << "</text>\n";
  }

  // Utilisation: cpus in use / cluster cpus, from the records' start and end.
  std::unordered_map<std::string, const cluster::Job*> job_by_id;
  for (const cluster::Job& j : jobs) job_by_id.emplace(j.id, &j);
  double total_cpus = 0;
  for (const cluster::Node& n : nodes) total_cpus += n.capacity.get("cpu");
  std::map<double, double> delta;
  for (const JobRecord& r : records) {
    if (!r.start || !r.end) continue;
    auto it = job_by_id.find(r.id);
    const double cpus = it == job_by_id.end()
                            ? 0
                            : it->second->request.get("cpu") * static_cast<double>(r.nodes.size());
    delta[secs(*r.start)] += cpus;
    delta[secs(*r.end)] -= cpus;
  }
  out << "<text x=\"" << num(left - 8) << "\" y=\"" << num(top + 10)
      << "\" text-anchor=\"end\">100%</text>\n";
  out << "<text x=\"" << num(left - 8) << "\" y=\"" << num(top + util_h)
      << "\" text-anchor=\"end\">cpus 0%</text>\n";
  out << "<rect x=\"" << num(left) << "\" y=\"" << num(top) << "\" width=\"" << num(plot_w)
      << "\" height=\"" << num(util_h) << "\" fill=\"none\" stroke=\"#999\"/>\n";
  out << "<path fill=\"none\" stroke=\"#1f77b4\" d=\"M" << num(x(t0)) << ' ' << num(top + util_h);
  double in_use = 0;
  for (const auto& [t, d] : delta) {
    const double y_before = top + util_h - util_h * std::clamp(in_use / total_cpus, 0.0, 1.0);
    in_use += d;
    const double y_after = top + util_h - util_h * std::clamp(in_use / total_cpus, 0.0, 1.0);
    out << " L" << num(x(t)) << ' ' << num(y_before) << " L" << num(x(t)) << ' ' << num(y_after);
  }
  out << "\"/>\n";

  if (lanes) {
    std::unordered_map<std::string, std::size_t> lane;
    for (std::size_t i = 0; i < nodes.size(); ++i) lane.emplace(nodes[i].id, i);
    // Lane labels at least 10 px apart: every lane when they are tall enough, else every k-th
    // (the first lane of each group of k).
    const std::size_t every = static_cast<std::size_t>(std::ceil(10.0 / lane_h));
    for (std::size_t i = 0; i < nodes.size(); i += every) {
      out << "<text x=\"" << num(left - 4) << "\" y=\""
          << num(lanes_top + lane_h * static_cast<double>(i) + std::min(lane_h, 10.0) * 0.9)
          << "\" text-anchor=\"end\" font-size=\""
          << num(std::clamp(lane_h * static_cast<double>(every), 6.0, 11.0)) << "\">"
          << escape(nodes[i].id) << "</text>\n";
    }
    out << "<rect x=\"" << num(left) << "\" y=\"" << num(lanes_top) << "\" width=\"" << num(plot_w)
        << "\" height=\"" << num(lane_h * static_cast<double>(nodes.size()))
        << "\" fill=\"none\" stroke=\"#999\"/>\n";
    // Colours by user (the first kLegend users by cpu-seconds named in the legend, the others
    // grey). Within a node's lane a job's bar has the height of its share of the node's cpus,
    // at the lowest cpus free over its run, so jobs that share a node are side by side, not on
    // top of each other.
    constexpr std::size_t kLegend = 10;
    std::map<std::string, double> user_use;
    for (const JobRecord& r : records) {
      if (!r.start || !r.end) continue;
      auto it = job_by_id.find(r.id);
      const double cpus = it == job_by_id.end() ? 1 : it->second->request.get("cpu");
      user_use[r.user] += cpus * static_cast<double>(r.nodes.size()) * secs(*r.end - *r.start);
    }
    std::vector<std::pair<double, std::string>> by_use;
    for (const auto& [u, use] : user_use) by_use.emplace_back(-use, u);
    std::sort(by_use.begin(), by_use.end());
    std::unordered_map<std::string, std::string> colour;
    for (std::size_t i = 0; i < by_use.size() && i < kLegend; ++i) {
      colour[by_use[i].second] =
          "hsl(" + std::to_string(i * 360 / kLegend) + ",65%," + (i % 2 ? "45%" : "65%") + ")";
    }
    auto colour_of = [&](const std::string& user) {
      auto it = colour.find(user);
      return it == colour.end() ? std::string("#bbb") : it->second;
    };
    std::vector<const JobRecord*> ran;
    for (const JobRecord& r : records) {
      if (r.start && r.end) ran.push_back(&r);
    }
    std::stable_sort(ran.begin(), ran.end(),
                     [](const JobRecord* a, const JobRecord* b) { return *a->start < *b->start; });
    struct Slot {
      Duration end;
      double from, to;  // cpus of the node it holds
    };
    std::vector<std::vector<Slot>> busy(nodes.size());
    for (const JobRecord* r : ran) {
      auto it = job_by_id.find(r->id);
      const double cpus = it == job_by_id.end() ? 0 : it->second->request.get("cpu");
      for (const auto& n : r->nodes) {
        auto li = lane.find(n);
        if (li == lane.end()) continue;
        const std::size_t i = li->second;
        const double cap = std::max(nodes[i].capacity.get("cpu"), 1.0);
        auto& slots = busy[i];
        std::erase_if(slots, [&](const Slot& sl) { return sl.end <= *r->start; });
        std::sort(slots.begin(), slots.end(),
                  [](const Slot& a, const Slot& b) { return a.from < b.from; });
        double from = 0;
        for (const Slot& sl : slots) {
          if (sl.from >= from + cpus - 1e-9) break;
          from = std::max(from, sl.to);
        }
        if (from + cpus > cap + 1e-9) from = std::max(cap - cpus, 0.0);  // never: cannot overbook
        slots.push_back({*r->end, from, from + cpus});
        const double x0 = x(secs(*r->start)), x1 = x(secs(*r->end));
        const double y0 = lanes_top + lane_h * (static_cast<double>(i) + from / cap);
        out << "<rect x=\"" << num(x0) << "\" y=\"" << num(y0) << "\" width=\""
            << num(std::max(x1 - x0, 0.5)) << "\" height=\""
            << num(std::max(lane_h * std::min(cpus, cap) / cap, 0.3)) << "\" fill=\""
            << colour_of(r->user) << "\" stroke=\"white\" stroke-width=\"0.2\"><title>"
            << escape(r->id) << " (" << escape(r->user) << ", " << num(cpus) << " cpus on "
            << escape(n) << ") " << num(secs(*r->start)) << "-" << num(secs(*r->end))
            << " s</title></rect>\n";
      }
    }
    // Legend, under the time axis.
    double lx = left;
    const double ly = height + 5;
    out << "<text x=\"" << num(lx) << "\" y=\"" << num(ly + 9)
        << "\">lanes: one per node; a bar: a job, its height its share of the node's cpus;"
           " colour: user</text>\n";
    lx = left;
    for (std::size_t i = 0; i < by_use.size() && i < kLegend; ++i) {
      const std::string& u = by_use[i].second;
      out << "<rect x=\"" << num(lx) << "\" y=\"" << num(ly + 16) << "\" width=\"10\" height=\"10\""
          << " fill=\"" << colour_of(u) << "\"/><text x=\"" << num(lx + 13) << "\" y=\""
          << num(ly + 25) << "\">" << escape(u.empty() ? "(no user)" : u) << "</text>\n";
      lx += 20 + 7.0 * static_cast<double>(std::min<std::size_t>(u.size() + 1, 16));
    }
    if (by_use.size() > kLegend) {
      out << "<rect x=\"" << num(lx) << "\" y=\"" << num(ly + 16)
          << "\" width=\"10\" height=\"10\" fill=\"#bbb\"/><text x=\"" << num(lx + 13) << "\" y=\""
          << num(ly + 25) << "\">" << (by_use.size() - kLegend) << " other users</text>\n";
    }
  }
  out << "</svg>\n";
}

}  // namespace taskloom::cli
