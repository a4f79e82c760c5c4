// libsrl_spm.so: wraps sentencepiece behind the C API in spm_bridge.h. Built as its own shared library
// and dlopen()ed by the main library so sentencepiece's embedded protobuf never meets libtorch's.
#include "spm_bridge.h"

#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>

#include <exception>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#define SRL_SPM_EXPORT extern "C" __attribute__((visibility("default")))

struct srl_spm {
  sentencepiece::SentencePieceProcessor sp;
};

namespace {

thread_local std::string g_last_error;

int set_error(const std::string& msg) {
  g_last_error = msg;
  return -1;
}

// Runs `f`, turning any C++ exception into last_error so nothing unwinds through C callers.
template <class F>
int guarded(F&& f) {
  g_last_error.clear();
  try {
    return f();
  } catch (const std::exception& e) {
    return set_error(e.what());
  } catch (...) {
    return set_error("unknown exception in sentencepiece");
  }
}

bool valid_id(const srl_spm* m, int id) { return m && id >= 0 && id < m->sp.GetPieceSize(); }

}  // namespace

SRL_SPM_EXPORT int srl_spm_api_version(void) { return SRL_SPM_API_VERSION; }

SRL_SPM_EXPORT const char* srl_spm_last_error(void) { return g_last_error.c_str(); }

SRL_SPM_EXPORT srl_spm* srl_spm_load(const char* bytes, size_t n) {
  srl_spm* out = nullptr;
  guarded([&] {
    auto m = new srl_spm;
    auto st = m->sp.LoadFromSerializedProto(absl::string_view(bytes, n));
    if (!st.ok()) {
      delete m;
      return set_error(st.ToString());
    }
    out = m;
    return 0;
  });
  return out;
}

SRL_SPM_EXPORT void srl_spm_free(srl_spm* m) { delete m; }

SRL_SPM_EXPORT int srl_spm_vocab_size(const srl_spm* m) { return m ? m->sp.GetPieceSize() : -1; }

SRL_SPM_EXPORT int srl_spm_encode(const srl_spm* m, const char* text, size_t n, srl_spm_ids_sink sink, void* ctx) {
  return guarded([&] {
    std::vector<int> ids;
    auto st = m->sp.Encode(absl::string_view(text, n), &ids);
    if (!st.ok()) return set_error(st.ToString());
    sink(ctx, ids.data(), ids.size());
    return 0;
  });
}

SRL_SPM_EXPORT int srl_spm_decode(const srl_spm* m, const int* ids, size_t n, srl_spm_bytes_sink sink, void* ctx) {
  return guarded([&] {
    for (size_t i = 0; i < n; ++i)
      if (!valid_id(m, ids[i])) return set_error("id out of range: " + std::to_string(ids[i]));
    std::string text;
    auto st = m->sp.Decode(std::vector<int>(ids, ids + n), &text);
    if (!st.ok()) return set_error(st.ToString());
    sink(ctx, text.data(), text.size());
    return 0;
  });
}

SRL_SPM_EXPORT const char* srl_spm_id_to_piece(const srl_spm* m, int id, size_t* len) {
  if (!valid_id(m, id)) return nullptr;
  const std::string& p = m->sp.IdToPiece(id);
  if (len) *len = p.size();
  return p.c_str();
}

SRL_SPM_EXPORT int srl_spm_piece_to_id(const srl_spm* m, const char* piece, size_t n) {
  return m->sp.PieceToId(absl::string_view(piece, n));
}

SRL_SPM_EXPORT int srl_spm_is_control(const srl_spm* m, int id) { return valid_id(m, id) ? m->sp.IsControl(id) : -1; }
SRL_SPM_EXPORT int srl_spm_is_byte(const srl_spm* m, int id) { return valid_id(m, id) ? m->sp.IsByte(id) : -1; }
SRL_SPM_EXPORT int srl_spm_is_unknown(const srl_spm* m, int id) { return valid_id(m, id) ? m->sp.IsUnknown(id) : -1; }

SRL_SPM_EXPORT int srl_spm_train(const char* options, srl_spm_bytes_sink sink, void* ctx) {
  // The trainer uses process-wide state (random generator, log level); one training at a time.
  static std::mutex mu;
  std::lock_guard<std::mutex> lock(mu);
  return guarded([&] {
    std::unordered_map<std::string, std::string> kwargs;
    std::string opts(options ? options : "");
    size_t pos = 0;
    while (pos < opts.size()) {
      size_t end = opts.find('\n', pos);
      if (end == std::string::npos) end = opts.size();
      std::string line = opts.substr(pos, end - pos);
      pos = end + 1;
      if (line.empty()) continue;
      size_t eq = line.find('=');
      if (eq == std::string::npos || eq == 0) return set_error("bad trainer option line: '" + line + "'");
      std::string key = line.substr(0, eq), value = line.substr(eq + 1);
      if (key == "random_seed") {
        // Not a TrainerSpec field: spm_train sets the generator directly, so do the same.
        sentencepiece::SetRandomGeneratorSeed(static_cast<unsigned>(std::stoul(value)));
        continue;
      }
      kwargs[key] = value;
    }
    std::string model;
    auto st = sentencepiece::SentencePieceTrainer::Train(kwargs, nullptr, &model);
    if (!st.ok()) return set_error(st.ToString());
    sink(ctx, model.data(), model.size());
    return 0;
  });
}
