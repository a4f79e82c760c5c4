// Run-time loader for libsrl_spm.so (the sentencepiece bridge). Internal to src/text: the main library
// must never link sentencepiece (its embedded protobuf clashes with libtorch's), so it is dlopen()ed
// with RTLD_LOCAL | RTLD_DEEPBIND, which keeps its symbols out of the global scope and binds
// sentencepiece to its own protobuf copy.
#pragma once
#include <string>

#include "text/spm_bridge/spm_bridge.h"

namespace srl::text::detail {

struct SpmApi {
  std::string path;  // the library actually loaded
  srl_spm_last_error_fn last_error = nullptr;
  srl_spm_load_fn load = nullptr;
  srl_spm_free_fn free = nullptr;
  srl_spm_vocab_size_fn vocab_size = nullptr;
  srl_spm_encode_fn encode = nullptr;
  srl_spm_decode_fn decode = nullptr;
  srl_spm_id_to_piece_fn id_to_piece = nullptr;
  srl_spm_piece_to_id_fn piece_to_id = nullptr;
  srl_spm_is_control_fn is_control = nullptr;
  srl_spm_is_byte_fn is_byte = nullptr;
  srl_spm_is_unknown_fn is_unknown = nullptr;
  srl_spm_train_fn train = nullptr;
};

// The process-wide bridge, loaded on first use. Search order: $SRL_SPM_BRIDGE (if set, it must
// work), libsrl_spm.so next to the running executable, then the build-tree path baked in at compile
// time. Failure is srl::fail naming every path tried; a later call retries.
const SpmApi& spm();

// Opens the bridge at exactly `path` (the library is never unloaded). srl::fail with the dlerror text
// if it cannot be opened or lacks a symbol.
SpmApi open_spm_bridge(const std::string& path);

}  // namespace srl::text::detail
