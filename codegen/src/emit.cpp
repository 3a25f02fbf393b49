#include "emit.h"

#include <algorithm>
#include <map>
#include <set>
#include <sstream>

namespace cnpc::codegen {

namespace {

const char* kVerdict[] = {"CNPC_ALLOW", "CNPC_ALLOW", "CNPC_REDIRECT", "CNPC_DROP"};

std::string comment_safe(std::string s) {
  for (size_t i; (i = s.find("*/")) != std::string::npos;) s.replace(i, 2, "* /");
  return s;
}

std::string origin_comment(const ir::Evaluator& ev, ir::RuleId r) {
  const auto& o = ev.policies().rules[r].origin;
  return comment_safe("rule " + std::to_string(r) + ": " + o.kind + " " + o.policy_ref() + " " +
                      o.path + " (" + o.loc.file + ":" + std::to_string(o.loc.line) + ")");
}

std::string wrap(const std::string& s) {
  std::string out;
  out.reserve(s.size() + 2);
  out.push_back('(');
  out.append(s);
  out.push_back(')');
  return out;
}

// Consecutive ids as ranges: "peer == 3 || (peer >= 5 && peer <= 9)".
std::string peer_test(const std::vector<uint32_t>& peers) {
  std::ostringstream out;
  bool first = true;
  for (size_t i = 0; i < peers.size();) {
    size_t j = i;
    while (j + 1 < peers.size() && peers[j + 1] == peers[j] + 1) ++j;
    out << (first ? "" : " || ");
    first = false;
    if (i == j)
      out << "peer == " << peers[i] << "u";
    else
      out << "(peer >= " << peers[i] << "u && peer <= " << peers[j] << "u)";
    i = j + 1;
  }
  return wrap(out.str());
}

size_t peer_ranges(const std::vector<uint32_t>& peers) {
  size_t n = 0;
  for (size_t i = 0; i < peers.size(); ++i)
    if (i == 0 || peers[i] != peers[i - 1] + 1) ++n;
  return n;
}

std::string port_test(const std::vector<PortSpan>& spans) {
  std::ostringstream out;
  for (size_t i = 0; i < spans.size(); ++i) {
    const auto& s = spans[i];
    out << (i ? " || " : "") << "(p->pidx == " << int(s.pidx);
    if (s.first == s.last)
      out << " && p->dport == " << s.first;
    else if (!(s.first == 0 && s.last == 65535))
      out << " && p->dport >= " << s.first << " && p->dport <= " << s.last;
    out << ")";
  }
  return wrap(out.str());
}

// A table cell: the winning category and its rule.
struct Cell {
  Category category = kNone;
  uint32_t rule = 0xFFFFFFFFu;
  void take(const Entry& e) {
    if (e.category > category) {
      category = e.category;
      rule = e.rule;
    }
  }
  uint64_t packed() const { return uint64_t(category) | (uint64_t(rule) << 32); }
};

struct Atom {
  uint8_t pidx;
  uint16_t first, last;
};

std::vector<Atom> atoms_of(const std::vector<Entry>& entries) {
  std::set<uint32_t> cuts;
  for (uint32_t px = 0; px < kPidxCount; ++px) cuts.insert(px << 16);
  for (const auto& e : entries)
    for (const auto& s : e.ports) {
      cuts.insert((uint32_t(s.pidx) << 16) | s.first);
      if (s.last < 65535) cuts.insert((uint32_t(s.pidx) << 16) | (uint32_t(s.last) + 1));
    }
  std::vector<uint32_t> v(cuts.begin(), cuts.end());
  std::vector<Atom> atoms;
  for (size_t i = 0; i < v.size(); ++i) {
    uint8_t px = uint8_t(v[i] >> 16);
    uint32_t next = i + 1 < v.size() && (v[i + 1] >> 16) == px ? (v[i + 1] & 0xFFFF) : 65536;
    atoms.push_back({px, uint16_t(v[i] & 0xFFFF), uint16_t(next - 1)});
  }
  return atoms;
}

bool covers(const Entry& e, const Atom& a) {
  return std::any_of(e.ports.begin(), e.ports.end(), [&](const PortSpan& s) {
    return s.pidx == a.pidx && s.first <= a.first && a.last <= s.last;
  });
}

struct DirectionCode {
  std::string code;
  std::string maps_json;  // map entries, ",\n"-joined JSON members
  DirectionPlan plan;
};

std::string verdict_return(const Entry& e) {
  std::string out = "{ *rule = " + std::to_string(e.rule) + "u; ";
  if (e.category == kDeny) out += "*reason = CNPC_REASON_POLICY_DENY; ";
  return out + "return " + kVerdict[e.category] + "; }";
}

// The table lowerings' end: the best cell found (category | rule << 32)
// decides, else the direction's tail.
std::string tail(const DirectionModel& d);
std::string cell_verdict(const DirectionModel& d) {
  return "  switch (best & 0xff) {\n"
         "    case 3: *rule = best >> 32; *reason = CNPC_REASON_POLICY_DENY; return CNPC_DROP;\n"
         "    case 2: *rule = best >> 32; return CNPC_REDIRECT;\n"
         "    case 1: *rule = best >> 32; return CNPC_ALLOW;\n"
         "  }\n" +
         tail(d);
}

std::string tail(const DirectionModel& d) {
  std::ostringstream out;
  if (!d.localhost_peers.empty())
    out << "  /* --allow-localhost=always: the node reaches its pods */\n"
        << "  if " << peer_test(d.localhost_peers) << " return CNPC_ALLOW;\n";
  if (d.default_deny)
    out << "  *reason = CNPC_REASON_POLICY_DENIED;\n  return CNPC_DROP;\n";
  else
    out << "  return CNPC_ALLOW; /* enableDefaultDeny: false */\n";
  return out.str();
}

DirectionCode emit_direction(const ir::Evaluator& ev, const DatapathModel& m, const DirectionModel& d,
                             const char* tag, const Options& options) {
  DirectionCode out;
  std::ostringstream c;
  const std::string fn = std::string("cnpc_decide_") + tag;
  c << "static __always_inline __u8 " << fn
    << "(const struct cnpc_pkt *p, __u32 peer, __u32 *rule, __u8 *reason) {\n";
  out.plan.entries = d.entries.size();
  for (const auto& e : d.entries) out.plan.rule_ids.push_back(e.rule);
  std::sort(out.plan.rule_ids.begin(), out.plan.rule_ids.end());
  out.plan.rule_ids.erase(std::unique(out.plan.rule_ids.begin(), out.plan.rule_ids.end()), out.plan.rule_ids.end());
  if (!d.enforced) {
    out.plan.mode = "open";
    out.plan.why = "not enforced: no policy selects it for this direction";
    c << "  /* not enforced: no rule selects this endpoint for " << tag << " */\n"
      << "  return CNPC_ALLOW;\n}\n";
    out.code = c.str();
    return out;
  }
  c << "  /* later fragments carry no L4 header to decide on */\n"
    << "  if (p->later_fragment) { *reason = CNPC_REASON_FRAGMENT; return CNPC_DROP; }\n";

  size_t max_ranges = 0;
  for (const auto& e : d.entries) max_ranges = std::max(max_ranges, e.all_peers ? 0 : peer_ranges(e.peers));
  bool inline_mode = options.mode == Mode::Inline ||
                     (options.mode == Mode::Auto && d.entries.size() <= options.inline_max_entries &&
                      max_ranges <= 16);
  if (inline_mode) {
    out.plan.mode = "inline";
    out.plan.why = options.mode == Mode::Inline ? "forced" :
                   std::to_string(d.entries.size()) + " entries <= " + std::to_string(options.inline_max_entries) +
                   ", peer sets of at most " + std::to_string(max_ranges) + " ranges: compare chains";
    for (const auto& e : d.entries) {
      c << "  /* " << origin_comment(ev, e.rule) << " */\n";
      std::string cond;
      if (!e.all_peers) cond = peer_test(e.peers);
      if (!e.all_ports) cond += (cond.empty() ? "" : " && ") + port_test(e.ports);
      if (cond.empty()) cond = "1";
      c << "  if (" << cond << ") " << verdict_return(e) << "\n";
    }
    c << tail(d) << "}\n";
    out.code = c.str();
    return out;
  }

  // Rows: one array-map row per peer class holding its any-port cell and
  // its port spans, scanned by unrolled code (array lookups are inlined by
  // the verifier: no helper call, which is what a lookup costs most here);
  // port atoms only for the entries that name no peer. A direction where a
  // peer has more than kRowSlots spans falls back to the pair hash below.
  {
    const size_t kRowSlots = options.table_row_slots;
    std::map<uint32_t, std::vector<std::pair<PortSpan, Cell>>> peer_spans;
    std::map<uint32_t, Cell> peer_any;
    std::vector<Entry> any_peer_port;
    Cell any_any;
    for (const auto& e : d.entries) {
      if (e.all_peers && e.all_ports) any_any.take(e);
      else if (e.all_peers) any_peer_port.push_back(e);
      else if (e.all_ports) for (uint32_t peer : e.peers) peer_any[peer].take(e);
      else
        for (uint32_t peer : e.peers)
          for (const auto& sp : e.ports) {
            Cell c;
            c.take(e);
            peer_spans[peer].push_back({sp, c});
          }
    }
    size_t slots = 0;
    for (const auto& [peer, v] : peer_spans) slots = std::max(slots, v.size());
    if (slots <= kRowSlots && kRowSlots > 0) {
      if (slots == 0) slots = 1;
      out.plan.mode = "table";
      out.plan.why = "rows: per-peer array rows of " + std::to_string(slots) + " port spans";
      std::vector<Atom> atoms = any_peer_port.empty() ? std::vector<Atom>{} : atoms_of(any_peer_port);
      std::vector<Cell> atom_cells(atoms.size());
      for (const auto& e : any_peer_port)
        for (size_t a = 0; a < atoms.size(); ++a)
          if (covers(e, atoms[a])) atom_cells[a].take(e);
      size_t pad = 1;
      while (pad < atoms.size()) pad <<= 1;
      const uint32_t nclasses = m.world_class_base + uint32_t(m.world_atoms.size());
      c << "  __u64 best = " << any_any.packed() << "ull;\n";
      if (!atoms.empty()) {
        c << "  __u32 key = ((__u32)p->pidx << 16) | p->dport;\n  __u32 atom = 0;\n";
        for (size_t step = pad / 2; step >= 1; step /= 2)
          c << "  if (cnpc_" << tag << "_bounds[atom + " << step << "] <= key) atom += " << step << ";\n";
        c << "  __u64 acell = cnpc_" << tag << "_atom_cells[atom & " << (pad - 1) << "];\n"
          << "  if ((acell & 0xff) > (best & 0xff)) best = acell;\n";
      }
      c << "  const struct cnpc_" << tag << "_row *row = bpf_map_lookup_elem(&cnpc_" << tag << "_rows, &peer);\n"
        << "  if (row) {\n"
        << "    if ((row->any & 0xff) > (best & 0xff)) best = row->any;\n"
        << "    __u64 want = p->pidx, port = p->dport;\n";
      for (size_t i = 0; i < slots; ++i)
        c << "    if ((row->slot[" << 2 * i << "] & 0xff) == want && port >= ((row->slot[" << 2 * i
          << "] >> 8) & 0xffff) && port <= ((row->slot[" << 2 * i << "] >> 24) & 0xffff) && (row->slot["
          << 2 * i + 1 << "] & 0xff) > (best & 0xff)) best = row->slot[" << 2 * i + 1 << "];\n";
      c << "  }\n"
        << cell_verdict(d) << "}\n";
      std::ostringstream decl;
      if (!atoms.empty()) {
        decl << "/* " << tag << ": " << atoms.size() << " port atoms of the entries with any peer */\n"
             << "static volatile const __u32 cnpc_" << tag << "_bounds[" << pad << "] = {";
        for (size_t i = 0; i < pad; ++i)
          decl << (i ? ", " : "")
               << (i < atoms.size() ? ((uint32_t(atoms[i].pidx) << 16) | atoms[i].first) : 0xFFFFFFFFu) << "u";
        decl << "};\nstatic volatile const __u64 cnpc_" << tag << "_atom_cells[" << pad << "] = {";
        for (size_t i = 0; i < pad; ++i) decl << (i ? ", " : "") << (i < atoms.size() ? atom_cells[i].packed() : 0) << "ull";
        decl << "};\n";
      }
      decl << "struct cnpc_" << tag << "_row {\n  __u64 any;\n  __u64 slot[" << 2 * slots
           << "]; /* per span: pidx | first << 8 | last << 24, then its cell */\n};\n"
           << "struct {\n  __uint(type, BPF_MAP_TYPE_ARRAY);\n  __uint(max_entries, " << std::max<uint32_t>(nclasses, 1)
           << ");\n  __type(key, __u32);\n  __type(value, struct cnpc_" << tag << "_row);\n} cnpc_" << tag
           << "_rows SEC(\".maps\");\n";
      out.code = decl.str() + c.str();
      std::set<uint32_t> peers;
      for (const auto& [peer, v] : peer_spans) peers.insert(peer);
      for (const auto& [peer, v] : peer_any) peers.insert(peer);
      out.plan.table_cells = peers.size() + atoms.size();
      std::ostringstream maps;
      maps << "  \"cnpc_" << tag << "_rows\": [";
      bool first = true;
      for (uint32_t peer : peers) {
        maps << (first ? "" : ", ") << "{\"key\": " << peer << ", \"value\": [";
        first = false;
        auto pa = peer_any.find(peer);
        maps << (pa == peer_any.end() ? 0 : pa->second.packed());
        if (auto ps = peer_spans.find(peer); ps != peer_spans.end())
          for (const auto& [sp, cell] : ps->second)
            maps << ", " << (uint64_t(sp.pidx) | (uint64_t(sp.first) << 8) | (uint64_t(sp.last) << 24)) << ", "
                 << cell.packed();
        maps << "]}";
      }
      maps << "]";
      out.maps_json = maps.str();
      return out;
    }
  }

  // Tables: port atoms as constants, identity-dependent cells in maps.
  out.plan.mode = "table";
  out.plan.why = options.mode == Mode::Table ? "forced" :
                 std::to_string(d.entries.size()) + " entries or peer sets of " + std::to_string(max_ranges) +
                 " ranges: peer x port-atom tables (4 lookups at most)";
  std::vector<Atom> atoms = atoms_of(d.entries);
  Cell any_any;
  std::vector<Cell> atom_cells(atoms.size());
  std::map<uint32_t, Cell> peer_cells;
  std::map<uint64_t, Cell> pair_cells;
  for (const auto& e : d.entries) {
    if (e.all_peers && e.all_ports) {
      any_any.take(e);
    } else if (e.all_peers) {
      for (size_t a = 0; a < atoms.size(); ++a)
        if (covers(e, atoms[a])) atom_cells[a].take(e);
    } else if (e.all_ports) {
      for (uint32_t peer : e.peers) peer_cells[peer].take(e);
    } else {
      for (size_t a = 0; a < atoms.size(); ++a)
        if (covers(e, atoms[a]))
          for (uint32_t peer : e.peers) pair_cells[uint64_t(peer) | (uint64_t(a) << 32)].take(e);
    }
  }
  out.plan.table_cells = peer_cells.size() + pair_cells.size() + atoms.size();
  size_t pad = 1;
  while (pad < atoms.size()) pad <<= 1;
  const uint32_t nclasses = m.world_class_base + uint32_t(m.world_atoms.size());
  c << "  __u32 key = ((__u32)p->pidx << 16) | p->dport;\n"
    << "  __u32 atom = 0;\n";
  for (size_t step = pad / 2; step >= 1; step /= 2)
    c << "  if (cnpc_" << tag << "_bounds[atom + " << step << "] <= key) atom += " << step << ";\n";
  c << "  __u64 best = " << any_any.packed() << "ull, cell = cnpc_" << tag << "_atom_cells[atom & "
    << (pad - 1) << "];\n"
    << "  if ((cell & 0xff) > (best & 0xff)) best = cell;\n"
    << "  __u64 *v = bpf_map_lookup_elem(&cnpc_" << tag << "_peer_any, &peer);\n"
    << "  if (v && (*v & 0xff) > (best & 0xff)) best = *v;\n"
    << "  __u64 pair = (__u64)peer | ((__u64)atom << 32);\n"
    << "  v = bpf_map_lookup_elem(&cnpc_" << tag << "_pairs, &pair);\n"
    << "  if (v && (*v & 0xff) > (best & 0xff)) best = *v;\n"
    << cell_verdict(d) << "}\n";

  std::ostringstream decl;
  // volatile const: kept in .rodata (a frozen map the verifier reads as
  // constants); plain const arrays land in .rodata.cst* that libbpf 1.1 rejects.
  decl << "/* " << tag << ": " << atoms.size() << " port atoms */\n"
       << "static volatile const __u32 cnpc_" << tag << "_bounds[" << pad << "] = {";
  for (size_t i = 0; i < pad; ++i)
    decl << (i ? ", " : "") << (i < atoms.size() ? ((uint32_t(atoms[i].pidx) << 16) | atoms[i].first) : 0xFFFFFFFFu)
         << "u";
  decl << "};\nstatic volatile const __u64 cnpc_" << tag << "_atom_cells[" << pad << "] = {";
  for (size_t i = 0; i < pad; ++i) decl << (i ? ", " : "") << (i < atoms.size() ? atom_cells[i].packed() : 0) << "ull";
  decl << "};\n"
       << "struct {\n  __uint(type, BPF_MAP_TYPE_ARRAY);\n  __uint(max_entries, " << std::max<uint32_t>(nclasses, 1)
       << ");\n  __type(key, __u32);\n  __type(value, __u64);\n} cnpc_" << tag << "_peer_any SEC(\".maps\");\n"
       << "struct {\n  __uint(type, BPF_MAP_TYPE_HASH);\n  __uint(max_entries, " << std::max<size_t>(pair_cells.size(), 1)
       << ");\n  __type(key, __u64);\n  __type(value, __u64);\n} cnpc_" << tag << "_pairs SEC(\".maps\");\n";
  out.code = decl.str() + c.str();

  std::ostringstream maps;
  maps << "  \"cnpc_" << tag << "_peer_any\": [";
  bool first = true;
  for (const auto& [peer, cell] : peer_cells) {
    maps << (first ? "" : ", ") << "{\"key\": " << peer << ", \"value\": [" << cell.packed() << "]}";
    first = false;
  }
  maps << "],\n  \"cnpc_" << tag << "_pairs\": [";
  first = true;
  for (const auto& [key, cell] : pair_cells) {
    maps << (first ? "" : ", ") << "{\"key\": " << key << ", \"value\": [" << cell.packed() << "]}";
    first = false;
  }
  maps << "]";
  out.maps_json = maps.str();
  return out;
}

}  // namespace

EmittedProgram emit_program(const ir::Evaluator& ev, const DatapathModel& m, const SubjectModel& s,
                            const Options& options) {
  EmittedProgram out;
  DirectionCode in = emit_direction(ev, m, s.dir[0], "ingress", options);
  DirectionCode eg = emit_direction(ev, m, s.dir[1], "egress", options);
  out.plan[0] = in.plan;
  out.plan[1] = eg.plan;
  std::ostringstream c;
  c << "/* Generated by cnpc " << options.cnpc_version << ": do not edit.\n"
    << " * One program shape; metadata.json lists the identity classes that use it.\n"
    << " * Ingress: " << in.plan.mode << " ("
    << in.plan.entries << " entries); egress: " << eg.plan.mode << " (" << eg.plan.entries
    << " entries). */\n";
  if (!options.events) c << "#define CNPC_NO_EVENTS 1\n";
  c << "#include \"cnpc/bpf/cnpc.h\"\n\n"
    << "/* Shared by several classes: the agent names the endpoint by ifindex. */\n"
    << "#define CNPC_SUBJECT CNPC_NO_RULE\n"
    << "#define CNPC_AUDIT_MODE " << (m.audit ? 1 : 0) << "\n\n"
    << in.code << '\n'
    << eg.code << '\n'
    << "static __always_inline int cnpc_run(struct __sk_buff *skb, __u8 dir) {\n"
    << "  struct cnpc_pkt p;\n"
    << "  int parsed = cnpc_parse(skb, &p);\n"
    << "  if (parsed > 0) return TC_ACT_OK; /* not IP: ARP and friends pass */\n"
    << "  __u32 rule = CNPC_NO_RULE, peer = CNPC_NO_RULE;\n"
    << "  __u8 reason = CNPC_REASON_NONE, verdict;\n"
    << (options.conntrack ? "  int ct;\n" : "")
    << "  if (parsed < 0) {\n"
    << "    verdict = CNPC_DROP;\n"
    << "    reason = CNPC_REASON_MALFORMED;\n"
    << (options.conntrack
            ? "  } else if (!p.later_fragment && (ct = cnpc_ct_established(&p, dir)) != CNPC_CT_NEW) {\n"
              "    /* a reply or later packet of a connection let through: no policy */\n"
              "    if (ct == CNPC_CT_ESTABLISHED_PROXIED) return cnpc_steer_established(skb, &p);\n"
              "    skb->mark = CNPC_MARK | ((__u32)CNPC_ALLOW << 8);\n"
              "    return TC_ACT_OK;\n"
            : "")
    << "  } else if (dir == CNPC_DIR_INGRESS) {\n"
    << "    int from_proxy;\n"
    << "    peer = cnpc_ingress_peer(skb, &p, &from_proxy);\n"
    << "    verdict = cnpc_decide_ingress(&p, peer, &rule, &reason);\n"
    << "    /* the proxy judged the request already */\n"
    << "    if (from_proxy && verdict == CNPC_REDIRECT) verdict = CNPC_ALLOW;\n"
    << "  } else {\n"
    << "    peer = cnpc_class_of(&p, p.daddr);\n"
    << "    verdict = cnpc_decide_egress(&p, peer, &rule, &reason);\n"
    << "    if (verdict != CNPC_DROP) verdict = cnpc_steer_to_proxy(skb, &p, verdict, peer, &reason);\n"
    << "  }\n"
    << "  /* Audit mode forwards policy drops (never malformed packets). */\n"
    << "  int audit = CNPC_AUDIT_MODE && (reason == CNPC_REASON_POLICY_DENIED || reason == CNPC_REASON_POLICY_DENY);\n"
    << (options.conntrack ? "  if (parsed == 0 && (verdict != CNPC_DROP || audit))\n"
                            "    cnpc_ct_create(&p, dir, reason == CNPC_REASON_TO_PROXY);\n" : "")
    << "  return cnpc_finish(skb, &p, dir, verdict, reason, rule, CNPC_SUBJECT, peer, audit);\n"
    << "}\n\n"
    << "SEC(\"tc\") int cnpc_ingress(struct __sk_buff *skb) { return cnpc_run(skb, CNPC_DIR_INGRESS); }\n"
    << "SEC(\"tc\") int cnpc_egress(struct __sk_buff *skb) { return cnpc_run(skb, CNPC_DIR_EGRESS); }\n"
    << "char _license[] SEC(\"license\") = \"GPL\";\n";
  out.source = c.str();
  if (!in.maps_json.empty() || !eg.maps_json.empty()) {
    std::string body;
    for (const auto* part : {&in.maps_json, &eg.maps_json})
      if (!part->empty()) body += (body.empty() ? "" : ",\n") + *part;
    out.maps_json = "{\n" + body + "\n}\n";
  }
  return out;
}

}  // namespace cnpc::codegen
