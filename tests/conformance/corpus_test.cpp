// The corpus walk: every real manifest under shared/corpus loads, or is
// rejected for the reason Cilium (or the API server) gives. The outcome of
// each file is checked against tests/conformance/corpus_outcomes.txt;
// UPDATE_GOLDEN=1 rewrites that list (review the diff).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "cnpc/compiler/frontend.h"
#include "cnpc/ir/evaluator.h"

namespace fs = std::filesystem;
using namespace cnpc;

namespace {

const fs::path kCorpus = fs::path(CNPC_SHARED_DIR) / "corpus";
const fs::path kOutcomes = fs::path(CNPC_SOURCE_DIR) / "tests/conformance/corpus_outcomes.txt";

// "ok", or "rejected" followed by the sorted distinct error checks.
std::string outcome_of(const fs::path& file, frontend::LoadResult& result) {
  ir::Diagnostics diags;
  std::vector<std::string> paths = {file.string()};
  frontend::load_paths(paths, {}, result, diags);
  std::set<std::string> errors;
  for (const auto& d : diags.all())
    if (d.severity == ir::Severity::Error) errors.insert(d.check);
  if (errors.empty()) return "ok";
  std::string out = "rejected";
  for (const auto& e : errors) out += " " + e;
  return out;
}

std::vector<fs::path> corpus_files() {
  std::vector<fs::path> files;
  for (const auto& entry : fs::recursive_directory_iterator(kCorpus)) {
    auto ext = entry.path().extension();
    if (entry.is_regular_file() && (ext == ".yaml" || ext == ".yml" || ext == ".json"))
      files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

}  // namespace

TEST(Corpus, EveryFileHasItsRecordedOutcome) {
  if (!fs::exists(kCorpus)) GTEST_SKIP() << "corpus not found at " << kCorpus << "; skipping";
  std::map<std::string, std::string> actual;
  size_t ok = 0, rejected = 0, rules = 0;
  for (const auto& file : corpus_files()) {
    frontend::LoadResult result;
    std::string outcome = outcome_of(file, result);
    actual[fs::relative(file, kCorpus).generic_string()] = outcome;
    (outcome == "ok" ? ok : rejected)++;
    rules += result.policies.rules.size();
    // Whatever loads must also evaluate without trouble.
    ir::Evaluator ev(result.policies, result.inventory);
    if (!ev.endpoints().empty()) {
      ir::Flow f;
      f.src = 0;
      f.dst = ev.world();
      f.port = 80;
      (void)ev.decide(f);
    }
  }
  std::printf("corpus: %zu files, %zu load, %zu rejected, %zu rules lowered\n", actual.size(), ok,
              rejected, rules);

  if (const char* update = std::getenv("UPDATE_GOLDEN"); update && *update == '1') {
    std::ofstream out(kOutcomes);
    out << "# file (relative to shared/corpus)  outcome: ok | rejected <checks>\n";
    for (const auto& [file, outcome] : actual) out << file << "  " << outcome << '\n';
    GTEST_SKIP() << "rewrote " << kOutcomes;
  }

  std::map<std::string, std::string> expected;
  std::ifstream in(kOutcomes);
  ASSERT_TRUE(in) << "missing " << kOutcomes << " (run with UPDATE_GOLDEN=1)";
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    auto sep = line.find("  ");
    ASSERT_NE(sep, std::string::npos) << line;
    expected[line.substr(0, sep)] = line.substr(sep + 2);
  }
  for (const auto& [file, outcome] : actual) {
    auto it = expected.find(file);
    if (it == expected.end()) {
      ADD_FAILURE() << file << ": not in the outcome list (got: " << outcome << ")";
      continue;
    }
    EXPECT_EQ(outcome, it->second) << file;
  }
  for (const auto& [file, outcome] : expected)
    EXPECT_TRUE(actual.count(file)) << file << ": listed but not in the corpus";
}
