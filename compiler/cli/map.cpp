// cnpc map: the allowed-communication graph between workloads (from the
// policies, via ir/reach), the observed graph (from Hubble jsonpb flows), or
// the first with the second marked on it. DOT, JSON, or SVG through Graphviz.
#include <fcntl.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "cli.h"
#include "cnpc/ir/reach.h"

namespace cnpc::cli {

using json = nlohmann::ordered_json;

namespace {

// ------------------------------------------------------------------ graph

struct MapNode {
  std::string id;    // stable: "ns/workload", "entity:host", "node:n1", "world", "world 10.0.0.0/8"
  std::string kind;  // pod workload node entity world
  std::string ns;
  std::string label;  // what the box says
  ir::LabelSet labels;
  std::vector<std::string> members;
  std::vector<ir::AddrRange> addresses;  // world nodes from policies
};

struct MapEdge {
  bool allowed = false;  // by the policies
  std::vector<std::string> ports, l7;  // allowed (policy) ranges and L7 rules
  std::vector<std::string> rules;      // file:line of the allow rules
  bool observed = false;
  std::set<std::pair<std::string, uint32_t>> seen_ports;  // (proto, port or type)
  std::set<std::string> seen_l7;
  size_t flows = 0;
  size_t not_allowed = 0;  // observed flows the policies would not forward
};

struct Graph {
  std::map<std::string, MapNode> nodes;
  std::map<std::pair<std::string, std::string>, MapEdge> edges;
};

void add_unique(std::vector<std::string>& v, const std::string& s) {
  if (std::find(v.begin(), v.end(), s) == v.end()) v.push_back(s);
}

std::string join(const std::vector<std::string>& v, const std::string& sep) {
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) out += (i ? sep : "") + v[i];
  return out;
}

bool is_pod_kind(ir::ReachEntry::Kind k) {
  return k == ir::ReachEntry::Kind::Pod || k == ir::ReachEntry::Kind::Workload;
}

// Pods and workloads grouped by namespace and identity: the map's boxes.
struct PodGroups {
  std::map<std::string, std::vector<ir::EndpointId>> members;  // node id -> endpoints
  std::map<ir::EndpointId, std::string> node_of;
};

PodGroups pod_groups(const ir::Evaluator& ev) {
  const auto& eps = ev.endpoints();
  std::map<std::pair<std::string, ir::LabelSet>, std::vector<ir::EndpointId>> by_identity;
  for (ir::EndpointId id = 0; id < eps.size(); ++id) {
    const auto& e = eps[id];
    if (e.namespace_.empty() || e.workload == "Node") continue;  // pods and workloads only
    by_identity[{e.namespace_, e.labels}].push_back(id);
  }
  PodGroups out;
  for (const auto& [key, members] : by_identity) {
    std::string id = ir::peer_group_name(ev, members);
    // Two identities with the same derived name stay two boxes.
    for (int n = 2; out.members.count(id); ++n) id = ir::peer_group_name(ev, members) + " #" + std::to_string(n);
    out.members[id] = members;
    for (auto m : members) out.node_of[m] = id;
  }
  return out;
}

MapNode pod_node(const ir::Evaluator& ev, const std::string& id, const std::vector<ir::EndpointId>& members) {
  const auto& first = ev.endpoints()[members.front()];
  MapNode n;
  n.id = id;
  n.kind = first.workload.empty() ? "pod" : "workload";
  n.ns = first.namespace_;
  n.labels = first.labels;
  for (auto m : members) n.members.push_back(ev.endpoints()[m].display());
  std::string name = id.substr(id.find('/') + 1);
  n.label = members.size() > 1 ? name + " (" + std::to_string(members.size()) + " pods)" : name;
  return n;
}

std::string node_id(const ir::ReachEntry& e, const PodGroups& groups) {
  if (is_pod_kind(e.kind)) return groups.node_of.at(e.members.front());
  return e.name;
}

void ensure_node(Graph& g, const ir::Evaluator& ev, const ir::ReachEntry& e, const std::string& id) {
  if (g.nodes.count(id)) return;
  MapNode n;
  n.id = id;
  n.kind = to_string(e.kind);
  n.labels = e.labels;
  for (auto m : e.members) n.members.push_back(ev.endpoints()[m].display());
  n.addresses = e.addresses;
  n.label = id.rfind("entity:", 0) == 0 ? id.substr(7) : id;
  if (e.kind == ir::ReachEntry::Kind::World && !e.fqdns.empty()) {
    n.label += " (";
    for (size_t i = 0; i < e.fqdns.size(); ++i) n.label += (i ? ", " : "") + e.fqdns[i];
    n.label += ")";
  }
  g.nodes[id] = std::move(n);
}

void add_policy_edge(Graph& g, const ir::Evaluator& ev, const std::string& from, const std::string& to,
                     const ir::ReachEntry& e) {
  MapEdge& edge = g.edges[{from, to}];
  edge.allowed = true;
  for (const auto& s : ir::summarize(e.allowed)) {
    add_unique(edge.ports, s.text());
    for (const auto& l : s.l7) add_unique(edge.l7, l);
  }
  for (ir::RuleId r : e.rules) {
    const auto& loc = ev.policies().rules[r].origin.loc;
    add_unique(edge.rules, loc.file + ":" + std::to_string(loc.line));
  }
}

// The policy graph: reachable_from every pod group (one call per identity
// class in the group: named ports can split a group), plus who_can_reach
// for the non-pod sources (world, entities, nodes).
void build_policy_graph(Graph& g, const ir::Evaluator& ev, const PodGroups& groups) {
  for (const auto& [id, members] : groups.members) g.nodes[id] = pod_node(ev, id, members);
  ir::ReachFilter non_pods;
  non_pods.pods = false;
  for (const auto& [id, members] : groups.members) {
    std::set<uint32_t> classes;
    for (auto m : members) {
      if (!classes.insert(ev.class_of(m)).second) continue;
      for (const auto& e : ir::reachable_from(ev, m)) {
        std::string to = node_id(e, groups);
        ensure_node(g, ev, e, to);
        add_policy_edge(g, ev, id, to, e);
      }
      for (const auto& e : ir::who_can_reach(ev, m, non_pods)) {
        // The node reaching its own pods is allow-localhost's design, not
        // policy; drawing it to every box would hide the graph.
        if (e.via_localhost) continue;
        std::string from = node_id(e, groups);
        ensure_node(g, ev, e, from);
        add_policy_edge(g, ev, from, id, e);
      }
    }
  }
}

// --------------------------------------------------------------- observed

struct FlowsError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

std::string str(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

bool has_label(const json& ep, const std::string& label) {
  auto it = ep.find("labels");
  if (it == ep.end() || !it->is_array()) return false;
  for (const auto& l : *it)
    if (l.is_string() && l.get<std::string>() == label) return true;
  return false;
}

std::string label_value(const json& ep, const std::string& key) {
  auto it = ep.find("labels");
  if (it == ep.end() || !it->is_array()) return {};
  for (const auto& l : *it)
    if (l.is_string()) {
      std::string s = l.get<std::string>();
      if (s.rfind(key + "=", 0) == 0) return s.substr(key.size() + 1);
    }
  return {};
}

struct Resolved {
  std::string id;
  std::optional<ir::EndpointId> endpoint;
  std::optional<ir::IpAddr> ip;  // world
};

class ObservedResolver {
 public:
  ObservedResolver(Graph& g, const ir::Evaluator& ev, const PodGroups& groups, bool policy_graph)
      : g_(g), ev_(ev), groups_(groups), policy_graph_(policy_graph) {}

  Resolved resolve(const json& ep, const std::string& ip_text, const std::string& other_id) {
    Resolved r;
    auto ip = ir::IpAddr::parse(ip_text);
    static const char* kReserved[] = {"host", "remote-node", "kube-apiserver", "health",
                                      "init", "unmanaged", "ingress"};
    for (const char* name : kReserved)
      if (has_label(ep, std::string("reserved:") + name)) {
        r.id = std::string("entity:") + name;
        r.endpoint = ev_.resolve(r.id, nullptr);
        add_simple(r.id, "entity", name);
        return r;
      }
    const std::string ns = str(ep, "namespace"), pod = str(ep, "pod_name");
    if (!ns.empty() && !pod.empty()) {
      if (auto id = ev_.resolve(ns + "/" + pod, nullptr); id && groups_.node_of.count(*id)) {
        r.id = groups_.node_of.at(*id);
        r.endpoint = id;
        if (!g_.nodes.count(r.id)) g_.nodes[r.id] = pod_node(ev_, r.id, groups_.members.at(r.id));
        return r;
      }
      // Not in the inventory: name the box after the workload.
      std::string workload;
      if (auto w = ep.find("workloads"); w != ep.end() && w->is_array() && !w->empty())
        workload = str((*w)[0], "name");
      for (const char* key : {"k8s:app.kubernetes.io/name", "k8s:app", "k8s:k8s-app"})
        if (workload.empty()) workload = label_value(ep, key);
      if (workload.empty()) workload = ir::workload_base_name(pod);
      r.id = ns + "/" + workload;
      auto& n = g_.nodes[r.id];
      if (n.id.empty()) {
        n.id = r.id;
        n.kind = "pod";
        n.ns = ns;
        n.label = workload;
      }
      add_unique(n.members, ns + "/" + pod);
      return r;
    }
    // An address only: a known pod, else world.
    if (ip) {
      if (auto id = ev_.find_by_ip(*ip); id && groups_.node_of.count(*id)) {
        r.id = groups_.node_of.at(*id);
        r.endpoint = id;
        if (!g_.nodes.count(r.id)) g_.nodes[r.id] = pod_node(ev_, r.id, groups_.members.at(r.id));
        return r;
      }
    }
    r.endpoint = ev_.world();
    r.ip = ip;
    r.id = world_node(ip, other_id);
    return r;
  }

 private:
  void add_simple(const std::string& id, const std::string& kind, const std::string& label) {
    auto& n = g_.nodes[id];
    if (!n.id.empty()) return;
    n.id = id;
    n.kind = kind;
    n.label = label;
  }

  // A world address joins the policy's world box that contains it (one
  // linked to the other end first), else the plain "world" box.
  std::string world_node(const std::optional<ir::IpAddr>& ip, const std::string& other_id) {
    if (ip && policy_graph_) {
      std::string fallback;
      for (const auto& [id, n] : g_.nodes) {
        if (n.kind != "world") continue;
        bool inside = std::any_of(n.addresses.begin(), n.addresses.end(), [&](const ir::AddrRange& a) {
          return a.first.v6 == ip->v6 && !(*ip < a.first) && !(a.last < *ip);
        });
        if (!inside) continue;
        if (g_.edges.count({id, other_id}) || g_.edges.count({other_id, id})) return id;
        if (fallback.empty()) fallback = id;
      }
      if (!fallback.empty()) return fallback;
    }
    add_simple("world", "world", "world");
    return "world";
  }

  Graph& g_;
  const ir::Evaluator& ev_;
  const PodGroups& groups_;
  bool policy_graph_;
};

std::string url_path(const std::string& url) {
  auto scheme = url.find("://");
  if (scheme == std::string::npos) return url.empty() ? "/" : url;
  auto slash = url.find('/', scheme + 3);
  return slash == std::string::npos ? "/" : url.substr(slash);
}

// Reads Hubble jsonpb lines ({"flow": {...}}) or a JSON array of them.
std::vector<json> read_flows(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw FlowsError(path + ": error: cannot read");
  std::stringstream buf;
  buf << in.rdbuf();
  const std::string text = buf.str();
  std::vector<json> out;
  const auto start = text.find_first_not_of(" \t\r\n");
  if (start != std::string::npos && text[start] == '[') {
    try {
      for (auto& f : json::parse(text)) out.push_back(std::move(f));
    } catch (const json::exception& e) {
      throw FlowsError(path + ": error: not JSON: " + e.what());
    }
    return out;
  }
  std::istringstream lines(text);
  std::string line;
  for (int n = 1; std::getline(lines, line); ++n) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    try {
      out.push_back(json::parse(line));
    } catch (const json::exception& e) {
      throw FlowsError(path + ":" + std::to_string(n) + ": error: not a JSON flow: " + e.what());
    }
  }
  return out;
}

void add_observed(Graph& g, const ir::Evaluator& ev, const PodGroups& groups, bool policy_graph,
                  const std::vector<json>& flows) {
  ObservedResolver resolver(g, ev, groups, policy_graph);
  for (const auto& line : flows) {
    if (!line.is_object()) continue;
    const json& f = line.contains("flow") ? line["flow"] : line;
    if (!f.is_object()) continue;
    // Forwarded traffic only (audit mode forwards too); replies and L7
    // responses run backwards and would draw reverse edges.
    const std::string verdict = str(f, "verdict");
    if (verdict != "FORWARDED" && verdict != "AUDIT") continue;
    if (auto r = f.find("is_reply"); r != f.end() && r->is_boolean() && r->get<bool>()) continue;
    const json empty = json::object();
    const json& l7 = f.contains("l7") && f["l7"].is_object() ? f["l7"] : empty;
    if (str(l7, "type") == "RESPONSE") continue;
    const json& ipj = f.contains("IP") && f["IP"].is_object() ? f["IP"] : empty;
    const json& srcj = f.contains("source") && f["source"].is_object() ? f["source"] : empty;
    const json& dstj = f.contains("destination") && f["destination"].is_object() ? f["destination"] : empty;

    Resolved dst = resolver.resolve(dstj, str(ipj, "destination"), "");
    Resolved src = resolver.resolve(srcj, str(ipj, "source"), dst.id);
    if (dst.ip) dst.id = resolver.resolve(dstj, str(ipj, "destination"), src.id).id;

    ir::Flow flow;
    bool have_l4 = false;
    std::string proto_name;
    uint32_t port = 0;
    if (auto l4 = f.find("l4"); l4 != f.end() && l4->is_object()) {
      for (const char* p : {"TCP", "UDP", "SCTP"})
        if (auto it = l4->find(p); it != l4->end() && it->is_object()) {
          proto_name = p;
          port = it->value("destination_port", 0u);
          flow.proto = *ir::parse_proto(p);
          flow.port = uint16_t(port);
          have_l4 = true;
        }
      for (const char* p : {"ICMPv4", "ICMPv6"})
        if (auto it = l4->find(p); it != l4->end() && it->is_object()) {
          proto_name = p == std::string("ICMPv4") ? "ICMP" : "ICMPv6";
          port = it->value("type", 0u);
          flow.proto = proto_name == "ICMP" ? ir::Proto::ICMP : ir::Proto::ICMPv6;
          flow.icmp_type = uint8_t(port);
          have_l4 = true;
        }
    }
    flow.ip_proto = uint8_t(flow.proto);

    MapEdge& edge = g.edges[{src.id, dst.id}];
    edge.observed = true;
    ++edge.flows;
    if (have_l4) edge.seen_ports.insert({proto_name, port});
    std::optional<ir::L7Request> request;
    if (auto http = l7.find("http"); http != l7.end() && http->is_object()) {
      std::string method = str(*http, "method"), path = url_path(str(*http, "url"));
      edge.seen_l7.insert("HTTP " + (method.empty() ? "?" : method) + " " + path);
      ir::L7Request req;
      req.kind = ir::L7Kind::Http;
      req.http.method = method;
      req.http.path = path;
      request = req;
    } else if (auto dns = l7.find("dns"); dns != l7.end() && dns->is_object()) {
      std::string q = str(*dns, "query");
      if (!q.empty() && q.back() == '.') q.pop_back();
      edge.seen_l7.insert("DNS " + q);
      ir::L7Request req;
      req.kind = ir::L7Kind::Dns;
      req.dns_name = q;
      request = req;
    }
    // With policies: would they forward this very flow (and request)?
    if (policy_graph && have_l4 && src.endpoint && dst.endpoint) {
      flow.src = *src.endpoint;
      flow.dst = *dst.endpoint;
      flow.src_ip = src.ip;
      flow.dst_ip = dst.ip;
      flow.l7 = request;
      const ir::Decision d = ev.decide(flow);
      if (d.verdict != ir::Verdict::Allowed || d.l7_verdict == ir::Verdict::Denied) ++edge.not_allowed;
    }
  }
}

// "TCP 8080, 8443-8444" per protocol, from the observed (proto, port) pairs.
std::vector<std::string> seen_ports_text(const MapEdge& e) {
  std::vector<std::string> out;
  std::map<std::string, std::vector<uint32_t>> by_proto;
  for (const auto& [p, n] : e.seen_ports) by_proto[p].push_back(n);
  for (const auto& [p, ports] : by_proto) {
    const bool icmp = p == "ICMP" || p == "ICMPv6";
    std::string ranges;
    for (size_t i = 0; i < ports.size();) {
      size_t j = i;
      while (j + 1 < ports.size() && ports[j + 1] == ports[j] + 1) ++j;
      if (!ranges.empty()) ranges += ", ";
      ranges += std::to_string(ports[i]);
      if (j > i) {
        ranges += '-';
        ranges += std::to_string(ports[j]);
      }
      i = j + 1;
    }
    out.push_back(p + (icmp ? " type " : " ") + ranges);
  }
  return out;
}

std::vector<std::string> seen_l7_text(const MapEdge& e, size_t cap = 8) {
  std::vector<std::string> out(e.seen_l7.begin(), e.seen_l7.end());
  if (out.size() > cap) {
    size_t more = out.size() - cap;
    out.resize(cap);
    out.push_back("(+" + std::to_string(more) + " more)");
  }
  return out;
}

// Reserved entities with exactly the same edges (an open pod accepts all
// of them alike) become one box: the same facts, a readable map.
void merge_alike_entities(Graph& g) {
  auto edge_key = [](const MapEdge& e) {
    std::string k = std::to_string(e.allowed) + std::to_string(e.observed) + "|" + join(e.ports, ",") +
                    "|" + join(e.l7, ",") + "|" + join(e.rules, ",") + "|" + std::to_string(e.flows) +
                    "|" + std::to_string(e.not_allowed);
    for (const auto& [p, n] : e.seen_ports) k += "|" + p + std::to_string(n);
    for (const auto& l : e.seen_l7) k += "|" + l;
    return k;
  };
  std::map<std::string, std::string> signature;  // entity id -> its edges, relative
  for (const auto& [key, e] : g.edges) {
    const bool from = g.nodes.at(key.first).kind == "entity", to = g.nodes.at(key.second).kind == "entity";
    if (from && to) return;  // entity-to-entity edges: leave the graph as it is
    if (from) signature[key.first] += "out>" + key.second + ">" + edge_key(e) + "\n";
    if (to) signature[key.second] += "in>" + key.first + ">" + edge_key(e) + "\n";
  }
  std::map<std::string, std::vector<std::string>> alike;
  for (const auto& [id, sig] : signature) alike[sig].push_back(id);
  for (const auto& [sig, ids] : alike) {
    if (ids.size() < 2) continue;
    std::vector<std::string> names;
    MapNode merged;
    merged.kind = "entity";
    for (const auto& id : ids) {
      const MapNode& n = g.nodes.at(id);
      names.push_back(n.label);
      merged.members.insert(merged.members.end(), n.members.begin(), n.members.end());
    }
    merged.id = "entity:" + join(names, "+");
    merged.label = join(names, ", ");
    std::map<std::pair<std::string, std::string>, MapEdge> edges;
    for (auto& [key, e] : g.edges) {
      auto k = key;
      const bool from = std::find(ids.begin(), ids.end(), k.first) != ids.end();
      const bool to = std::find(ids.begin(), ids.end(), k.second) != ids.end();
      if (from) k.first = merged.id;
      if (to) k.second = merged.id;
      edges[k] = std::move(e);  // alike edges: any one stands for all
    }
    g.edges = std::move(edges);
    for (const auto& id : ids) g.nodes.erase(id);
    g.nodes[merged.id] = std::move(merged);
  }
}

// -------------------------------------------------------------- rendering

std::string dot_quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out + "\"";
}

