// One error type for the whole project: what went wrong and where (file:line, config key, flag).
// The CLI prints it as one line `where: what` and exits 2 for bad input, 1 for internal failures.
#pragma once
#include <stdexcept>
#include <string>

namespace srl {

enum class ErrorKind { BadInput, Internal };

class Error : public std::runtime_error {
 public:
  Error(ErrorKind kind, std::string where, const std::string& what)
      : std::runtime_error(where.empty() ? what : where + ": " + what), kind_(kind), where_(std::move(where)) {}
  ErrorKind kind() const { return kind_; }
  const std::string& where() const { return where_; }
  int exit_code() const { return kind_ == ErrorKind::BadInput ? 2 : 1; }

 private:
  ErrorKind kind_;
  std::string where_;
};

// Bad input from the user: a file, a flag, a config key. Exit code 2.
[[noreturn]] inline void fail(const std::string& where, const std::string& what) {
  throw Error(ErrorKind::BadInput, where, what);
}
// A broken invariant inside the program. Exit code 1.
[[noreturn]] inline void fail_internal(const std::string& where, const std::string& what) {
  throw Error(ErrorKind::Internal, where, what);
}

}  // namespace srl
