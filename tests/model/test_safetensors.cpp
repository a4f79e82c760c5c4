// Tests for the safetensors reader/writer: bit-exact round trips, the on-disk layout, every
// validation error, truncation and byte-corruption robustness, and a cross-check against the
// independent Python writer in tests/golden (make_golden.py).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "core/fs.hpp"
#include "model/safetensors.hpp"

namespace st = srl::model::safetensors;
using nlohmann::json;

namespace {

const std::string kWhere = "/ckpt/dir/model.safetensors";

std::string u64le(uint64_t n) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  return s;
}

// A file from a raw header string (no padding, so tests control every byte) and a raw buffer.
std::string raw_file(const std::string& header, const std::string& buffer) { return u64le(header.size()) + header + buffer; }

std::string raw_bytes(const torch::Tensor& t) {
  return std::string(static_cast<const char*>(t.data_ptr()), t.numel() * t.element_size());
}

template <typename Bits>
torch::Tensor from_bits(const std::vector<Bits>& bits, torch::ScalarType int_type, torch::ScalarType as) {
  auto t = torch::from_blob(const_cast<Bits*>(bits.data()), {static_cast<int64_t>(bits.size())}, int_type).clone();
  return t.view(as);
}

// Expects a bad-input srl::Error naming the source and containing `reason`.
void expect_bad(const std::string& bytes, const std::string& reason) {
  try {
    st::load_from_bytes(bytes, kWhere);
    ADD_FAILURE() << "expected srl::Error containing '" << reason << "'";
  } catch (const srl::Error& e) {
    EXPECT_EQ(e.exit_code(), 2) << e.what();
    EXPECT_EQ(e.where(), kWhere);
    EXPECT_NE(std::string(e.what()).find(kWhere), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(reason), std::string::npos) << "message: " << e.what() << "\nwanted: " << reason;
  } catch (const std::exception& e) {
    ADD_FAILURE() << "wrong exception type: " << e.what();
  }
}

