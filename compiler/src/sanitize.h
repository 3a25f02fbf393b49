// Cilium's own validation of policy objects, run on the parsed YAML after
// CRD-schema validation: Rule.Sanitize and friends (pkg/policy/api), the
// CNP/CCNP envelope checks (cnp_types.go, ccnp_types.go), decode-time checks
// (ICMP type names) and, for Kubernetes NetworkPolicy, the API server's
// validation plus what Cilium's translation (pkg/k8s/network_policy.go)
// rejects. Every problem is reported with Cilium's (or Kubernetes') own
// message text at the most precise YAML node.
//
// Unlike Cilium, which stops at the first error, every independent problem
// is reported. Malformed nodes (wrong YAML type) are skipped silently: that
// is the schema pass's job.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <optional>
#include <string>

#include "cnpc/compiler/frontend.h"  // LoadOptions
#include "cnpc/ir/diagnostics.h"

namespace cnpc::frontend {

// kind: "CiliumNetworkPolicy", "CiliumClusterwideNetworkPolicy" or "NetworkPolicy".
// For a bare rule list (the `cilium policy import` JSON format: a top-level
// array of rules), kind is "CiliumRule" and `object` is one rule. Field names
// of a bare rule match case-insensitively, as Go's encoding/json does.
void sanitize_object(const YAML::Node& object, const std::string& kind, const std::string& file,
                     const LoadOptions& options, ir::Diagnostics& diags);

// The ICMP type number for a CamelCase type name (pkg/policy/api/icmp.go),
// from the IPv6 table when `v6`, else the IPv4 one. Case-sensitive.
std::optional<uint8_t> icmp_type_from_name(const std::string& name, bool v6);

// True when `text` is an IANA service name (RFC 6335 §5.1, pkg/iana): 1-15
// alphanumerics and non-consecutive inner hyphens, at least one letter.
// Such a port is a *named* port, even when it looks like a number ("0x10").
bool is_iana_svc_name(const std::string& text);

// A PortProtocol.port as Cilium reads it: IANA service names are names
// (nullopt); anything else goes through Go's strconv.ParseUint(s, 0, 16)
// (base prefixes 0x/0o/0b/0, underscores). nullopt when it is not a valid
// number either. "0" yields 0 (every port).
std::optional<uint16_t> parse_port_number(const std::string& text);

// A map member as Go's encoding/json finds it for a bare rule (kind
// "CiliumRule"): the exact key first, else the first ASCII case-insensitive
// match ("HTTP" is `http`). Undefined when absent or `map` is not a map.
YAML::Node go_json_member(const YAML::Node& map, const std::string& key);

// Compiles `pattern` with RE2 and returns Go's regexp error text
// ("error parsing regexp: missing closing ): `(a`"), or nullopt when it
// compiles. Go's regexp and RE2 share syntax and error codes.
std::optional<std::string> go_regexp_error(const std::string& pattern);

}  // namespace cnpc::frontend
