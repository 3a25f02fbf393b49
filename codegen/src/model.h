// The datapath view of a policy set: identity classes with the world split
// into address atoms, the ipcache, and per subject class and direction the
// flat list of entries a program decides with. Private to codegen/.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "cnpc/ir/evaluator.h"

namespace cnpc::codegen {

// Protocol index of the port tables (CNPC_P_* in cnpc.h).
enum Pidx : uint8_t { kTcp = 0, kUdp = 1, kSctp = 2, kIcmp = 3, kIcmp6 = 4, kOther = 5, kPidxCount = 6 };

// Decision categories, in precedence order (a higher one wins).
enum Category : uint8_t { kNone = 0, kAllow = 1, kRedirect = 2, kDeny = 3 };

struct PortSpan {
  uint8_t pidx;
  uint16_t first, last;
  auto operator<=>(const PortSpan&) const = default;
};

// One thing a direction can match: a rule's port rule (first-match
// semantics already applied), or an L3-only / ICMP rule.
struct Entry {
  ir::RuleId rule = 0;
  int port_rule = -1;  // index into the rule's port_rules, -1 for L3-only and ICMP
  Category category = kAllow;
  bool all_peers = false;
  std::vector<uint32_t> peers;  // sorted datapath class ids (when !all_peers)
  bool all_ports = false;       // every protocol and port (L3-only)
  std::vector<PortSpan> ports;  // when !all_ports
};

struct DirectionModel {
  bool enforced = false;
  bool default_deny = false;
  std::vector<Entry> entries;          // sorted: category descending, then rule id
  std::vector<uint32_t> localhost_peers;  // host classes allowed by --allow-localhost=always
};

struct SubjectModel {
  uint32_t class_id = 0;
  DirectionModel dir[2];  // [0] ingress, [1] egress
};

struct IpcacheEntry {
  std::string prefix;  // "10.0.1.10/32"
  uint32_t class_id;
};

struct DatapathModel {
  uint32_t class_count = 0;        // evaluator classes (world included, unused as an id)
  uint32_t world_class_base = 0;   // first world atom id
  std::vector<ir::Cidr> world_atoms;
  std::vector<IpcacheEntry> ipcache;
  std::vector<SubjectModel> subjects;  // pod classes
  std::vector<uint32_t> host_classes;
  bool audit = false;
};

DatapathModel build_model(const ir::Evaluator& ev);

// The datapath class of a concrete endpoint + address (tests).
uint32_t datapath_class(const ir::Evaluator& ev, const DatapathModel& m, ir::EndpointId id,
                        const std::optional<ir::IpAddr>& ip);

}  // namespace cnpc::codegen
