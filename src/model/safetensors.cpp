// Hand-written safetensors reader/writer; the byte layout is documented in docs/checkpoint_format.md.
// The reader validates the whole header (types, dtypes, sizes, full non-overlapping coverage of the
// buffer) before it allocates any tensor, so a corrupt or truncated file is always a clean srl::fail.
#include "model/safetensors.hpp"

#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <vector>

#include "core/error.hpp"
#include "core/fs.hpp"

namespace srl::model::safetensors {

// The format is little-endian on disk and we copy tensor bytes verbatim.
static_assert(std::endian::native == std::endian::little, "safetensors I/O assumes a little-endian host");

namespace {

constexpr uint64_t kMaxHeaderBytes = 100ull * 1000 * 1000;  // the reference implementation's limit
constexpr const char* kMetadataKey = "__metadata__";

struct DType {
  const char* name;
  torch::ScalarType type;
  size_t size;
};

constexpr DType kDTypes[] = {
    {"F32", torch::kFloat32, 4}, {"BF16", torch::kBFloat16, 2}, {"F16", torch::kFloat16, 2},
    {"F64", torch::kFloat64, 8}, {"I64", torch::kInt64, 8},     {"I32", torch::kInt32, 4},
    {"I16", torch::kInt16, 2},   {"I8", torch::kInt8, 1},       {"U8", torch::kUInt8, 1},
    {"BOOL", torch::kBool, 1},
};

const DType* dtype_by_name(const std::string& name) {
  for (const auto& d : kDTypes)
    if (name == d.name) return &d;
  return nullptr;
}

const DType* dtype_by_type(torch::ScalarType t) {
  for (const auto& d : kDTypes)
    if (t == d.type) return &d;
  return nullptr;
}

// Reads a non-negative JSON integer that fits in int64 (shape dims and offsets are both bounded
// by the file size or torch's int64 sizes, so anything larger is corrupt, not merely big).
bool as_index(const nlohmann::json& v, uint64_t& out) {
  if (!v.is_number_integer()) return false;  // floats, strings, bools, null
  if (v.is_number_unsigned()) {
    out = v.get<uint64_t>();
  } else {
    int64_t s = v.get<int64_t>();
    if (s < 0) return false;
    out = static_cast<uint64_t>(s);
  }
  return out <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
}

struct Entry {
  std::string name;
  const DType* dtype;
  std::vector<int64_t> shape;
  uint64_t begin, end;
};

Entry parse_entry(const std::string& where, const std::string& name, const nlohmann::json& v, uint64_t buffer_size) {
  const std::string what = "tensor '" + name + "': ";
  if (!v.is_object()) fail(where, what + "header entry is not a JSON object");
  for (const auto& [key, _] : v.items())
    if (key != "dtype" && key != "shape" && key != "data_offsets") fail(where, what + "unexpected key '" + key + "'");
  auto dt = v.find("dtype"), sh = v.find("shape"), off = v.find("data_offsets");
  if (dt == v.end()) fail(where, what + "missing 'dtype'");
  if (sh == v.end()) fail(where, what + "missing 'shape'");
  if (off == v.end()) fail(where, what + "missing 'data_offsets'");
  if (!dt->is_string()) fail(where, what + "'dtype' is not a string");
  Entry e{name, dtype_by_name(dt->get<std::string>()), {}, 0, 0};
  if (!e.dtype) fail(where, what + "unsupported dtype '" + dt->get<std::string>() + "'");

  if (!sh->is_array()) fail(where, what + "'shape' is not an array");
  // Element count with overflow checks, so a hostile shape cannot wrap around to match its span.
  // Zero dims are counted as 1 here: torch also computes strides from the other dims, so even an
  // empty tensor must have a shape whose non-zero dims multiply within int64.
  uint64_t numel = 1, extent = 1;
  for (const auto& d : *sh) {
    uint64_t dim;
    if (!as_index(d, dim)) fail(where, what + "'shape' entries must be non-negative integers, got " + d.dump());
    e.shape.push_back(static_cast<int64_t>(dim));
    numel *= dim;  // cannot overflow unless `extent` does, which is rejected below
    if (__builtin_mul_overflow(extent, std::max<uint64_t>(dim, 1), &extent) ||
        extent > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
      fail(where, what + "shape " + sh->dump() + " is too large");
  }
  uint64_t nbytes = 0;
  if (__builtin_mul_overflow(numel, e.dtype->size, &nbytes)) fail(where, what + "shape " + sh->dump() + " is too large");

  if (!off->is_array() || off->size() != 2) fail(where, what + "'data_offsets' must be an array [begin, end]");
  if (!as_index((*off)[0], e.begin) || !as_index((*off)[1], e.end))
    fail(where, what + "'data_offsets' must be non-negative integers, got " + off->dump());
  if (e.end < e.begin) fail(where, what + "data_offsets end " + std::to_string(e.end) + " < begin " + std::to_string(e.begin));
  if (e.end > buffer_size)
    fail(where, what + "data_offsets end " + std::to_string(e.end) + " is beyond the data buffer (" +
                    std::to_string(buffer_size) + " bytes; file truncated?)");
  if (e.end - e.begin != nbytes)
    fail(where, what + "data_offsets span " + std::to_string(e.end - e.begin) + " bytes but dtype " + e.dtype->name +
                    " with shape " + sh->dump() + " needs " + std::to_string(nbytes));
  return e;
}

std::string serialize_impl(const std::map<std::string, torch::Tensor>& tensors,
                           const std::map<std::string, std::string>& metadata, const std::string& where) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header[kMetadataKey] = metadata;
  std::vector<torch::Tensor> ready;
  uint64_t offset = 0;
  for (const auto& [name, tensor] : tensors) {  // std::map: already sorted by name (bytewise)
    const std::string what = "tensor '" + name + "': ";
    if (name == kMetadataKey) fail(where, what + "name is reserved for metadata");
    if (!tensor.defined()) fail(where, what + "is undefined");
    if (tensor.layout() != torch::kStrided) fail(where, what + "only dense (strided) tensors can be saved");
    const DType* dt = dtype_by_type(tensor.scalar_type());
    if (!dt) fail(where, what + "dtype " + std::string(c10::toString(tensor.scalar_type())) + " cannot be saved");
    // resolve_neg: a lazily negated view would otherwise be written un-negated.
    torch::Tensor t = tensor.detach().to(torch::kCPU).resolve_neg().contiguous();
    const uint64_t nbytes = static_cast<uint64_t>(t.numel()) * dt->size;
    header[name] = {{"dtype", dt->name}, {"shape", t.sizes().vec()}, {"data_offsets", {offset, offset + nbytes}}};
    offset += nbytes;
    ready.push_back(std::move(t));
  }
  std::string json;
  try {
    json = header.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::strict);
  } catch (const nlohmann::json::exception&) {
    fail(where, "a tensor name or metadata string is not valid UTF-8");
  }
  // Spaces are JSON whitespace, so padding keeps the header valid while aligning the buffer to 8.
  json.append((8 - json.size() % 8) % 8, ' ');

