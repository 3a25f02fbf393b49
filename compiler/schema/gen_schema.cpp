// Regenerates the stripped CRD schemas cnpc embeds.
//
//   g++ -std=c++20 -O1 compiler/schema/gen_schema.cpp -lyaml-cpp -o build/gen_schema
//   C=../shared/corpus/crds
//   build/gen_schema $C/ciliumnetworkpolicies.yaml compiler/schema/ciliumnetworkpolicy.schema.yaml
//   build/gen_schema $C/ciliumclusterwidenetworkpolicies.yaml
//                    compiler/schema/ciliumclusterwidenetworkpolicy.schema.yaml
//
// The unit test SchemaGen.CommittedFilesAreUpToDate fails when the committed
// files differ from what this produces.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

#include "gen_schema.h"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s CRD.yaml OUT.schema.yaml\n", argv[0]);
    return 2;
  }
  std::ifstream in(argv[1], std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "gen_schema: cannot read %s\n", argv[1]);
    return 1;
  }
  std::stringstream buf;
  buf << in.rdbuf();
  std::string name = argv[1];
  if (auto slash = name.find_last_of('/'); slash != std::string::npos) name = name.substr(slash + 1);
  try {
    const std::string text = cnpc::schema_gen::render_schema_file(buf.str(), name);
    std::ofstream out(argv[2], std::ios::binary);
    out << text;
    if (!out) {
      std::fprintf(stderr, "gen_schema: cannot write %s\n", argv[2]);
      return 1;
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "gen_schema: %s: %s\n", argv[1], e.what());
    return 1;
  }
  return 0;
}