std::filesystem::path fresh_dir(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() / ("srl_st_test_" + name + "_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

std::map<std::string, torch::Tensor> small_model() {
  return {{"model.norm.weight", torch::tensor({1.0f, -2.5f, 3.25f})},
          {"model.embed_tokens.weight", torch::arange(12, torch::kFloat32).view({4, 3})},
          {"half", torch::tensor({0.5f, 1.5f}).to(torch::kFloat16)},
          {"bf", torch::tensor({-1.0f, 7.0f, 0.125f}).to(torch::kBFloat16)}};
}

}  // namespace

// ---- round trips ----------------------------------------------------------------------------

TEST(Safetensors, F32SpecialValuesRoundTripBitExact) {
  std::vector<uint32_t> bits = {0x00000000, 0x80000000 /*-0*/,   0x7f800000 /*inf*/,  0xff800000 /*-inf*/,
                                0x7fc00001 /*NaN payload*/,      0xffa00123 /*signalling NaN, payload*/,
                                0x00000001 /*min denormal*/,     0x807fffff /*-max denormal*/,
                                0x3f800000 /*1*/,                0x7f7fffff /*max*/,
                                0x12345678,                      0xdeadbeef};
  auto t = from_bits(bits, torch::kInt32, torch::kFloat32).view({3, 4});
  auto f = st::load_from_bytes(st::serialize({{"w", t}}), kWhere);
  const auto& back = f.tensors.at("w");
  EXPECT_EQ(back.scalar_type(), torch::kFloat32);
  EXPECT_EQ(back.sizes(), t.sizes());
  EXPECT_EQ(raw_bytes(back), raw_bytes(t));
}

TEST(Safetensors, BF16SpecialValuesRoundTripBitExact) {
  std::vector<uint16_t> bits = {0x0000, 0x8000, 0x7f80, 0xff80, 0x7fc1, 0xff81, 0x0001, 0x807f, 0x3f80, 0x7f7f, 0xc0a0};
  auto t = from_bits(bits, torch::kInt16, torch::kBFloat16);
  auto back = st::load_from_bytes(st::serialize({{"w", t}}), kWhere).tensors.at("w");
  EXPECT_EQ(back.scalar_type(), torch::kBFloat16);
  EXPECT_EQ(raw_bytes(back), raw_bytes(t));
}

TEST(Safetensors, F16SpecialValuesRoundTripBitExact) {
  std::vector<uint16_t> bits = {0x0000, 0x8000, 0x7c00, 0xfc00, 0x7e01, 0xfd55, 0x0001, 0x83ff, 0x3c00, 0x7bff, 0xc500};
  auto t = from_bits(bits, torch::kInt16, torch::kFloat16);
  auto back = st::load_from_bytes(st::serialize({{"w", t}}), kWhere).tensors.at("w");
  EXPECT_EQ(back.scalar_type(), torch::kFloat16);
  EXPECT_EQ(raw_bytes(back), raw_bytes(t));
}

TEST(Safetensors, OtherDTypesRoundTrip) {
  std::map<std::string, torch::Tensor> in = {
      {"f64", torch::tensor({1.0 / 3.0, -1e300}, torch::kFloat64)},
      {"i64", torch::tensor({INT64_MIN, int64_t{-1}, INT64_MAX}, torch::kInt64)},
      {"i32", torch::tensor({INT32_MIN, 5, INT32_MAX}, torch::kInt32)},
      {"i16", torch::tensor({-300, 300}, torch::kInt16)},
      {"i8", torch::tensor({-128, 127}, torch::kInt8)},
      {"u8", torch::tensor({0, 255, 7}, torch::kUInt8)},
      {"bool", torch::tensor({true, false, true})}};
  auto f = st::load_from_bytes(st::serialize(in), kWhere);
  ASSERT_EQ(f.tensors.size(), in.size());
  for (const auto& [name, t] : in) {
    const auto& b = f.tensors.at(name);
    EXPECT_EQ(b.scalar_type(), t.scalar_type()) << name;
    EXPECT_EQ(raw_bytes(b), raw_bytes(t)) << name;
  }
}

TEST(Safetensors, MetadataRoundTrips) {
  std::map<std::string, std::string> meta = {{"format", "pt"}, {"step", "1200"}, {"empty", ""},
                                             {"quote\"and\\slash", "line\nbreak"}, {"utf8", "h\xc3\xa9llo \xe2\x9c\x93"}};
  auto f = st::load_from_bytes(st::serialize({{"x", torch::ones({2})}}, meta), kWhere);
  EXPECT_EQ(f.metadata, meta);
  // Absent metadata loads as empty, and metadata-only files (no tensors) are valid.
  EXPECT_TRUE(st::load_from_bytes(st::serialize({{"x", torch::ones({2})}}), kWhere).metadata.empty());
  auto only_meta = st::load_from_bytes(st::serialize({}, meta), kWhere);
  EXPECT_TRUE(only_meta.tensors.empty());
  EXPECT_EQ(only_meta.metadata, meta);
}

TEST(Safetensors, EmptyAndScalarTensors) {
  std::map<std::string, torch::Tensor> in = {{"a_empty", torch::empty({0})},
                                             {"b_scalar", torch::tensor(42.5f)},
                                             {"c_empty2d", torch::empty({3, 0}, torch::kBFloat16)},
                                             {"d_after", torch::tensor({9.0f})}};
  auto bytes = st::serialize(in);
  auto f = st::load_from_bytes(bytes, kWhere);
  EXPECT_EQ(f.tensors.at("a_empty").sizes(), torch::IntArrayRef({0}));
  EXPECT_EQ(f.tensors.at("b_scalar").dim(), 0);
  EXPECT_EQ(f.tensors.at("b_scalar").item<float>(), 42.5f);
  EXPECT_EQ(f.tensors.at("c_empty2d").sizes(), torch::IntArrayRef({3, 0}));
  EXPECT_EQ(f.tensors.at("c_empty2d").scalar_type(), torch::kBFloat16);
  EXPECT_EQ(f.tensors.at("d_after").item<float>(), 9.0f);
  // An empty tensor with one huge dim is still representable.
  auto wide = st::load_from_bytes(raw_file(R"({"w":{"dtype":"F32","shape":[0,4611686018427387904],"data_offsets":[0,0]}})", ""), kWhere);
  EXPECT_EQ(wide.tensors.at("w").sizes(), torch::IntArrayRef({0, int64_t{1} << 62}));
  // Header records a scalar as shape [] and an empty tensor as a zero-length span.
  uint64_t n;
  std::memcpy(&n, bytes.data(), 8);
  auto h = json::parse(bytes.substr(8, n));
  EXPECT_EQ(h["b_scalar"]["shape"], json::array());
  EXPECT_EQ(h["a_empty"]["data_offsets"], json({0, 0}));
  EXPECT_EQ(h["b_scalar"]["data_offsets"], json({0, 4}));
}

TEST(Safetensors, LayoutIsSortedPackedAndPadded) {
  // Inserted out of order on purpose; the map sorts, and the writer must follow that order.
  std::map<std::string, torch::Tensor> in = {{"zeta", torch::tensor({1.0f, 2.0f})},
                                             {"Alpha", torch::tensor({3.0f})},
                                             {"mid", torch::tensor({4.0f, 5.0f, 6.0f}).to(torch::kFloat16)}};
  auto bytes = st::serialize(in, {{"k", "v"}});
  uint64_t n;
  std::memcpy(&n, bytes.data(), 8);
  EXPECT_EQ(n % 8, 0u);
  const std::string header = bytes.substr(8, n);
  EXPECT_EQ(header.front(), '{');
  EXPECT_EQ(header.find_last_not_of(' '), header.find_last_of('}'));  // only spaces after the JSON
  auto h = json::parse(header);
  EXPECT_EQ(h["__metadata__"], json({{"k", "v"}}));
  EXPECT_EQ(h["Alpha"], json({{"dtype", "F32"}, {"shape", {1}}, {"data_offsets", {0, 4}}}));
  EXPECT_EQ(h["mid"], json({{"dtype", "F16"}, {"shape", {3}}, {"data_offsets", {4, 10}}}));
  EXPECT_EQ(h["zeta"], json({{"dtype", "F32"}, {"shape", {2}}, {"data_offsets", {10, 18}}}));
  ASSERT_EQ(bytes.size(), 8 + n + 18);
  float z[2];
  std::memcpy(z, bytes.data() + 8 + n + 10, 8);
  EXPECT_EQ(z[0], 1.0f);
  EXPECT_EQ(z[1], 2.0f);
  // Names appear in the header text in buffer order as well.
  EXPECT_LT(header.find("\"Alpha\""), header.find("\"mid\""));
  EXPECT_LT(header.find("\"mid\""), header.find("\"zeta\""));
}

TEST(Safetensors, NonContiguousAndGradTensorsAreSavedByValue) {
  auto base = torch::arange(6, torch::kFloat32).view({2, 3});
  auto t = base.t();  // [3, 2], non-contiguous
  ASSERT_FALSE(t.is_contiguous());
  auto g = torch::ones({2}, torch::requires_grad());
  auto neg = torch::_neg_view(torch::tensor({1.0f, -2.0f}));  // lazily negated view
  auto f = st::load_from_bytes(st::serialize({{"t", t}, {"g", g}, {"neg", neg}}), kWhere);
  const auto& back = f.tensors.at("t");
  EXPECT_EQ(back.sizes(), torch::IntArrayRef({3, 2}));
  EXPECT_TRUE(back.is_contiguous());
  EXPECT_TRUE(torch::equal(back, t));
  EXPECT_FALSE(f.tensors.at("g").requires_grad());
  EXPECT_TRUE(torch::equal(f.tensors.at("neg"), torch::tensor({-1.0f, 2.0f})));
}

TEST(Safetensors, LoadedTensorsOwnTheirMemory) {
  std::string bytes = st::serialize(small_model());
  auto f = st::load_from_bytes(bytes, kWhere);
  const char* lo = bytes.data();
  const char* hi = bytes.data() + bytes.size();
  std::fill(bytes.begin(), bytes.end(), '\xff');  // scribble over the source
  bytes = std::string();
  for (const auto& [name, t] : f.tensors) {
    EXPECT_TRUE(t.is_contiguous()) << name;
    EXPECT_TRUE(t.device().is_cpu()) << name;
    const char* p = static_cast<const char*>(t.data_ptr());
    EXPECT_FALSE(p >= lo && p < hi) << name << " aliases the input buffer";
  }
  EXPECT_TRUE(torch::equal(f.tensors.at("model.embed_tokens.weight"), torch::arange(12, torch::kFloat32).view({4, 3})));
  EXPECT_TRUE(torch::equal(f.tensors.at("bf"), torch::tensor({-1.0f, 7.0f, 0.125f}).to(torch::kBFloat16)));
}

// ---- writer errors ----------------------------------------------------------------------------

TEST(Safetensors, WriterRejectsWhatItCannotRepresent) {
  auto expect_write_error = [](const std::map<std::string, torch::Tensor>& in, const std::string& reason) {
    try {
      st::serialize(in);
      ADD_FAILURE() << "expected srl::Error containing " << reason;
    } catch (const srl::Error& e) {
      EXPECT_NE(std::string(e.what()).find(reason), std::string::npos) << e.what();
    }
  };
  expect_write_error({{"c", torch::zeros({2}, torch::kComplexFloat)}}, "cannot be saved");
  expect_write_error({{"__metadata__", torch::zeros({2})}}, "reserved");
  expect_write_error({{"u", torch::Tensor()}}, "undefined");
  expect_write_error({{std::string("bad\xff name"), torch::zeros({1})}}, "UTF-8");
}

// ---- reader validation -----------------------------------------------------------------------

TEST(Safetensors, RejectsShortOrOversizedHeaderLength) {
  expect_bad("", "too short");
  expect_bad(std::string("\x08\0\0\0\0\0\0", 7), "too short");
  expect_bad(u64le(200ull * 1000 * 1000) + "{}", "absurd");
  expect_bad(u64le(UINT64_MAX) + "{}", "absurd");
  expect_bad(u64le(64) + "{}", "exceeds");
  expect_bad(u64le(3) + "{}", "exceeds");
}

TEST(Safetensors, RejectsBadJsonHeaders) {
  expect_bad(raw_file("", ""), "not valid UTF-8 JSON");
  expect_bad(raw_file("{not json", ""), "not valid UTF-8 JSON");
  expect_bad(raw_file("{}garbage", ""), "not valid UTF-8 JSON");
  expect_bad(raw_file("{\"a\xff\":1}", ""), "not valid UTF-8 JSON");
  expect_bad(raw_file("[1,2]", ""), "not a JSON object");
  expect_bad(raw_file("\"str\"", ""), "not a JSON object");
  expect_bad(raw_file(R"({"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})",
                      std::string(4, '\0')),
             "duplicate key 'x'");
  expect_bad(raw_file(R"({"__metadata__":[1]})", ""), "'__metadata__' is not a JSON object");
  expect_bad(raw_file(R"({"__metadata__":{"step":3}})", ""), "'step' is not a string");
}

