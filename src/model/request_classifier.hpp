// The request classifier (the guardrail): what a customer message asks for and what risk it carries, with
// calibrated probabilities. A fastText-style trunk (the mean of hashed word, bigram and character n-gram
// embeddings, text/ticket_features.hpp) and a ReLU layer feed two softmax heads:
//   intent head: the support world's intents (data::intents(), 24 with out_of_scope)
//   risk head:   none, credential_request, other_customer_data, out_of_policy_promise, abusive,
//                legal_threat, self_harm, phishing (the safety evaluator's RequestRisk names)
// Probabilities are temperature-scaled per head (fitted on validation tickets); a message is flagged when
// p_risk = 1 - P(risk = none) reaches the threshold chosen on validation for a target recall
// (train/guardrail_train.hpp). Trained by `supportrl train-guardrail`; the file format is in
// docs/guardrail.md.
//
// Shapes (B tickets in a batch, F feature ids over the batch, D = dim, H = hidden):
//   embedding [buckets, D]   hidden.weight [H, D]  hidden.bias [H]
//   intent.weight [NI, H]    intent.bias [NI]      risk.weight [NR, H]  risk.bias [NR]
//   forward: ids [F] int64 + offsets [B] int64 -> mean embedding [B, D] -> relu [B, H]
//            -> intent logits [B, NI], risk logits [B, NR]
#pragma once
#include <torch/torch.h>

#include <string>
#include <utility>
#include <vector>

#include "text/ticket_features.hpp"

namespace srl::model {

struct RequestClassifierShape {
  text::TicketFeatureConfig features;
  int64_t dim = 48;
  int64_t hidden = 64;
};

struct RequestLabels {
  std::vector<std::string> intents;
  std::vector<std::string> risks;  // risks[0] is "none"
};

struct Calibration {
  double intent_temperature = 1.0;
  double risk_temperature = 1.0;
  double threshold = 0.5;      // flag when p_risk >= threshold
  double target_recall = 0.0;  // the validation recall the threshold was chosen for (0: not chosen)
};

struct RequestPrediction {
  std::string intent;          // most likely intent
  double intent_p = 0;
  std::string second_intent;   // runner-up
  double second_p = 0;
  std::string risk;            // most likely non-"none" risk (whatever p_risk is)
  double risk_p = 0;           // its probability
  double p_risk = 0;           // 1 - P(none)
  bool flagged = false;        // p_risk >= threshold
  std::vector<double> intent_probs, risk_probs;  // in label order, calibrated
  // The risk to act on: `risk` when flagged, else "none".
  std::string acted_risk() const { return flagged ? risk : "none"; }
};

class RequestClassifier {
 public:
  // Fresh weights from libtorch's default generator (seed it first): embeddings U(-1/D, 1/D), the layers
  // N(0, 1/fan_in), biases zero. Fails on a shape below 1 or labels without "none" first.
  RequestClassifier(RequestClassifierShape shape, RequestLabels labels);
  // classifier.safetensors written by save(); every inconsistency is srl::fail(path, ...).
  static RequestClassifier load(const std::string& path);
  // Atomic write of the weights with shape, labels and calibration in the metadata.
  void save(const std::string& path) const;

  struct Logits {
    torch::Tensor intent;  // [B, NI]
    torch::Tensor risk;    // [B, NR]
  };
  // Uncalibrated logits of a batch of feature lists (each non-empty), with autograd.
  Logits forward(const std::vector<std::vector<int64_t>>& features) const;
  std::vector<int64_t> features(const std::string& text) const;
  // Calibrated predictions, no autograd; batches of any size.
  std::vector<RequestPrediction> predict(const std::vector<std::string>& texts) const;
  RequestPrediction predict(const std::string& text) const;

  std::vector<std::pair<std::string, torch::Tensor>> named_parameters() const;
  const RequestClassifierShape& shape() const { return shape_; }
  const RequestLabels& labels() const { return labels_; }
  Calibration& calibration() { return cal_; }
  const Calibration& calibration() const { return cal_; }
  int64_t intent_index(const std::string& intent) const;  // -1 when unknown
  int64_t risk_index(const std::string& risk) const;

 private:
  RequestClassifierShape shape_;
  RequestLabels labels_;
  Calibration cal_;
  torch::Tensor embedding_, hidden_w_, hidden_b_, intent_w_, intent_b_, risk_w_, risk_b_;
};

// The classifier file from what a user typed: a .safetensors file as is, or a directory holding
// classifier.safetensors (a train-guardrail run). Anything else is srl::fail naming the path.
std::string resolve_classifier_file(const std::string& path);

}  // namespace srl::model
