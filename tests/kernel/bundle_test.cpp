// LoadedBundle on a hand-made bundle: two objects (copies of the test
// program) sharing one ipcache and one event ring, table maps from
// maps.json, manifest checks, verifier errors, events.
#include <arpa/inet.h>
#include <unistd.h>

#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "kernel_test.h"

using namespace cnpc::runtime;
using json = nlohmann::json;
namespace fs = std::filesystem;

namespace {

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void spill(const fs::path& p, const std::string& bytes) {
  std::ofstream out(p, std::ios::binary);
  out << bytes;
}

uint64_t monotonic_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return uint64_t(ts.tv_sec) * 1000000000u + uint64_t(ts.tv_nsec);
}

// Classes: 0 web (10.0.1.10, fd00::10), 1 api (10.0.1.20), 2 db (10.0.2.0/24), 3 world.
// prog-aaaa enforces classes 0 and 1 and admits peers of class 1 on ingress;
// prog-bbbb enforces class 2 and admits class 0.
class Bundle : public ::testing::Test {
 protected:
  void SetUp() override {
    CNPC_REQUIRE_BPF();
    char tmpl[] = "/tmp/cnpc-bundle-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    std::string object = slurp(CNPC_TEST_PROG);
    ASSERT_FALSE(object.empty()) << CNPC_TEST_PROG;
    write("prog-aaaa.bpf.o", object);
    write("prog-bbbb.bpf.o", object);
    write("prog-aaaa.maps.json", json{{"cnpc_peer_bits_in", {{{"key", 1}, {"value", {1, 0}}}}}}.dump());
    write("prog-bbbb.maps.json", json{{"cnpc_peer_bits_in", {{{"key", 0}, {"value", {1, 0}}}}}}.dump());
    write("metadata.json", json{
        {"classes", json::array()},
        {"endpoints", {{{"name", "ns/web"}, {"class", 0}, {"ips", {"10.0.1.10"}}, {"program", "prog-aaaa.bpf.o"}},
                       {{"name", "ns/api"}, {"class", 1}, {"ips", {"10.0.1.20"}}, {"program", "prog-aaaa.bpf.o"}},
                       {{"name", "ns/db"}, {"class", 2}, {"ips", json::array()}, {"program", "prog-bbbb.bpf.o"}}}},
        {"rules", json::array()},
        {"programs", {{{"object", "prog-aaaa.bpf.o"}, {"source", "prog-aaaa.bpf.c"}, {"classes", {0, 1}}},
                      {{"object", "prog-bbbb.bpf.o"}, {"source", "prog-bbbb.bpf.c"}, {"classes", {2}}}}},
        {"world_class_base", 3}}.dump(1));
    write("ipcache.json", json{{{"prefix", "10.0.1.10/32"}, {"class", 0}},
                               {{"prefix", "10.0.1.20/32"}, {"class", 1}},
                               {{"prefix", "10.0.2.0/24"}, {"class", 2}},
                               {{"prefix", "fd00::10/128"}, {"class", 0}},
                               {{"prefix", "0.0.0.0/0"}, {"class", 3}},
                               {{"prefix", "::/0"}, {"class", 3}}}.dump(1));
    write_manifest();
  }
  void TearDown() override {
    if (!dir_.empty()) fs::remove_all(dir_);
  }

