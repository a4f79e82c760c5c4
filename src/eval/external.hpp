// External evaluators: a user's program, started once per run without a shell, that scores replies over a
// line protocol: one JSON object per item on its stdin, one JSON object of scores per item on its stdout
// (byte-level description in docs/evaluators.md). Any failure (cannot start, exits, crashes, times out,
// prints something that is not a score line) makes the evaluator unhealthy for the rest of the run with a
// one-line reason; it never throws from evaluate() and never leaves the caller waiting past the timeout.
#pragma once
#include <memory>

#include "eval/evaluator.hpp"

namespace srl::eval {

// spec.type must be "external"; an empty command or a timeout_s that is not positive and finite is
// srl::fail("evaluators", ...). The process starts at the first evaluate() call.
std::unique_ptr<Evaluator> make_external_evaluator(const EvaluatorSpec& spec);

}  // namespace srl::eval
