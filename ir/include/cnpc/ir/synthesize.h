// An inventory made from the policies themselves, for proofs when no
// --inventory is given: one pod per selector the policies use, labelled to
// satisfy it, carrying the named ports the rules use, plus kube-dns.
#pragma once

#include <string>

#include "cnpc/ir/ir.h"

namespace cnpc::ir {

Inventory synthesize_inventory(const PolicySet& policies, const std::string& cluster_name = "default");

}  // namespace cnpc::ir