  void write(const std::string& name, const std::string& bytes) {
    spill(dir_ / name, bytes);
    listed_.insert(name);
  }
  void write_manifest() {
    json files = json::array();
    for (const auto& name : listed_) files.push_back({{"path", name}, {"sha256", sha256_hex(slurp(dir_ / name))}});
    spill(dir_ / "manifest.json",
          json{{"format", "cnpc-bundle/1"}, {"cnpc_version", "0.1.0"}, {"inputs", json::array()}, {"files", files}}.dump(1));
  }
  void expect_load_error(const std::string& needle) {
    try {
      LoadedBundle::load(dir_);
      ADD_FAILURE() << "loaded; expected an error with '" << needle << "'";
    } catch (const std::runtime_error& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  }

  fs::path dir_;
  std::set<std::string> listed_;
};

PacketSpec tcp(const char* src, const char* dst, uint16_t dport = 80) {
  PacketSpec s;
  s.src = src;
  s.dst = dst;
  s.dport = dport;
  return s;
}

TEST_F(Bundle, LoadsAndMapsClassesToPrograms) {
  LoadedBundle b = LoadedBundle::load(dir_);
  ASSERT_EQ(b.programs().size(), 2u);
  EXPECT_EQ(b.program_for_class(0).object, "prog-aaaa.bpf.o");
  EXPECT_EQ(b.program_for_class(1).object, "prog-aaaa.bpf.o");
  EXPECT_EQ(b.program_for_class(2).object, "prog-bbbb.bpf.o");
  EXPECT_THROW(b.program_for_class(3), std::out_of_range);
  ASSERT_NE(b.program_for_endpoint("ns/db"), nullptr);
  EXPECT_EQ(b.program_for_endpoint("ns/db")->object, "prog-bbbb.bpf.o");
  EXPECT_EQ(b.program_for_endpoint("ns/nope"), nullptr);
  for (const ProgramInfo& p : b.programs()) {
    EXPECT_GE(p.ingress_fd, 0);
    EXPECT_GE(p.egress_fd, 0);
    EXPECT_NE(p.ingress_fd, p.egress_fd);
    EXPECT_GT(p.ingress_insns, 10u);
    EXPECT_GT(p.egress_insns, 10u);
    EXPECT_GT(p.ingress_verified_insns, 0u);
    EXPECT_GT(p.load_ns, 0u);
  }
  EXPECT_GE(b.ipcache_fd(), 0);
  EXPECT_GE(b.events_fd(), 0);
}

TEST_F(Bundle, TableMapsAndSharedIpcache) {
  LoadedBundle b = LoadedBundle::load(dir_);
  int web_in = b.program_for_class(0).ingress_fd, db_in = b.program_for_class(2).ingress_fd;
  auto run = [](int fd, const PacketSpec& s) { return test_run(fd, build_packet(s)).verdict; };
  // prog-aaaa admits class 1 (api), prog-bbbb admits class 0 (web): each
  // object has its own cnpc_peer_bits_in, filled from its maps.json.
  EXPECT_EQ(run(web_in, tcp("10.0.1.20", "10.0.1.10")), kAllow);
  EXPECT_EQ(run(web_in, tcp("10.0.2.5", "10.0.1.10")), kDrop);
  EXPECT_EQ(run(db_in, tcp("10.0.1.10", "10.0.2.5")), kAllow);
  EXPECT_EQ(run(db_in, tcp("10.0.1.20", "10.0.2.5")), kDrop);
  EXPECT_EQ(run(db_in, tcp("8.8.8.8", "10.0.2.5")), kDrop);

  // Pod churn: one update, seen by both objects.
  b.ipcache_update("10.0.3.0/24", 1);
  EXPECT_EQ(run(web_in, tcp("10.0.3.7", "10.0.1.10")), kAllow);
  b.ipcache_update("10.0.3.7/32", 0);
  EXPECT_EQ(run(db_in, tcp("10.0.3.7", "10.0.2.5")), kAllow);
  EXPECT_EQ(run(web_in, tcp("10.0.3.7", "10.0.1.10")), kDrop);  // now class 0
  b.ipcache_delete("10.0.3.7/32");
  b.ipcache_delete("10.0.3.7/32");  // absent: no error
  EXPECT_EQ(run(web_in, tcp("10.0.3.7", "10.0.1.10")), kAllow);
  EXPECT_THROW(b.ipcache_update("not-an-ip", 1), std::invalid_argument);

  // Moving the bundle keeps everything open.
  LoadedBundle moved = std::move(b);
  EXPECT_EQ(run(moved.program_for_class(0).ingress_fd, tcp("10.0.1.20", "10.0.1.10")), kAllow);
  EXPECT_FALSE(moved.drain_events().empty());
}

TEST_F(Bundle, EventsCarryTheDecision) {
  LoadedBundle b = LoadedBundle::load(dir_);
  EXPECT_TRUE(b.drain_events().empty());
  const ProgramInfo& web = b.program_for_class(0);

  uint64_t before = monotonic_ns();
  RunResult allowed = test_run(web.ingress_fd, build_packet(tcp("10.0.1.20", "10.0.1.10", 8080)));
  PacketSpec udp = tcp("10.0.1.10", "10.0.1.20", 53);
  udp.proto = 17;
  RunResult denied = test_run(b.program_for_class(1).ingress_fd, build_packet(udp));  // api admits no web
  RunResult telnet = test_run(web.egress_fd, build_packet(tcp("10.0.1.10", "10.0.2.5", 23)));
  PacketSpec s6 = tcp("fd00::99", "fd00::10", 443);
  s6.family = 6;
  RunResult v6 = test_run(web.ingress_fd, build_packet(s6));
  uint64_t after = monotonic_ns();

  EXPECT_EQ(allowed.retval, kTcActOk);
  EXPECT_EQ(denied.retval, kTcActShot);
  EXPECT_EQ(telnet.mark, make_mark(kDrop, kReasonPolicyDeny));
  EXPECT_EQ(v6.verdict, kDrop);

  std::vector<Event> ev = b.drain_events();
  ASSERT_EQ(ev.size(), 4u);
  for (const Event& e : ev) {
    EXPECT_GE(e.timestamp_ns, before);
    EXPECT_LE(e.timestamp_ns, after);
    EXPECT_EQ(e.ifindex, 1u);  // test runs use lo
    EXPECT_EQ(e.pad[0] | e.pad[1] | e.pad[2], 0);
  }
  in_addr a{};
  inet_pton(AF_INET, "10.0.1.20", &a);
  EXPECT_EQ(ev[0].saddr[0], a.s_addr);
  inet_pton(AF_INET, "10.0.1.10", &a);
  EXPECT_EQ(ev[0].daddr[0], a.s_addr);
  EXPECT_EQ(ev[0].sport, 40000);
  EXPECT_EQ(ev[0].dport, 8080);
  EXPECT_EQ(ev[0].family, 4);
  EXPECT_EQ(ev[0].proto, 6);
  EXPECT_EQ(ev[0].direction, kDirIngress);
  EXPECT_EQ(ev[0].verdict, kAllow);
  EXPECT_EQ(ev[0].reason, kReasonNone);
  EXPECT_EQ(ev[0].rule_id, 7u);
  EXPECT_EQ(ev[0].subject_class, 0u);
  EXPECT_EQ(ev[0].peer_class, 1u);

  EXPECT_EQ(ev[1].proto, 17);
  EXPECT_EQ(ev[1].dport, 53);
  EXPECT_EQ(ev[1].verdict, kDrop);
  EXPECT_EQ(ev[1].reason, kReasonPolicyDenied);
  EXPECT_EQ(ev[1].rule_id, kNoRule);
  EXPECT_EQ(ev[1].subject_class, 1u);
  EXPECT_EQ(ev[1].peer_class, 0u);

  EXPECT_EQ(ev[2].direction, kDirEgress);
  EXPECT_EQ(ev[2].verdict, kDrop);
  EXPECT_EQ(ev[2].reason, kReasonPolicyDeny);
  EXPECT_EQ(ev[2].rule_id, 9u);
  EXPECT_EQ(ev[2].subject_class, 0u);
  EXPECT_EQ(ev[2].peer_class, 2u);

  in6_addr a6{};
  inet_pton(AF_INET6, "fd00::99", &a6);
  EXPECT_EQ(std::memcmp(ev[3].saddr, &a6, 16), 0);
  inet_pton(AF_INET6, "fd00::10", &a6);
  EXPECT_EQ(std::memcmp(ev[3].daddr, &a6, 16), 0);
  EXPECT_EQ(ev[3].family, 6);
  EXPECT_EQ(ev[3].subject_class, 0u);
  EXPECT_EQ(ev[3].peer_class, 3u);  // ::/0

  EXPECT_TRUE(b.drain_events().empty());
}

TEST_F(Bundle, FullRingDropsEventsNotPackets) {
  LoadedBundle b = LoadedBundle::load(dir_);
  auto packet = build_packet(tcp("10.0.1.20", "10.0.1.10"));
  RunResult r = test_run(b.program_for_class(0).ingress_fd, packet, 100000);
  EXPECT_EQ(r.verdict, kAllow);
  size_t n = b.drain_events().size();
  EXPECT_GT(n, 1000u);
  EXPECT_LT(n, 100000u);  // 1 MiB holds ~13k events of 72 + 8 bytes
  EXPECT_EQ(test_run(b.program_for_class(0).ingress_fd, packet).verdict, kAllow);
  EXPECT_EQ(b.drain_events().size(), 1u);
}

TEST_F(Bundle, HashMismatchIsRejected) {
  std::string ipcache = slurp(dir_ / "ipcache.json");
  spill(dir_ / "ipcache.json", ipcache + " ");  // changed after the manifest was written
  expect_load_error("ipcache.json: sha256");
}

TEST_F(Bundle, TamperedObjectIsRejected) {
  std::string object = slurp(dir_ / "prog-bbbb.bpf.o");
  object[object.size() / 2] ^= 1;
  spill(dir_ / "prog-bbbb.bpf.o", object);
  expect_load_error("prog-bbbb.bpf.o: sha256");
}

TEST_F(Bundle, UnlistedFilesAreRejected) {
  listed_.erase("prog-bbbb.maps.json");
  write_manifest();
  expect_load_error("prog-bbbb.maps.json is not listed");
  listed_.erase("prog-bbbb.bpf.o");
  fs::remove(dir_ / "prog-bbbb.maps.json");
  write_manifest();
  expect_load_error("prog-bbbb.bpf.o is not listed");
}

TEST_F(Bundle, BadManifestsAreRejected) {
  spill(dir_ / "manifest.json", R"({"format": "cnpc-bundle/2", "files": []})");
  expect_load_error("format");
  spill(dir_ / "manifest.json", R"({"format": "cnpc-bundle/1", "files": [{"path": "../etc/passwd", "sha256": ""}]})");
  expect_load_error("bad file path");
  spill(dir_ / "manifest.json", R"({"format": "cnpc-bundle/1", "files": [3]})");
  expect_load_error("json.exception");  // the wrong shape: still a runtime_error
  spill(dir_ / "manifest.json", "{");
  expect_load_error("manifest.json");
  fs::remove(dir_ / "manifest.json");
  expect_load_error("cannot read");
}

TEST_F(Bundle, BadTableMapsAreRejected) {
  write("prog-aaaa.maps.json", json{{"cnpc_peer_bits_eg", json::array()}}.dump());
  write_manifest();
  expect_load_error("has no table map cnpc_peer_bits_eg");
  write("prog-aaaa.maps.json", json{{"cnpc_peer_bits_in", {{{"key", 0}, {"value", {1, 2, 3}}}}}}.dump());
  write_manifest();
  expect_load_error("exceed the value size");
  write("prog-aaaa.maps.json", json{{"cnpc_peer_bits_in", {{{"key", 64}, {"value", {1}}}}}}.dump());
  write_manifest();
  expect_load_error("update");  // beyond max_entries
  write("prog-aaaa.maps.json", json{{"test_percpu", {{{"key", 0}, {"value", 1}}}}}.dump());
  write_manifest();
  expect_load_error("test_percpu is not an array or hash map");
  write("prog-aaaa.maps.json", json{{"cnpc_ipcache", json::array()}}.dump());
  write_manifest();
  expect_load_error("has no table map cnpc_ipcache");  // shared maps are not tables
  write("prog-aaaa.maps.json", json{{"cnpc_peer_bits_in", {{{"value", {1}}}}}}.dump());
  write_manifest();
  expect_load_error("key");
}

TEST_F(Bundle, VerifierLogIsInTheError) {
  write("prog-bbbb.bpf.o", slurp(CNPC_BAD_PROG));
  write_manifest();
  // The kernel's words for a packet read without a bounds check.
  expect_load_error("invalid access to packet");
  try {
    LoadedBundle::load(dir_);
  } catch (const std::runtime_error& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("prog-bbbb.bpf.o: load failed"), std::string::npos) << msg;
    EXPECT_NE(msg.find("cnpc_ingress"), std::string::npos) << msg;
  }
  EXPECT_THROW(LoadedObject::load(CNPC_BAD_PROG), std::runtime_error);
  EXPECT_THROW(LoadedObject::load("/nonexistent.bpf.o"), std::runtime_error);
}