TEST(Safetensors, RejectsMalformedEntries) {
  const std::string buf4(4, '\0');
  auto one = [&](const std::string& entry) { return raw_file("{\"w\":" + entry + "}", buf4); };
  expect_bad(one("3"), "tensor 'w': header entry is not a JSON object");
  expect_bad(one(R"({"shape":[1],"data_offsets":[0,4]})"), "missing 'dtype'");
  expect_bad(one(R"({"dtype":"F32","data_offsets":[0,4]})"), "missing 'shape'");
  expect_bad(one(R"({"dtype":"F32","shape":[1]})"), "missing 'data_offsets'");
  expect_bad(one(R"({"dtype":"F32","shape":[1],"data_offsets":[0,4],"extra":1})"), "unexpected key 'extra'");
  expect_bad(one(R"({"dtype":32,"shape":[1],"data_offsets":[0,4]})"), "'dtype' is not a string");
  expect_bad(one(R"({"dtype":"Q4","shape":[1],"data_offsets":[0,4]})"), "unsupported dtype 'Q4'");
  expect_bad(one(R"({"dtype":"f32","shape":[1],"data_offsets":[0,4]})"), "unsupported dtype 'f32'");
  expect_bad(one(R"({"dtype":"F32","shape":1,"data_offsets":[0,4]})"), "'shape' is not an array");
  expect_bad(one(R"({"dtype":"F32","shape":[-1],"data_offsets":[0,4]})"), "non-negative integers");
  expect_bad(one(R"({"dtype":"F32","shape":[1.0],"data_offsets":[0,4]})"), "non-negative integers");
  expect_bad(one(R"({"dtype":"F32","shape":["1"],"data_offsets":[0,4]})"), "non-negative integers");
  expect_bad(one(R"({"dtype":"F32","shape":[18446744073709551615],"data_offsets":[0,4]})"), "non-negative integers");
  expect_bad(one(R"({"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,4]})"), "too large");
  // 2^64 elements wrap to 0 in u64 arithmetic; an empty span must not be accepted for them either.
  expect_bad(raw_file(R"({"w":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,0]}})", ""), "too large");
  expect_bad(raw_file(R"({"w":{"dtype":"F32","shape":[0,4294967296,4294967296],"data_offsets":[0,0]}})", ""), "too large");
  expect_bad(one(R"({"dtype":"F32","shape":[1],"data_offsets":[0]})"), "must be an array [begin, end]");
  expect_bad(one(R"({"dtype":"F32","shape":[1],"data_offsets":{"a":0}})"), "must be an array [begin, end]");
  expect_bad(one(R"({"dtype":"F32","shape":[1],"data_offsets":[-4,0]})"), "non-negative integers");
  expect_bad(one(R"({"dtype":"F32","shape":[1],"data_offsets":[0,4.0]})"), "non-negative integers");
  expect_bad(one(R"({"dtype":"F32","shape":[1],"data_offsets":[4,0]})"), "end 0 < begin 4");
  expect_bad(one(R"({"dtype":"F32","shape":[2],"data_offsets":[0,8]})"), "beyond the data buffer");
  expect_bad(one(R"({"dtype":"F32","shape":[2],"data_offsets":[0,4]})"), "needs 8");
  expect_bad(one(R"({"dtype":"F16","shape":[1],"data_offsets":[0,4]})"), "needs 2");
}

