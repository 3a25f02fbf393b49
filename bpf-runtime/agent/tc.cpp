#include "tc.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <iostream>
#include <stdexcept>

namespace cnpc::agent {
namespace {

// Our filter's identity on the hook: fixed so a reload replaces it in place.
constexpr unsigned kHandle = 0xC0C;
constexpr unsigned kPriority = 1;

bpf_tc_hook make_hook(int ifindex, TcPoint point) {
  bpf_tc_hook hook{};
  hook.sz = sizeof(hook);
  hook.ifindex = ifindex;
  hook.attach_point = point == TcPoint::Ingress ? BPF_TC_INGRESS : BPF_TC_EGRESS;
  return hook;
}

std::string where(int ifindex, TcPoint point) {
  return "ifindex " + std::to_string(ifindex) + (point == TcPoint::Ingress ? " tc ingress" : " tc egress");
}

}  // namespace

Clsact::Clsact(int ifindex) : ifindex_(ifindex) {
  bpf_tc_hook hook = make_hook(ifindex, TcPoint::Ingress);
  int err = bpf_tc_hook_create(&hook);
  if (err && err != -EEXIST)
    throw std::runtime_error("creating clsact on ifindex " + std::to_string(ifindex) + ": " + std::strerror(-err));
  created_ = err == 0;
}

Clsact::~Clsact() {
  if (!created_) return;
  bpf_tc_hook hook = make_hook(ifindex_, TcPoint::Ingress);
  // Both attach points at once: that is what deletes the qdisc itself.
  hook.attach_point = static_cast<bpf_tc_attach_point>(BPF_TC_INGRESS | BPF_TC_EGRESS);
  bpf_tc_hook_destroy(&hook);  // fails harmlessly when the interface is gone
}

// Puts prog_fd in our slot (handle, priority) of the hook.
static int attach(int ifindex, TcPoint point, int prog_fd, bool replace) {
  bpf_tc_hook hook = make_hook(ifindex, point);
  bpf_tc_opts opts{};
  opts.sz = sizeof(opts);
  opts.handle = kHandle;
  opts.priority = kPriority;
  opts.prog_fd = prog_fd;
  // Without BPF_TC_F_REPLACE: refuses (EEXIST) when another agent holds our slot.
  if (replace) opts.flags = BPF_TC_F_REPLACE;
  return bpf_tc_attach(&hook, &opts);
}

TcFilter::TcFilter(int ifindex, TcPoint point, int prog_fd, bool take_over) : ifindex_(ifindex), point_(point) {
  if (int err = attach(ifindex, point, prog_fd, take_over))
    throw std::runtime_error("attaching to " + where(ifindex, point) + ": " + std::strerror(-err));
}

void TcFilter::replace(int prog_fd) {
  if (int err = attach(ifindex_, point_, prog_fd, true))
    throw std::runtime_error("replacing the program on " + where(ifindex_, point_) + ": " + std::strerror(-err));
}

TcFilter::~TcFilter() {
  bpf_tc_hook hook = make_hook(ifindex_, point_);
  bpf_tc_opts opts{};
  opts.sz = sizeof(opts);
  opts.handle = kHandle;
  opts.priority = kPriority;
  int err = bpf_tc_detach(&hook, &opts);
  // The interface may be gone already (its namespace deleted): nothing to do.
  if (err && err != -ENOENT && err != -ENODEV && err != -EINVAL)
    std::cerr << "cnpc-agent: detaching from " << where(ifindex_, point_) << ": " << std::strerror(-err) << '\n';
}

void pin_fd(int fd, const std::string& path) {
  ::unlink(path.c_str());  // a previous bundle's map: replace it
  if (bpf_obj_pin(fd, path.c_str()))
    throw std::runtime_error("pinning " + path + ": " + std::strerror(errno));
}

}  // namespace cnpc::agent
