#include "data/request_reading.hpp"

#include <memory>
#include <mutex>

#include "data/support_world.hpp"

namespace srl::data {

namespace {
std::mutex g_mutex;
std::shared_ptr<const RequestClassifierFn> g_fn;  // null: keyword rules

std::shared_ptr<const RequestClassifierFn> installed() {
  std::lock_guard<std::mutex> lock(g_mutex);
  return g_fn;
}
}  // namespace

void install_request_classifier(RequestClassifierFn fn) {
  std::lock_guard<std::mutex> lock(g_mutex);
  g_fn = fn ? std::make_shared<const RequestClassifierFn>(std::move(fn)) : nullptr;
}

std::optional<RequestLabel> classified_request(const std::string& message) {
  auto fn = installed();
  if (!fn) return std::nullopt;
  return (*fn)(message);
}

std::string read_intent(const std::string& message) {
  if (auto r = classified_request(message)) return r->intent;
  return infer_intent(message);
}

ScopedRequestClassifier::ScopedRequestClassifier(RequestClassifierFn fn) {
  auto prev = installed();
  previous_ = prev ? *prev : RequestClassifierFn{};
  install_request_classifier(std::move(fn));
}

ScopedRequestClassifier::~ScopedRequestClassifier() { install_request_classifier(std::move(previous_)); }

}  // namespace srl::data
