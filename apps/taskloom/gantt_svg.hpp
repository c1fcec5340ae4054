// apps/taskloom/gantt_svg.hpp — `taskloom simulate --gantt out.svg`: a schedule as an SVG chart.
//
// The chart has two panels sharing one time axis: on top the share of the cluster's cpus in
// use over time (a step line), below it one lane per node with a bar per job from its start to
// its end (hover a bar for the job's id and times). A job on several adjacent nodes is one bar
// across their lanes. Lanes are drawn for up to kMaxLanes nodes; above that only the
// utilisation panel is drawn.
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
      << "\" height=\"" << num(height) << "\" font-family=\"sans-serif\" font-size=\"11\">\n";
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
    if (lane_h >= 8) {
      for (std::size_t i = 0; i < nodes.size(); ++i) {
        out << "<text x=\"" << num(left - 4) << "\" y=\""
            << num(lanes_top + lane_h * (static_cast<double>(i) + 0.8))
            << "\" text-anchor=\"end\" font-size=\"" << num(std::min(lane_h, 11.0)) << "\">"
            << escape(nodes[i].id) << "</text>\n";
      }
    }
    out << "<rect x=\"" << num(left) << "\" y=\"" << num(lanes_top) << "\" width=\"" << num(plot_w)
        << "\" height=\"" << num(lane_h * static_cast<double>(nodes.size()))
        << "\" fill=\"none\" stroke=\"#999\"/>\n";
    for (const JobRecord& r : records) {
      if (!r.start || !r.end) continue;
      std::vector<std::size_t> idx;
      for (const auto& n : r.nodes) {
        if (auto it = lane.find(n); it != lane.end()) idx.push_back(it->second);
      }
      std::sort(idx.begin(), idx.end());
      const std::size_t hue = std::hash<std::string>{}(r.id) % 360;
      for (std::size_t a = 0; a < idx.size();) {
        std::size_t b = a + 1;
        while (b < idx.size() && idx[b] == idx[b - 1] + 1) ++b;
        const double x0 = x(secs(*r.start)), x1 = x(secs(*r.end));
        out << "<rect x=\"" << num(x0) << "\" y=\""
            << num(lanes_top + lane_h * static_cast<double>(idx[a])) << "\" width=\""
            << num(std::max(x1 - x0, 0.5)) << "\" height=\""
            << num(lane_h * static_cast<double>(b - a)) << "\" fill=\"hsl(" << hue
            << ",60%,60%)\" stroke=\"white\" stroke-width=\"0.2\"><title>" << escape(r.id) << ' '
            << num(secs(*r.start)) << "-" << num(secs(*r.end)) << " s</title></rect>\n";
        a = b;
      }
    }
  }
  out << "</svg>\n";
}

}  // namespace taskloom::cli