// codegen's metadata: programs[].maps names the tables file (null: none);
// endpoints without a program of their own have "program": null.
TEST_F(Bundle, MapsFieldAndEndpointsWithoutProgram) {
  listed_.erase("prog-aaaa.maps.json");
  fs::rename(dir_ / "prog-aaaa.maps.json", dir_ / "tables-a.json");
  listed_.insert("tables-a.json");
  write("metadata.json", json{
      {"format", "cnpc-bundle/1"},
      {"endpoints", {{{"name", "ns/web"}, {"class", 0}, {"ips", {"10.0.1.10"}}, {"program", "prog-aaaa.bpf.o"}},
                     {{"name", "node:n1"}, {"class", 4}, {"ips", json::array()}, {"program", nullptr}}}},
      {"programs", {{{"object", "prog-aaaa.bpf.o"}, {"maps", "tables-a.json"}, {"classes", {0, 1}}},
                    {{"object", "prog-bbbb.bpf.o"}, {"maps", nullptr}, {"classes", {2}}}}}}.dump());
  write_manifest();
  LoadedBundle b = LoadedBundle::load(dir_);
  EXPECT_EQ(b.program_for_endpoint("node:n1"), nullptr);
  auto verdict = [](int fd, const PacketSpec& s) { return test_run(fd, build_packet(s)).verdict; };
  EXPECT_EQ(verdict(b.program_for_class(0).ingress_fd, tcp("10.0.1.20", "10.0.1.10")), kAllow);  // tables-a.json
  // prog-bbbb's maps.json is ignored ("maps": null): class 0 is not admitted.
  EXPECT_EQ(verdict(b.program_for_class(2).ingress_fd, tcp("10.0.1.10", "10.0.2.5")), kDrop);

  listed_.erase("tables-a.json");
  write_manifest();
  expect_load_error("tables-a.json is not listed");
}