std::string lines(const std::vector<std::string>& v) {
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) out += (i ? "\n" : "") + v[i];
  return out;
}

std::string render_dot(const Graph& g, bool policy_graph, bool observed) {
  std::ostringstream out;
  out << "// cnpc map: " << (policy_graph ? "allowed communication (policies)" : "observed communication")
      << (policy_graph && observed ? "; bold = observed, dashed = allowed but not observed, red = observed but not allowed"
                                   : "")
      << "\ndigraph cnpc {\n"
      << "  rankdir=LR;\n"
      << "  node [shape=box, style=rounded, fontname=\"Helvetica\"];\n"
      << "  edge [fontname=\"Helvetica\", fontsize=10];\n";
  std::map<std::string, std::vector<const MapNode*>> by_ns;
  std::vector<const MapNode*> outside;
  for (const auto& [id, n] : g.nodes) (n.ns.empty() ? outside : by_ns[n.ns]).push_back(&n);
  auto node_line = [&](const MapNode& n, const std::string& indent) {
    out << indent << dot_quote(n.id) << " [label=" << dot_quote(n.label);
    if (n.kind == "world") out << ", shape=hexagon, style=solid";
    else if (n.kind == "entity") out << ", shape=ellipse, style=solid";
    else if (n.kind == "node") out << ", shape=component, style=solid";
    std::string tip = n.members.empty() ? n.id : join(n.members, ", ");
    out << ", tooltip=" << dot_quote(tip) << "];\n";
  };
  for (const auto& [ns, nodes] : by_ns) {
    out << "  subgraph " << dot_quote("cluster_" + ns) << " {\n"
        << "    label=" << dot_quote(ns) << ";\n"
        << "    style=dashed;\n";
    for (const auto* n : nodes) node_line(*n, "    ");
    out << "  }\n";
  }
  for (const auto* n : outside) node_line(*n, "  ");
  for (const auto& [key, e] : g.edges) {
    std::vector<std::string> label;
    std::vector<std::string> attrs;
    if (policy_graph) {
      label = e.ports;
      label.insert(label.end(), e.l7.begin(), e.l7.end());
      if (observed) {
        attrs.push_back(e.observed ? "style=bold" : "style=dashed");
        if (e.observed && (!e.allowed || e.not_allowed)) {
          attrs.push_back("color=red");
          label.push_back(e.allowed ? "observed flows not allowed: " + std::to_string(e.not_allowed)
                                    : "observed, not allowed by policy");
        }
        if (e.observed) {
          auto seen = seen_ports_text(e);
          auto seen7 = seen_l7_text(e);
          seen.insert(seen.end(), seen7.begin(), seen7.end());
          if (!seen.empty()) label.push_back("seen: " + join(seen, ", "));
        }
      }
    } else {
      label = seen_ports_text(e);
      auto seen7 = seen_l7_text(e);
      label.insert(label.end(), seen7.begin(), seen7.end());
    }
    out << "  " << dot_quote(key.first) << " -> " << dot_quote(key.second) << " [label="
        << dot_quote(lines(label));
    for (const auto& a : attrs) out << ", " << a;
    if (!e.rules.empty()) out << ", tooltip=" << dot_quote(join(e.rules, ", "));
    out << "];\n";
  }
  out << "}\n";
  return out.str();
}

