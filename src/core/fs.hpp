// File helpers: whole-file reads with clear errors, and atomic writes (temp file + fsync + rename)
// so a crash never leaves a half-written checkpoint or config behind.
#pragma once
#include <string>
#include <string_view>

namespace srl::fs {

// Reads a whole file; a missing or unreadable file is srl::fail naming the path.
std::string read_file(const std::string& path);
// Writes `bytes` to `path` atomically: `path.tmp.<pid>` is written, flushed, fsynced and renamed.
void write_file_atomic(const std::string& path, std::string_view bytes);
// Creates a directory and its parents (no error if it exists).
void make_dirs(const std::string& path);
bool exists(const std::string& path);

}  // namespace srl::fs
