// BPF C for one subject class, plus its table map contents. Private to codegen/.
#pragma once

#include <string>

#include "cnpc/codegen/codegen.h"
#include "model.h"

namespace cnpc::codegen {

struct EmittedProgram {
  std::string source;      // BPF C
  std::string maps_json;   // contents of table maps ("" when none)
  DirectionPlan plan[2];   // [0] ingress, [1] egress
};

EmittedProgram emit_program(const ir::Evaluator& ev, const DatapathModel& m, const SubjectModel& s,
                            const Options& options);

}  // namespace cnpc::codegen
