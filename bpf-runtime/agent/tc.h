// The agent's narrow window onto libbpf: tc (clsact) attachment and map
// pinning. cnpc_runtime keeps libbpf private; only these calls need it.
#pragma once

#include <string>

namespace cnpc::agent {

enum class TcPoint { Ingress, Egress };

// The clsact qdisc of an interface: created when missing, and removed by the
// destructor only when this object created it (clean up only what we own).
class Clsact {
 public:
  explicit Clsact(int ifindex);  // throws std::runtime_error
  Clsact(const Clsact&) = delete;
  Clsact& operator=(const Clsact&) = delete;
  ~Clsact();

 private:
  int ifindex_;
  bool created_ = false;
};

// One cnpc filter on one clsact hook (the qdisc must exist). replace() swaps
// the program atomically (BPF_TC_F_REPLACE on the same handle/priority: no
// window without a program); the destructor detaches the filter.
class TcFilter {
 public:
  // take_over: a filter left in our slot by an agent that died is replaced
  // in place (it enforces until ours does); otherwise an occupied slot is
  // an error. Throws std::runtime_error.
  TcFilter(int ifindex, TcPoint point, int prog_fd, bool take_over = false);
  TcFilter(const TcFilter&) = delete;
  TcFilter& operator=(const TcFilter&) = delete;
  ~TcFilter();

  void replace(int prog_fd);  // throws std::runtime_error; the old program stays on failure

 private:
  int ifindex_;
  TcPoint point_;
};

// bpf_obj_pin, replacing an existing pin at `path` (throws std::runtime_error).
void pin_fd(int fd, const std::string& path);

}  // namespace cnpc::agent
