// Runs the supportrl binary (SRL_BINARY, set by CMake) as a user would: arguments, optional standard
// input; captures stdout, stderr and the exit code (128 + signal number when the process was killed).
#pragma once
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

namespace srl_test {

struct CliResult {
  int code;
  std::string out, err;
};

inline CliResult run_cli(const std::string& args, const std::string& stdin_text = "") {
  const auto dir = std::filesystem::temp_directory_path() / ("srl_cli_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string err_file = (dir / "stderr.txt").string(), in_file = (dir / "stdin.txt").string();
  std::ofstream(in_file) << stdin_text;
  const std::string cmd = std::string(SRL_BINARY) + " " + args + " < " + in_file + " 2> " + err_file;
  CliResult r;
  FILE* p = popen(cmd.c_str(), "r");
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  const int status = pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  std::ifstream e(err_file);
  r.err.assign(std::istreambuf_iterator<char>(e), {});
  return r;
}

}  // namespace srl_test
