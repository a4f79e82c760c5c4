// Reader and writer for the safetensors checkpoint format (the subset in docs/checkpoint_format.md):
// an 8-byte little-endian header length, a JSON header, then one packed byte buffer.
// Every malformed input is reported as srl::fail(path, reason) before any tensor is built.
// It is not a general serialization library: no lazy/mmap loading, no dtypes beyond the table in
// the .cpp, no big-endian hosts, and tensors are always returned as owned, contiguous CPU tensors.
#pragma once
#include <torch/torch.h>

#include <map>
#include <string>

namespace srl::model::safetensors {

struct File {
  std::map<std::string, torch::Tensor> tensors;
  std::map<std::string, std::string> metadata;  // the "__metadata__" object; empty when absent
};

// Reads and validates a whole file. Errors name `path`.
File load(const std::string& path);
// Same, from bytes already in memory; `source_name` is used as the error location.
File load_from_bytes(const std::string& bytes, const std::string& source_name);

// Writes atomically (temp file + rename). Tensors may be non-contiguous or on any device: they are
// copied to contiguous CPU memory first. Readable dtypes are F32, BF16, F16, F64, I64, I32, I16, I8,
// U8 and BOOL; the same set is writable, anything else (complex, quantized, ...) is an error.
void save(const std::string& path, const std::map<std::string, torch::Tensor>& tensors,
          const std::map<std::string, std::string>& metadata = {});
// The exact bytes `save` writes: tensors in name order, header padded with spaces to 8 bytes.
std::string serialize(const std::map<std::string, torch::Tensor>& tensors,
                      const std::map<std::string, std::string>& metadata = {});

}  // namespace srl::model::safetensors