json labels_json(const ir::LabelSet& labels) {
  json out = json::object();
  for (const auto& l : labels.labels) out[l.source + ":" + l.key] = l.value;
  return out;
}

std::string render_json(const Graph& g, bool policy_graph, bool observed) {
  json nodes = json::array(), edges = json::array();
  for (const auto& [id, n] : g.nodes) {
    json j = {{"id", n.id}, {"kind", n.kind}, {"label", n.label}};
    if (!n.ns.empty()) j["namespace"] = n.ns;
    if (!n.labels.labels.empty()) j["labels"] = labels_json(n.labels);
    if (!n.members.empty()) {
      j["count"] = n.members.size();
      j["members"] = n.members;
    }
    nodes.push_back(std::move(j));
  }
  for (const auto& [key, e] : g.edges) {
    json j = {{"from", key.first}, {"to", key.second}};
    if (policy_graph) {
      j["ports"] = e.ports;
      j["l7"] = e.l7;
      j["allowed"] = e.allowed;
      j["rules"] = e.rules;
    } else {
      j["ports"] = seen_ports_text(e);
      j["l7"] = seen_l7_text(e, e.seen_l7.size());
    }
    if (observed) {
      j["observed"] = e.observed;
      j["flows"] = e.flows;
      j["observed_ports"] = seen_ports_text(e);
      j["observed_l7"] = seen_l7_text(e, e.seen_l7.size());
      if (policy_graph) j["observed_not_allowed"] = e.not_allowed;
    }
    edges.push_back(std::move(j));
  }
  json out = {{"mode", policy_graph ? (observed ? "policy+observed" : "policy") : "observed"},
              {"nodes", nodes},
              {"edges", edges}};
  return out.dump(2) + "\n";
}