  std::string out;
  out.reserve(8 + json.size() + offset);
  const uint64_t n = json.size();
  out.append(reinterpret_cast<const char*>(&n), 8);
  out += json;
  for (const auto& t : ready)
    if (t.numel() > 0) out.append(static_cast<const char*>(t.data_ptr()), t.numel() * t.element_size());
  return out;
}

}  // namespace

File load_from_bytes(const std::string& bytes, const std::string& where) {
  if (bytes.size() < 8)
    fail(where, "safetensors file is " + std::to_string(bytes.size()) + " bytes, too short for the 8-byte header length");
  uint64_t n;
  std::memcpy(&n, bytes.data(), 8);
  if (n > kMaxHeaderBytes) fail(where, "safetensors header length " + std::to_string(n) + " is absurd (limit 100 MB); not a safetensors file?");
  if (n > bytes.size() - 8)
    fail(where, "safetensors header length " + std::to_string(n) + " exceeds the " + std::to_string(bytes.size() - 8) +
                    " bytes after it (file truncated?)");

  // Duplicate keys would silently shadow each other in the parsed object; track them per object.
  std::vector<std::set<std::string>> open_objects;
  std::string duplicate;
  auto on_event = [&](int, nlohmann::json::parse_event_t ev, nlohmann::json& parsed) {
    using E = nlohmann::json::parse_event_t;
    if (ev == E::object_start) open_objects.emplace_back();
    if (ev == E::object_end && !open_objects.empty()) open_objects.pop_back();
    if (ev == E::key && !open_objects.empty() && !open_objects.back().insert(parsed.get<std::string>()).second &&
        duplicate.empty())
      duplicate = parsed.get<std::string>();
    return true;
  };
  const auto header_begin = bytes.begin() + 8;
  nlohmann::json header = nlohmann::json::parse(header_begin, header_begin + static_cast<std::ptrdiff_t>(n), on_event,
                                                /*allow_exceptions=*/false);
  if (header.is_discarded()) fail(where, "safetensors header is not valid UTF-8 JSON (file truncated or corrupt?)");
  if (!header.is_object()) fail(where, "safetensors header is not a JSON object");
  if (!duplicate.empty()) fail(where, "safetensors header has duplicate key '" + duplicate + "'");

  const uint64_t buffer_size = bytes.size() - 8 - n;
  File file;
  std::vector<Entry> entries;
  for (const auto& [key, value] : header.items()) {
    if (key == kMetadataKey) {
      if (!value.is_object()) fail(where, "'__metadata__' is not a JSON object");
      for (const auto& [mk, mv] : value.items()) {
        if (!mv.is_string()) fail(where, "'__metadata__' value for '" + mk + "' is not a string");
        file.metadata[mk] = mv.get<std::string>();
      }
      continue;
    }
    entries.push_back(parse_entry(where, key, value, buffer_size));
  }

  // The buffer must be exactly tiled by the tensors: no overlaps (aliasing), no holes, no tail.
  std::vector<const Entry*> by_offset;
  for (const auto& e : entries) by_offset.push_back(&e);
  std::sort(by_offset.begin(), by_offset.end(),
            [](const Entry* a, const Entry* b) { return a->begin != b->begin ? a->begin < b->begin : a->end < b->end; });
  uint64_t cursor = 0;
  const Entry* prev = nullptr;
  for (const Entry* e : by_offset) {
    if (e->begin < cursor)
      fail(where, "tensor '" + e->name + "' overlaps tensor '" + prev->name + "' in the data buffer");
    if (e->begin > cursor)
      fail(where, "data buffer has a hole of " + std::to_string(e->begin - cursor) + " bytes before tensor '" + e->name + "'");
    cursor = e->end;
    prev = e;
  }
  if (cursor != buffer_size)
    fail(where, "data buffer has " + std::to_string(buffer_size - cursor) + " unused trailing bytes");

  const char* buffer = bytes.data() + 8 + n;
  for (const auto& e : entries) {
    const char* src = buffer + e.begin;
    const size_t nbytes = e.end - e.begin;
    if (e.dtype->type == torch::kBool) {
      // Any byte but 0/1 is not a valid bool for torch; reject rather than hand out undefined values.
      for (size_t i = 0; i < nbytes; ++i)
        if (static_cast<unsigned char>(src[i]) > 1) fail(where, "tensor '" + e.name + "': BOOL byte is neither 0 nor 1");
    }
    torch::Tensor t = torch::empty(e.shape, torch::TensorOptions().dtype(e.dtype->type));
    if (nbytes > 0) std::memcpy(t.data_ptr(), src, nbytes);  // owned copy: the file buffer dies with us
    file.tensors.emplace(e.name, std::move(t));
  }
  return file;
}

File load(const std::string& path) { return load_from_bytes(fs::read_file(path), path); }

std::string serialize(const std::map<std::string, torch::Tensor>& tensors,
                      const std::map<std::string, std::string>& metadata) {
  return serialize_impl(tensors, metadata, "safetensors::serialize");
}

void save(const std::string& path, const std::map<std::string, torch::Tensor>& tensors,
          const std::map<std::string, std::string>& metadata) {
  fs::write_file_atomic(path, serialize_impl(tensors, metadata, path));
}

}  // namespace srl::model::safetensors
