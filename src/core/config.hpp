// Strict YAML configs parsed into typed structs. A config struct lists its fields once, in a
// `visit` method; the same description drives reading (with typed errors naming the file and the
// dotted key), `--set` overrides, the list of known keys (for unknown-key hints) and emitting the
// resolved config back as YAML.
//
//   struct Optim {
//     double learning_rate = 3e-4; std::string schedule = "cosine";
//     template <class V> void visit(V& v) {
//       v("learning_rate", learning_rate, "peak learning rate");
//       v.choice("schedule", schedule, {"cosine", "linear"}, "decay after warm-up");
//     }
//   };
//   struct Cfg {
//     std::string train_file; Optim optim;
//     template <class V> void visit(V& v) {
//       v.required("train_file", train_file, "JSONL conversations");
//       v.section("optim", optim);
//     }
//   };
//   Cfg c = srl::config::load<Cfg>("configs/sft.yaml", {"optim.learning_rate=1e-4"});
//
// Field types: bool, int, int64_t, double, std::string, std::vector<std::string>,
// std::vector<int64_t>, and std::optional of any of those (YAML null or an absent key = nullopt).
// An enum field is a choice with a names table, so code reads the enum and never compares strings:
//
//   enum class Schedule { Cosine, Linear };
//   inline constexpr config::Names<Schedule, 2> kScheduleNames{{{"cosine", Schedule::Cosine},
//                                                               {"linear", Schedule::Linear}}};
//   v.choice("schedule", schedule, kScheduleNames, "decay after warm-up");
// Quoted scalars are strings: `lr: "1e-4"` is rejected for a number field.
#pragma once
#include <yaml-cpp/yaml.h>

#include "core/names.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace srl::config {


// Applies one `--set` override to a parsed document: `a.b.c=value`, the value read as a YAML
// scalar or flow value (`1e-4`, `abc`, `[q, v]`). Missing intermediate sections are created.
// Malformed assignments are srl::fail with where = `--set '<assignment>'`.
void apply_set(YAML::Node& root, const std::string& assignment);