// ------------------------------------------------------------------- svg

std::optional<std::string> find_on_path(const std::string& name) {
  const char* path = std::getenv("PATH");
  if (!path) return std::nullopt;
  std::string p = path;
  size_t start = 0;
  while (start <= p.size()) {
    size_t colon = p.find(':', start);
    std::string dir = p.substr(start, colon == std::string::npos ? std::string::npos : colon - start);
    if (dir.empty()) dir = ".";
    std::string candidate = dir + "/" + name;
    std::error_code ec;
    if (access(candidate.c_str(), X_OK) == 0 && !std::filesystem::is_directory(candidate, ec))
      return candidate;
    if (colon == std::string::npos) break;
    start = colon + 1;
  }
  return std::nullopt;
}

// Runs `dot -Tsvg`, feeding it the DOT on stdin and reading stdout; poll()
// keeps a large graph from deadlocking the two pipes.
std::string run_dot(const std::string& dot_path, const std::string& dot) {
  int in_pipe[2], out_pipe[2], err_pipe[2];
  if (pipe(in_pipe) != 0) throw std::runtime_error("pipe failed");
  if (pipe(out_pipe) != 0 || pipe(err_pipe) != 0) throw std::runtime_error("pipe failed");
  pid_t pid = fork();
  if (pid < 0) throw std::runtime_error(std::string("fork failed: ") + std::strerror(errno));
  if (pid == 0) {
    dup2(in_pipe[0], STDIN_FILENO);
    dup2(out_pipe[1], STDOUT_FILENO);
    dup2(err_pipe[1], STDERR_FILENO);
    for (int fd : {in_pipe[0], in_pipe[1], out_pipe[0], out_pipe[1], err_pipe[0], err_pipe[1]}) close(fd);
    const char* argv[] = {dot_path.c_str(), "-Tsvg", nullptr};
    execv(dot_path.c_str(), const_cast<char* const*>(argv));
    _exit(127);
  }
  close(in_pipe[0]);
  close(out_pipe[1]);
  close(err_pipe[1]);
  // A dot that dies early must not kill us with SIGPIPE.
  struct sigaction ignore {}, old {};
  ignore.sa_handler = SIG_IGN;
  sigaction(SIGPIPE, &ignore, &old);
  fcntl(in_pipe[1], F_SETFL, fcntl(in_pipe[1], F_GETFL) | O_NONBLOCK);
  std::string svg, err;
  size_t written = 0;
  int to_child = in_pipe[1];
  if (dot.empty()) {
    close(to_child);
    to_child = -1;
  }
  bool out_open = true, err_open = true;
  while (out_open || err_open) {
    pollfd fds[3] = {{out_open ? out_pipe[0] : -1, POLLIN, 0},
                     {err_open ? err_pipe[0] : -1, POLLIN, 0},
                     {to_child, POLLOUT, 0}};
    if (poll(fds, 3, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    char buf[65536];
    for (int i = 0; i < 2; ++i) {
      if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t n = read(fds[i].fd, buf, sizeof buf);
      if (n > 0) {
        (i == 0 ? svg : err).append(buf, size_t(n));
      } else if (n == 0 || errno != EINTR) {
        close(fds[i].fd);
        (i == 0 ? out_open : err_open) = false;
      }
    }
    if (to_child >= 0 && (fds[2].revents & (POLLOUT | POLLERR | POLLHUP))) {
      ssize_t n = write(to_child, dot.data() + written, dot.size() - written);
      if (n > 0) written += size_t(n);
      if ((n < 0 && errno != EAGAIN && errno != EINTR) || written == dot.size()) {
        close(to_child);
        to_child = -1;
      }
    }
  }
  if (to_child >= 0) close(to_child);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  sigaction(SIGPIPE, &old, nullptr);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    throw OutputError("dot -Tsvg failed" + (err.empty() ? std::string() : ": " + err));
  return svg;
}

}  // namespace

int run_map(const MapOptions& options) {
  ir::Diagnostics diags;
  LoadedInputs inputs = load_inputs(options.input, diags);
  if (diags.has_errors()) {
    diags.sort();
    print_input_diagnostics(diags);
    std::cerr << "cnpc: error: inputs have errors; no map drawn\n";
    return kExitUsage;
  }
  if (!diags.all().empty()) print_input_diagnostics(diags);

  // The format is checked before any work: svg needs Graphviz.
  std::optional<std::string> dot_path;
  if (options.format == "svg") {
    dot_path = find_on_path("dot");
    if (!dot_path) {
      std::cerr << "cnpc map: error: -o svg needs Graphviz ('dot' is not on PATH); "
                   "install graphviz, or use -o dot and render with 'dot -Tsvg'\n";
      return kExitUsage;
    }
  }

  const bool policy_graph = !options.input.paths.empty();
  const bool observed = !options.flows_file.empty();
  std::vector<json> flows;
  if (observed) {
    try {
      flows = read_flows(options.flows_file);
    } catch (const FlowsError& e) {
      std::cerr << e.what() << '\n';
      return kExitUsage;
    }
  }

  ir::Evaluator ev(inputs.result.policies, inputs.result.inventory, inputs.eval, inputs.dns);
  const PodGroups groups = pod_groups(ev);
  if (policy_graph && groups.members.empty())
    std::cerr << "cnpc map: note: the inventory has no pods or workloads, so the map has no boxes "
                 "(give --inventory, e.g. kubectl get ns,pods,deploy -A -o yaml)\n";
  Graph g;
  if (policy_graph) build_policy_graph(g, ev, groups);
  if (observed) add_observed(g, ev, groups, policy_graph, flows);
  merge_alike_entities(g);

  std::string text;
  if (options.format == "json") {
    text = render_json(g, policy_graph, observed);
  } else {
    text = render_dot(g, policy_graph, observed);
    if (dot_path) text = run_dot(*dot_path, text);
  }
  write_output(options.output_file, text);
  return kExitClean;
}

}  // namespace cnpc::cli