size_t open_fds() {
  size_t n = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator("/proc/self/fd")) n++;
  return n;
}

TEST_F(Bundle, EverythingIsClosedAfterward) {
  size_t before = open_fds();
  {
    LoadedBundle b = LoadedBundle::load(dir_);
    LoadedBundle moved = std::move(b);
    LoadedObject o = LoadedObject::load(CNPC_TEST_PROG);
    EXPECT_GT(open_fds(), before + 8);
  }
  EXPECT_EQ(open_fds(), before);
  try {
    write("prog-bbbb.bpf.o", slurp(CNPC_BAD_PROG));
    write_manifest();
    LoadedBundle::load(dir_);  // fails after prog-aaaa loaded
  } catch (const std::runtime_error&) {
  }
  EXPECT_EQ(open_fds(), before);
}

TEST_F(Bundle, EmptyBundleLoads) {
  for (const char* f : {"prog-aaaa.bpf.o", "prog-bbbb.bpf.o", "prog-aaaa.maps.json", "prog-bbbb.maps.json"}) {
    listed_.erase(f);
    fs::remove(dir_ / f);
  }
  write("metadata.json", R"({"classes": [], "endpoints": [], "rules": [], "programs": [], "world_class_base": 0})");
  write("ipcache.json", "[]");
  write_manifest();
  LoadedBundle b = LoadedBundle::load(dir_);
  EXPECT_TRUE(b.programs().empty());
  EXPECT_TRUE(b.drain_events().empty());
  b.ipcache_update("10.0.0.0/8", 1);
}

}  // namespace