namespace detail {

// What the reader needs besides the node: where values came from and which keys exist.
struct Context {
  std::string source;                          // file name (or label) for error messages
  std::map<std::string, std::string> set_keys;  // dotted key given by --set -> "--set key"
  std::vector<std::string> known;               // every dotted key and section of the config
};

// Parses text, turning yaml-cpp exceptions into `source:line:col: message` errors; the top level
// must be a mapping or empty (null node returned).
YAML::Node parse_document(const std::string& text, const std::string& source);
// The dotted key of an assignment `a.b=value` (validated); fails like apply_set on bad syntax.
std::string set_key(const std::string& assignment);

// srl::fail naming the origin of `key` (the file, or the --set that supplied it) and the key.
[[noreturn]] void fail_key(const Context& ctx, const std::string& key, const std::string& what);
[[noreturn]] void fail_missing(const Context& ctx, const std::string& key);
// Rejects unknown, duplicate and non-scalar keys in `map` (keys are checked against ctx.known).
void check_keys(const YAML::Node& map, const std::string& prefix, const Context& ctx);
// Fails when `key` is not a known key, with a did-you-mean hint; `where` names the origin.
void check_known(const Context& ctx, const std::string& key, const std::string& where);
// A section's node: null/absent become an empty map; anything but a mapping is an error.
YAML::Node section_node(const YAML::Node& node, const std::string& key, const Context& ctx);
// `given`: the value came from the file or --set (an error there is bad input); otherwise it is
// the struct's default, and a default outside the list is a bug in the struct.
void check_choice(const Context& ctx, const std::string& key, const std::string& value,
                  const std::vector<std::string>& choices, bool given);
inline void check_choice(const Context& ctx, const std::string& key, const std::string& value,
                         std::initializer_list<const char*> choices, bool given) {
  check_choice(ctx, key, value, std::vector<std::string>(choices.begin(), choices.end()), given);
}
template <class E, size_t N>
std::vector<std::string> spellings(const Names<E, N>& names) {
  std::vector<std::string> out;
  for (const auto& n : names) out.push_back(n.name);
  return out;
}

void read_value(const YAML::Node& n, bool& out, const Context& ctx, const std::string& key);
void read_value(const YAML::Node& n, int& out, const Context& ctx, const std::string& key);
void read_value(const YAML::Node& n, int64_t& out, const Context& ctx, const std::string& key);
void read_value(const YAML::Node& n, double& out, const Context& ctx, const std::string& key);
void read_value(const YAML::Node& n, std::string& out, const Context& ctx, const std::string& key);
void read_value(const YAML::Node& n, std::vector<std::string>& out, const Context& ctx,
                const std::string& key);
void read_value(const YAML::Node& n, std::vector<int64_t>& out, const Context& ctx,
                const std::string& key);
template <class T>
void read_value(const YAML::Node& n, std::optional<T>& out, const Context& ctx, const std::string& key) {
  if (n.IsNull()) {
    out.reset();
    return;
  }
  T v{};
  read_value(n, v, ctx, key);
  out = std::move(v);
}

void emit_value(YAML::Emitter& e, bool v);
void emit_value(YAML::Emitter& e, int v);
void emit_value(YAML::Emitter& e, int64_t v);
void emit_value(YAML::Emitter& e, double v);
void emit_value(YAML::Emitter& e, const std::string& v);
void emit_value(YAML::Emitter& e, const std::vector<std::string>& v);
void emit_value(YAML::Emitter& e, const std::vector<int64_t>& v);
template <class T>
void emit_value(YAML::Emitter& e, const std::optional<T>& v) {
  if (v) emit_value(e, *v);
  else e << YAML::Null;
}

// Fills a struct from a mapping node (null = all defaults).
class Reader {
 public:
  Reader(YAML::Node node, std::string prefix, const Context& ctx)
      : node_(std::move(node)), prefix_(std::move(prefix)), ctx_(ctx) {}

  template <class F>
  void operator()(const char* name, F& field, const char* help = "") {
    const YAML::Node n = child(name);
    if (n.IsDefined()) read_value(n, field, ctx_, prefix_ + name);
  }
  template <class F>
  void required(const char* name, F& field, const char* help = "") {
    const YAML::Node n = child(name);
    if (!n.IsDefined()) fail_missing(ctx_, prefix_ + name);
    read_value(n, field, ctx_, prefix_ + name);
  }
  void choice(const char* name, std::string& field, std::initializer_list<const char*> choices,
              const char* help = "") {
    const YAML::Node n = child(name);
    if (n.IsDefined()) read_value(n, field, ctx_, prefix_ + name);
    check_choice(ctx_, prefix_ + name, field, choices, n.IsDefined());
  }
  template <class E, size_t N>
  void choice(const char* name, E& field, const Names<E, N>& names, const char* help = "") {
    const YAML::Node n = child(name);
    std::string text = name_of(names, field);
    if (n.IsDefined()) read_value(n, text, ctx_, prefix_ + name);
    check_choice(ctx_, prefix_ + name, text, spellings(names), n.IsDefined());
    field = *value_of(names, text);
  }
  template <class S>
  void section(const char* name, S& sub, const char* help = "") {
    const std::string key = prefix_ + name;
    YAML::Node n = section_node(child(name), key, ctx_);
    check_keys(n, key + ".", ctx_);
    Reader r(n, key + ".", ctx_);
    sub.visit(r);
  }

