#include "train/compute.hpp"

#include <ATen/autocast_mode.h>

#include <fstream>
#include <string>
#include <thread>

#include "core/error.hpp"

namespace srl::train {

bool cpu_has_native_bf16() {
  static const bool has = [] {
    std::ifstream in("/proc/cpuinfo");
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind("flags", 0) != 0) continue;
      return line.find(" avx512_bf16") != std::string::npos || line.find(" amx_bf16") != std::string::npos;
    }
    return false;
  }();
  return has;
}

Compute setup_compute(const ComputeSection& c, const std::string& where) {
  Compute out;
  if (c.threads < 0) fail(where + ".threads", "must be >= 0");
  const int n = c.threads > 0 ? static_cast<int>(c.threads) : static_cast<int>(std::thread::hardware_concurrency());
  torch::set_num_threads(std::max(1, n));
  if (c.device == DeviceKind::Cuda) {
    if (!torch::cuda::is_available()) fail(where + ".device", "cuda requested but libtorch has no usable CUDA device");
    out.device = torch::kCUDA;
  }
  if (c.dtype == DtypePolicy::Bf16) out.bf16 = true;
  if (c.dtype == DtypePolicy::Auto) out.bf16 = out.device.is_cuda() || cpu_has_native_bf16();
  return out;
}

AutocastGuard::AutocastGuard(bool on, torch::Device device) : on_(on), cuda_(device.is_cuda()) {
  if (!on_) return;
  if (cuda_) {
    prev_ = at::autocast::is_enabled();
    at::autocast::set_autocast_gpu_dtype(at::kBFloat16);
    at::autocast::set_enabled(true);
  } else {
    prev_ = at::autocast::is_cpu_enabled();
    at::autocast::set_autocast_cpu_dtype(at::kBFloat16);
    at::autocast::set_cpu_enabled(true);
  }
  at::autocast::increment_nesting();
}

AutocastGuard::~AutocastGuard() {
  if (!on_) return;
  // The cast cache holds bf16 copies of the weights; they go stale after the optimizer step.
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
  if (cuda_) {
    at::autocast::set_enabled(prev_);
  } else {
    at::autocast::set_cpu_enabled(prev_);
  }
}

}  // namespace srl::train
