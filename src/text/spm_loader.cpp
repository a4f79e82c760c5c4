// Finds and dlopen()s libsrl_spm.so; see spm_loader.hpp for why sentencepiece is loaded this way.
#include "text/spm_loader.hpp"

#include <dlfcn.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <mutex>

#include "core/error.hpp"

#ifndef SRL_SPM_BRIDGE_PATH
#define SRL_SPM_BRIDGE_PATH ""
#endif

namespace srl::text::detail {

namespace {

constexpr const char* kLibName = "libsrl_spm.so";
constexpr const char* kWhere = "tokenizer";

template <class Fn>
void bind(void* handle, const std::string& path, const char* name, Fn& out) {
  void* sym = dlsym(handle, name);
  if (!sym) fail(kWhere, "sentencepiece bridge " + path + " lacks symbol " + name + " (stale build?)");
  out = reinterpret_cast<Fn>(sym);
}

std::string exe_dir() {
  std::error_code ec;
  auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::string() : exe.parent_path().string();
}

}  // namespace

SpmApi open_spm_bridge(const std::string& path) {
  // DEEPBIND: sentencepiece's references resolve inside its own tree first (its protobuf-lite copy);
  // LOCAL: its exported protobuf symbols never interpose on libtorch's libprotobuf.
  void* h = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND);
  if (!h) {
    const char* err = dlerror();
    fail(kWhere, "cannot load the sentencepiece bridge " + path + ": " + (err ? err : "unknown dlopen error") +
                     " (set SRL_SPM_BRIDGE to the path of " + kLibName + ")");
  }
  SpmApi api;
  api.path = path;
  srl_spm_api_version_fn version = nullptr;
  bind(h, path, "srl_spm_api_version", version);
  if (version() != SRL_SPM_API_VERSION)
    fail(kWhere, "sentencepiece bridge " + path + " has API version " + std::to_string(version()) + ", expected " +
                     std::to_string(SRL_SPM_API_VERSION) + " (rebuild it)");
  bind(h, path, "srl_spm_last_error", api.last_error);
  bind(h, path, "srl_spm_load", api.load);
  bind(h, path, "srl_spm_free", api.free);
  bind(h, path, "srl_spm_vocab_size", api.vocab_size);
  bind(h, path, "srl_spm_encode", api.encode);
  bind(h, path, "srl_spm_decode", api.decode);
  bind(h, path, "srl_spm_id_to_piece", api.id_to_piece);
  bind(h, path, "srl_spm_piece_to_id", api.piece_to_id);
  bind(h, path, "srl_spm_is_control", api.is_control);
  bind(h, path, "srl_spm_is_byte", api.is_byte);
  bind(h, path, "srl_spm_is_unknown", api.is_unknown);
  bind(h, path, "srl_spm_train", api.train);
  return api;
}

const SpmApi& spm() {
  static std::mutex mu;
  static std::unique_ptr<SpmApi> loaded;  // set once; never reset, so references stay valid
  std::lock_guard<std::mutex> lock(mu);
  if (loaded) return *loaded;

  if (const char* env = std::getenv("SRL_SPM_BRIDGE"); env && *env) {
    // An explicit choice is honoured or reported, never silently replaced by another copy.
    loaded = std::make_unique<SpmApi>(open_spm_bridge(env));
    return *loaded;
  }
  std::string tried;
  std::string candidates[2];
  if (auto dir = exe_dir(); !dir.empty()) candidates[0] = dir + "/" + kLibName;
  candidates[1] = SRL_SPM_BRIDGE_PATH;
  for (const auto& c : candidates) {
    if (c.empty()) continue;
    if (std::filesystem::exists(c)) {
      loaded = std::make_unique<SpmApi>(open_spm_bridge(c));
      return *loaded;
    }
    tried += (tried.empty() ? "" : ", ") + c;
  }
  fail(kWhere, std::string("cannot find the sentencepiece bridge ") + kLibName + " (tried: " +
                   (tried.empty() ? "nothing" : tried) + "); set SRL_SPM_BRIDGE to its path");
}

}  // namespace srl::text::detail
