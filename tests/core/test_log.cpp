// Tests for core/log.hpp: verbosity maps to the default logger's level.
#include "core/log.hpp"

#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

TEST(Log, VerbositySetsLevel) {
  srl::log::init(0);
  EXPECT_EQ(spdlog::default_logger()->name(), "srl");
  EXPECT_EQ(spdlog::default_logger()->level(), spdlog::level::warn);
  srl::log::init(1);
  EXPECT_EQ(spdlog::default_logger()->level(), spdlog::level::info);
  srl::log::init(2);
  EXPECT_EQ(spdlog::default_logger()->level(), spdlog::level::debug);
  EXPECT_TRUE(spdlog::default_logger()->should_log(spdlog::level::debug));
  srl::log::init(0);
  EXPECT_FALSE(spdlog::default_logger()->should_log(spdlog::level::info));
}
