// A reward model: the SFT policy (a model::Llama, LoRA-adapted or fully trained) with a scalar value head
// on the final-norm hidden state at the last response token (its <|end|>), as Hugging Face's
// LlamaForSequenceClassification with one label: head `score`, here with a bias. Rewards are Bradley-Terry
// scores: P(a beats b) = sigmoid(r_a - r_b). On disk: the usual model files + value_head.safetensors +
// reward_model.json (docs/checkpoint_format.md, "Reward model").
#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "model/llama.hpp"
#include "text/chat_format.hpp"
#include "text/tokenizer.hpp"
#include "train/preference_tokens.hpp"
#include "train/sequence_logps.hpp"

namespace srl::train {

// Reward statistics over (a sample of) the training responses, for standardising rewards later.
struct RewardStats {
  std::optional<double> mean, std;
  int64_t responses = 0;
};

struct ScoreItem {
  std::vector<text::Message> conversation;  // ends with the user turn being answered
  std::string response;
};

struct ScorePair {
  std::vector<text::Message> conversation;
  std::string response_a, response_b;
};

class RewardModel {
 public:
  // A fresh head on `policy`: weight ~ N(0, 1/(D+1)) from `head_seed`, bias 0. The final-norm hidden state
  // has unit RMS per coordinate, so initial rewards are O(1): the sigmoid is far from saturation and both
  // the head and the body get useful gradients from step 1 (a zero head would leave the LoRA adapters, whose
  // B starts at zero too, without gradient until the head has moved). The bias only shifts every reward and
  // cancels in r_a - r_b, so it starts at 0 and only the centering term moves it.
  RewardModel(model::Llama policy, text::Tokenizer tok, uint64_t head_seed, PairTokenizeOptions tokenize = {});

  // A run directory or checkpoint directory (resolve_model_dir) holding a reward model. A plain policy
  // (no value_head.safetensors) is srl::fail("<dir>", "not a reward model: ...").
  static RewardModel load(const std::string& path);

  // (2B,) fp32 rewards of the sequences in `b` (rows: `chosen` 0..B-1 = slot A, then `rejected` = slot B),
  // pooled at each row's true last token with prompts run once (last_token_hidden). Differentiable with
  // respect to the trainable body parameters and the head. Train/eval mode and grad mode are the caller's.
  torch::Tensor rewards(const PairedSequences& b);
  // The head alone: (N, D) hidden -> (N,) fp32 (outside bf16 autocast: elementwise ops stay fp32).
  torch::Tensor head(const torch::Tensor& hidden) const;

  // Inference (no grad, eval mode for the call). Conversations are tokenized like the training data.
  double score(const std::vector<text::Message>& conversation, const std::string& response);
  // `batch` responses per forward. Responses to the same prompt share one prompt computation.
  std::vector<double> score_batch(const std::vector<ScoreItem>& items, int64_t batch = 8);
  // (r_a, r_b) per pair, `batch` pairs per forward.
  std::vector<std::pair<double, double>> score_pairs(const std::vector<ScorePair>& pairs, int64_t batch = 8);
  // sigmoid(r_a - r_b).
  double prob_a_beats_b(const std::vector<text::Message>& conversation, const std::string& a, const std::string& b);

  // Whole reward-model checkpoint: model files, value head, reward_model.json, then COMPLETE.
  void save(const std::string& dir);
  // Only value_head.safetensors + reward_model.json (a trainer's extra checkpoint files).
  void save_head_files(const std::string& dir) const;
  // Reads value_head.safetensors of `dir` into the head (shape, dtype and finiteness checked).
  void load_head(const std::string& dir);

  model::Llama& policy() { return policy_; }
  const text::Tokenizer& tokenizer() const { return tok_; }
  // {"score.weight" (1, D), "score.bias" (1)}: the names the optimizer state and the file use.
  std::vector<std::pair<std::string, torch::Tensor>> head_parameters() const;
  void to(torch::Device device);

  PairTokenizeOptions tokenize;  // truncation used in training; scoring uses the same
  RewardStats stats;
  nlohmann::json info = nlohmann::json::object();  // extra reward_model.json keys (init, step, train_file)

 private:
  model::Llama policy_;
  text::Tokenizer tok_;
  torch::Tensor weight_, bias_;  // fp32, (1, D) and (1)
};

// Per-pair Bradley-Terry loss (B,): BCE-with-logits(r_a - r_b - margin * (2t - 1), t) + center * (r_a + r_b)^2,
// targets t = 1 (A won), 0 (B won), 0.5 (tie: no margin). The margin asks the winner to lead by at least
// `margin` (TRL's margin, one constant); the centering term is TRL's center_rewards_coefficient, keeping
// rewards near 0 for later RL. The step loss is the mean over the step's pairs.
torch::Tensor reward_pair_losses(const torch::Tensor& r_a, const torch::Tensor& r_b, const torch::Tensor& target,
                                 double margin, double center_coef);

}  // namespace srl::train
