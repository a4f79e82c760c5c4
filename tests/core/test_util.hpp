// Helpers shared by the core tests: a fresh temp dir per test and catching srl::Error.
#pragma once
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <functional>
#include <string>

#include "core/error.hpp"

namespace srl_test {

// An empty directory unique to the running test (removed and recreated on each call).
inline std::filesystem::path fresh_dir(const std::string& tag) {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  auto dir = std::filesystem::temp_directory_path() /
             ("srl_core_" + std::string(info->test_suite_name()) + "_" + info->name() + "_" + tag + "_" +
              std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

// Runs f, which must throw srl::Error; returns what() and stores the exit code.
inline std::string error_of(const std::function<void()>& f, int* exit_code = nullptr) {
  try {
    f();
  } catch (const srl::Error& e) {
    if (exit_code) *exit_code = e.exit_code();
    return e.what();
  }
  ADD_FAILURE() << "expected srl::Error, nothing was thrown";
  return "";
}

}  // namespace srl_test
