// Structural validation of policy objects against the OpenAPI v3 schemas the
// Kubernetes API server applies before Cilium ever sees a policy: the Cilium
// CRD schemas (extracted from the CRDs, see compiler/schema/) and a
// hand-written schema for networking.k8s.io/v1 NetworkPolicy.
#pragma once

#include <yaml-cpp/yaml.h>

#include <string>

#include "cnpc/ir/diagnostics.h"

namespace cnpc::frontend {

enum class SchemaKind { CiliumNetworkPolicy, CiliumClusterwideNetworkPolicy, NetworkPolicy };

// Checks one whole object (apiVersion, kind, metadata, spec/specs) against its
// schema. Findings use the checks unknown-field (warning: the API server
// prunes the field), invalid-type, invalid-enum, invalid-pattern,
// invalid-range and missing-field, with messages in the API server's style
// ("spec.ingress[0]: unknown field \"fromEndpoint\""). Never throws.
void check_schema(const YAML::Node& object, SchemaKind kind, const std::string& file,
                  ir::Diagnostics& diags);

}  // namespace cnpc::frontend
