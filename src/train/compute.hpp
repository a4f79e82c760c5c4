// Where and in what precision work runs: device, dtype policy (fp32, or bf16 autocast for matmuls with
// fp32 master weights) and thread count. Shared by every training and inference command.
#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <string>

#include "core/names.hpp"

namespace srl::train {

enum class DeviceKind { Cpu, Cuda };
inline constexpr config::Names<DeviceKind, 2> kDeviceNames{{{"cpu", DeviceKind::Cpu}, {"cuda", DeviceKind::Cuda}}};
// Matmul precision: Auto = bf16 where the hardware has native bf16, else fp32.
enum class DtypePolicy { Auto, Fp32, Bf16 };
inline constexpr config::Names<DtypePolicy, 3> kDtypeNames{
    {{"auto", DtypePolicy::Auto}, {"fp32", DtypePolicy::Fp32}, {"bf16", DtypePolicy::Bf16}}};

struct ComputeSection {
  DeviceKind device = DeviceKind::Cpu;
  DtypePolicy dtype = DtypePolicy::Auto;
  int64_t threads = 0;         // 0 = all cores
  template <class V>
  void visit(V& v) {
    v.choice("device", device, kDeviceNames, "where tensors live");
    v.choice("dtype", dtype, kDtypeNames, "matmul precision; master weights stay fp32");
    v("threads", threads, "CPU threads for libtorch (0 = all cores)");
  }
};

struct Compute {
  torch::Device device = torch::kCPU;
  bool bf16 = false;
};

// True when the CPU has native bf16 arithmetic (AVX512-BF16 or AMX), read from /proc/cpuinfo.
bool cpu_has_native_bf16();
// Applies threads, checks the device exists, resolves "auto". Bad values are srl::fail naming `where`.
Compute setup_compute(const ComputeSection& c, const std::string& where = "compute");

// Enables bf16 autocast for its lifetime (no-op when `on` is false); clears the cast cache on exit.
class AutocastGuard {
 public:
  AutocastGuard(bool on, torch::Device device);
  ~AutocastGuard();
  AutocastGuard(const AutocastGuard&) = delete;
  AutocastGuard& operator=(const AutocastGuard&) = delete;

 private:
  bool on_, cuda_, prev_ = false;
};

}  // namespace srl::train
