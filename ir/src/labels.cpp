#include <algorithm>
#include <sstream>

#include "cnpc/ir/ir.h"

namespace cnpc::ir {

void LabelSet::add(Label l) {
  auto it = std::lower_bound(labels.begin(), labels.end(), l);
  if (it != labels.end() && *it == l) return;
  // One value per (source, key): a later add replaces the earlier value.
  for (auto& existing : labels)
    if (existing.source == l.source && existing.key == l.key) {
      existing.value = l.value;
      std::sort(labels.begin(), labels.end());
      return;
    }
  labels.insert(it, std::move(l));
}

std::string LabelSet::to_string() const {
  std::string out;
  for (const auto& l : labels) {
    if (!out.empty()) out += ',';
    out += l.source + ':' + l.key;
    if (!l.value.empty()) out += '=' + l.value;
  }
  return out;
}

namespace {
bool source_matches(const std::string& want, const std::string& have) {
  return want == "any" || want == have;
}
}  // namespace

bool Selector::matches(const LabelSet& set) const {
  for (const auto& req : requirements) {
    const Label* found = nullptr;
    for (const auto& l : set.labels)
      if (l.key == req.key && source_matches(req.source, l.source)) {
        found = &l;
        // Prefer a label whose value satisfies an In requirement.
        if (req.op == SelectorOp::In &&
            std::find(req.values.begin(), req.values.end(), l.value) != req.values.end())
          break;
      }
    bool in = found && std::find(req.values.begin(), req.values.end(), found->value) !=
                           req.values.end();
    switch (req.op) {
      case SelectorOp::In:
        if (!in) return false;
        break;
      case SelectorOp::NotIn:
        if (in) return false;
        break;
      case SelectorOp::Exists:
        if (!found) return false;
        break;
      case SelectorOp::DoesNotExist:
        if (found) return false;
        break;
    }
  }
  return true;
}

std::string Selector::to_string() const {
  if (requirements.empty()) return "{}";
  std::ostringstream out;
  out << '{';
  bool first = true;
  for (const auto& r : requirements) {
    if (!first) out << ", ";
    first = false;
    std::string key = (r.source == "any" ? "" : r.source + ":") + r.key;
    switch (r.op) {
      case SelectorOp::In:
        if (r.values.size() == 1) {
          out << key << '=' << r.values[0];
        } else {
          out << key << " in (";
          for (size_t i = 0; i < r.values.size(); ++i) out << (i ? "," : "") << r.values[i];
          out << ')';
        }
        break;
      case SelectorOp::NotIn:
        out << key << " notin (";
        for (size_t i = 0; i < r.values.size(); ++i) out << (i ? "," : "") << r.values[i];
        out << ')';
        break;
      case SelectorOp::Exists: out << key; break;
      case SelectorOp::DoesNotExist: out << '!' << key; break;
    }
  }
  out << '}';
  return out.str();
}

std::string to_string(Proto p) {
  switch (p) {
    case Proto::Any: return "ANY";
    case Proto::ICMP: return "ICMP";
    case Proto::TCP: return "TCP";
    case Proto::UDP: return "UDP";
    case Proto::ICMPv6: return "ICMPv6";
    case Proto::SCTP: return "SCTP";
  }
  return "?";
}

std::optional<Proto> parse_proto(const std::string& text) {
  std::string up;
  for (char c : text) up += char(std::toupper(static_cast<unsigned char>(c)));
  if (up == "TCP") return Proto::TCP;
  if (up == "UDP") return Proto::UDP;
  if (up == "SCTP") return Proto::SCTP;
  if (up == "ANY" || up.empty()) return Proto::Any;
  if (up == "ICMP") return Proto::ICMP;
  if (up == "ICMPV6") return Proto::ICMPv6;
  return std::nullopt;
}

std::string to_string(L7Kind k) {
  switch (k) {
    case L7Kind::None: return "none";
    case L7Kind::Http: return "http";
    case L7Kind::Dns: return "dns";
    case L7Kind::Kafka: return "kafka";
    case L7Kind::Generic: return "l7proto";
  }
  return "?";
}

std::string to_string(Direction d) { return d == Direction::Ingress ? "ingress" : "egress"; }
std::string to_string(Action a) { return a == Action::Allow ? "allow" : "deny"; }

std::string Endpoint::display() const {
  if (kind == Kind::Pod || !namespace_.empty()) return namespace_ + "/" + name;
  if (workload == "Node") return "node:" + name;
  if (kind == Kind::World && !ips.empty()) return "cidr:" + ips[0].to_string();
  return "entity:" + name;
}

}  // namespace cnpc::ir