 private:
  YAML::Node child(const char* name) const {
    if (!node_.IsMap()) return YAML::Node(YAML::NodeType::Undefined);
    const YAML::Node& cn = node_;  // const lookup: never inserts a key
    return cn[name];
  }
  YAML::Node node_;
  std::string prefix_;
  const Context& ctx_;
};

// Collects every dotted key (fields and sections) of a config type.
class KeyLister {
 public:
  KeyLister(std::vector<std::string>& out, std::string prefix) : out_(out), prefix_(std::move(prefix)) {}
  template <class F>
  void operator()(const char* name, F&, const char* = "") { out_.push_back(prefix_ + name); }
  template <class F>
  void required(const char* name, F&, const char* = "") { out_.push_back(prefix_ + name); }
  void choice(const char* name, std::string&, std::initializer_list<const char*>, const char* = "") {
    out_.push_back(prefix_ + name);
  }
  template <class E, size_t N>
  void choice(const char* name, E&, const Names<E, N>&, const char* = "") {
    out_.push_back(prefix_ + name);
  }
  template <class S>
  void section(const char* name, S& sub, const char* = "") {
    out_.push_back(prefix_ + name);
    KeyLister inner(out_, prefix_ + name + ".");
    sub.visit(inner);
  }

 private:
  std::vector<std::string>& out_;
  std::string prefix_;
};

// Emits every field as `key: value  # help`.
class Writer {
 public:
  explicit Writer(YAML::Emitter& e) : e_(e) {}
  template <class F>
  void operator()(const char* name, F& field, const char* help = "") {
    e_ << YAML::Key << name << YAML::Value;
    emit_value(e_, field);
    if (help && *help) e_ << YAML::Comment(help);
  }
  template <class F>
  void required(const char* name, F& field, const char* help = "") { (*this)(name, field, help); }
  void choice(const char* name, std::string& field, std::initializer_list<const char*>,
              const char* help = "") {
    (*this)(name, field, help);
  }
  template <class E, size_t N>
  void choice(const char* name, E& field, const Names<E, N>& names, const char* help = "") {
    std::string text = name_of(names, field);
    (*this)(name, text, help);
  }
  template <class S>
  void section(const char* name, S& sub, const char* help = "") {
    e_ << YAML::Key << name << YAML::Value << YAML::BeginMap;
    sub.visit(*this);
    e_ << YAML::EndMap;
  }

 private:
  YAML::Emitter& e_;
};

}  // namespace detail

// Every dotted key of T, sections included, in declaration order.
template <class T>
std::vector<std::string> keys() {
  T tmp{};
  std::vector<std::string> out;
  detail::KeyLister lister(out, "");
  tmp.visit(lister);
  return out;
}

template <class T>
T from_yaml_string(const std::string& text, const std::string& source_name,
                   const std::vector<std::string>& sets = {}) {
  YAML::Node root = detail::parse_document(text, source_name);
  detail::Context ctx;
  ctx.source = source_name;
  ctx.known = keys<T>();
  for (const auto& s : sets) {
    const std::string key = detail::set_key(s);
    detail::check_known(ctx, key, "--set " + key);
    apply_set(root, s);
    ctx.set_keys[key] = "--set " + key;
  }
  detail::check_keys(root, "", ctx);
  T cfg{};
  detail::Reader reader(root, "", ctx);
  cfg.visit(reader);
  return cfg;
}

// Reads the YAML file at `path`, applies `--set` overrides, and fills a default-constructed T.
template <class T>
T load(const std::string& path, const std::vector<std::string>& sets = {});

// The resolved config (all fields, defaults filled in, help text as comments) as YAML that
// `load` reads back to an equal struct.
template <class T>
std::string to_yaml(const T& cfg) {
  T copy = cfg;  // visit() is non-const: it is shared with the reader
  YAML::Emitter e;
  e << YAML::BeginMap;
  detail::Writer w(e);
  copy.visit(w);
  e << YAML::EndMap;
  return std::string(e.c_str()) + "\n";
}

std::string read_config_text(const std::string& path);  // fs::read_file, kept out of this header

template <class T>
T load(const std::string& path, const std::vector<std::string>& sets) {
  return from_yaml_string<T>(read_config_text(path), path, sets);
}

}  // namespace srl::config