TEST(Safetensors, RejectsBadBufferTiling) {
  const std::string entry_a = R"("a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]})";
  // Overlap: b aliases the second half of a.
  expect_bad(raw_file("{" + entry_a + R"(,"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", std::string(8, '\0')),
             "overlaps");
  // Same span twice.
  expect_bad(raw_file("{" + entry_a + R"(,"b":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", std::string(8, '\0')),
             "overlaps");
  // Hole between tensors, and at the start.
  expect_bad(raw_file("{" + entry_a + R"(,"b":{"dtype":"F32","shape":[1],"data_offsets":[12,16]}})", std::string(16, '\0')),
             "hole of 4 bytes before tensor 'b'");
  expect_bad(raw_file(R"({"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", std::string(8, '\0')), "hole");
  // Unused tail, including bytes after a tensor-less header.
  expect_bad(raw_file("{" + entry_a + "}", std::string(11, '\0')), "3 unused trailing bytes");
  expect_bad(raw_file("{}", "x"), "1 unused trailing bytes");
  // Invalid bool bytes.
  expect_bad(raw_file(R"({"m":{"dtype":"BOOL","shape":[2],"data_offsets":[0,2]}})", std::string("\x01\x02", 2)),
             "neither 0 nor 1");
  // A hand-made valid file loads (the cases above fail for the stated reason only).
  auto ok = st::load_from_bytes(
      raw_file("{" + entry_a + R"(,"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})", std::string(12, '\0')), kWhere);
  EXPECT_EQ(ok.tensors.size(), 2u);
}

TEST(Safetensors, EveryTruncationIsACleanError) {
  const std::string good = st::serialize(small_model(), {{"format", "pt"}});
  ASSERT_NO_THROW(st::load_from_bytes(good, kWhere));
  std::vector<size_t> cuts;
  for (size_t n = 0; n < good.size(); n += 7) cuts.push_back(n);
  cuts.push_back(good.size() - 1);
  for (size_t n : cuts) {
    try {
      st::load_from_bytes(good.substr(0, n), kWhere);
      ADD_FAILURE() << "prefix of " << n << "/" << good.size() << " bytes loaded without error";
    } catch (const srl::Error& e) {
      EXPECT_EQ(e.exit_code(), 2);
      EXPECT_NE(std::string(e.what()).find(kWhere), std::string::npos);
    } catch (...) {
      ADD_FAILURE() << "prefix of " << n << " bytes threw something other than srl::Error";
    }
  }
}

TEST(Safetensors, CorruptedHeaderBytesNeverEscapeAsOtherErrors) {
  // Each header byte replaced with a few values: the load may succeed or fail, but only via srl::Error.
  const std::string good = st::serialize(small_model(), {{"format", "pt"}});
  uint64_t n;
  std::memcpy(&n, good.data(), 8);
  int failures = 0;
  for (size_t i = 0; i < 8 + n; ++i) {
    for (char c : {'\0', '9', '-', '"', '\xff'}) {
      std::string bad = good;
      if (bad[i] == c) continue;
      bad[i] = c;
      try {
        st::load_from_bytes(bad, kWhere);
      } catch (const srl::Error& e) {
        ++failures;
        EXPECT_EQ(e.exit_code(), 2);
      } catch (...) {
        ADD_FAILURE() << "byte " << i << " set to " << int(c) << " escaped as a non-srl exception";
      }
    }
  }
  EXPECT_GT(failures, 0);
}

// ---- files on disk ---------------------------------------------------------------------------

TEST(Safetensors, SaveIsAtomicAndLoadReadsIt) {
  auto dir = fresh_dir("save");
  const std::string path = (dir / "sub" / "model.safetensors").string();
  st::save(path, small_model(), {{"format", "pt"}});
  st::save(path, {{"only", torch::tensor({5.0f})}});  // overwrite in place
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(dir / "sub")) names.push_back(e.path().filename().string());
  EXPECT_EQ(names, std::vector<std::string>{"model.safetensors"});  // no temp file left behind
  auto f = st::load(path);
  ASSERT_EQ(f.tensors.size(), 1u);
  EXPECT_EQ(f.tensors.at("only").item<float>(), 5.0f);
  EXPECT_TRUE(f.metadata.empty());
  EXPECT_EQ(srl::fs::read_file(path), st::serialize({{"only", torch::tensor({5.0f})}}));
  std::filesystem::remove_all(dir);
}

TEST(Safetensors, LoadErrorsNameTheFile) {
  auto dir = fresh_dir("bad");
  const std::string path = (dir / "broken.safetensors").string();
  srl::fs::write_file_atomic(path, st::serialize(small_model()).substr(0, 40));
  try {
    st::load(path);
    FAIL() << "expected srl::Error";
  } catch (const srl::Error& e) {
    EXPECT_EQ(e.exit_code(), 2);
    EXPECT_EQ(e.where(), path);
  }
  try {
    st::load((dir / "missing.safetensors").string());
    FAIL() << "expected srl::Error";
  } catch (const srl::Error& e) {
    EXPECT_EQ(e.exit_code(), 2);
    EXPECT_NE(std::string(e.what()).find("missing.safetensors"), std::string::npos);
  }
  std::filesystem::remove_all(dir);
}

// ---- cross-check with the independent Python writer (tests/golden/make_golden.py) ---------------

TEST(Safetensors, ReadsGoldenFilesWrittenByPython) {
  const std::string dir = std::string(SRL_SOURCE_DIR) + "/tests/golden/tiny/";
  const json expected = json::parse(srl::fs::read_file(dir + "expected.json"));
  const json config = json::parse(srl::fs::read_file(dir + "config.json"));
  std::map<std::string, st::File> files;
  for (const char* name : {"model.safetensors", "adapter_model.safetensors"}) files[name] = st::load(dir + name);

  // Names, dtypes, shapes, and a float64 sum of every tensor (catches any misplaced byte).
  for (const auto& [fname, summary] : expected["tensors"].items()) {
    const auto& tensors = files.at(fname).tensors;
    EXPECT_EQ(tensors.size(), summary.size()) << fname;
    for (const auto& [name, s] : summary.items()) {
      ASSERT_TRUE(tensors.count(name)) << fname << " lacks " << name;
      const auto& t = tensors.at(name);
      EXPECT_EQ(t.scalar_type(), torch::kFloat32) << name;
      EXPECT_EQ(t.sizes().vec(), s["shape"].get<std::vector<int64_t>>()) << name;
      EXPECT_NEAR(t.to(torch::kFloat64).sum().item<double>(), s["sum"].get<double>(), 1e-9) << name;
    }
    EXPECT_EQ(files.at(fname).metadata, (std::map<std::string, std::string>{{"format", "pt"}}));
  }
  // Exact values at a few places: fp32 values survive the trip through JSON doubles unchanged.
  ASSERT_GE(expected["checks"].size(), 4u);
  for (const auto& c : expected["checks"]) {
    const auto& t = files.at(c["file"].get<std::string>()).tensors.at(c["tensor"].get<std::string>()).flatten();
    const int64_t begin = c["flat_begin"].get<int64_t>();
    const auto values = c["values"].get<std::vector<double>>();
    for (size_t k = 0; k < values.size(); ++k)
      EXPECT_EQ(static_cast<double>(t[begin + static_cast<int64_t>(k)].item<float>()), values[k]) << c["tensor"] << "[" << begin + k << "]";
  }

  // Hugging Face Llama layout, tied embeddings: no lm_head, [out, in] Linear weights.
  const auto& m = files.at("model.safetensors").tensors;
  const int64_t V = config["vocab_size"], H = config["hidden_size"], L = config["num_hidden_layers"];
  const int64_t KV = config["num_key_value_heads"].get<int64_t>() * (H / config["num_attention_heads"].get<int64_t>());
  EXPECT_EQ(m.size(), static_cast<size_t>(2 + 9 * L));
  EXPECT_FALSE(m.count("lm_head.weight"));
  EXPECT_EQ(m.at("model.embed_tokens.weight").sizes(), torch::IntArrayRef({V, H}));
  EXPECT_EQ(m.at("model.layers.1.self_attn.k_proj.weight").sizes(), torch::IntArrayRef({KV, H}));
  EXPECT_EQ(m.at("model.layers.0.mlp.down_proj.weight").sizes(),
            torch::IntArrayRef({H, config["intermediate_size"].get<int64_t>()}));
  EXPECT_EQ(files.at("adapter_model.safetensors").tensors.at("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight").sizes(),
            torch::IntArrayRef({4, H}));

  // Our writer reproduces the Python writer's bytes exactly (same ordering, JSON spelling, padding).
  for (const auto& [fname, f] : files)
    EXPECT_EQ(st::serialize(f.tensors, f.metadata), srl::fs::read_file(dir + fname)) << fname;
}
