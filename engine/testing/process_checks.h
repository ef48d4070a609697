// Small helpers shared by the tests that drive the real ca-engine (tests/engine, tests/status):
// reading a file it wrote, one sample of its Prometheus metrics file, waiting for a condition.
#pragma once

#include <chrono>
#include <sstream>
#include <string>
#include <thread>

#include "common/openssl.h"

namespace ca::engine::testing {

// The whole file, or "" when it cannot be read (the caller's assertions then fail on content).
inline std::string ReadText(const std::string& path) { return ossl::ReadFile(path).value_or(""); }

// The value of the sample `series` (exact name and labels) in a Prometheus text file, or -1.
inline double PrometheusSample(const std::string& text, const std::string& series) {
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.starts_with(series + " ")) return std::stod(line.substr(series.size() + 1));
  }
  return -1;
}

// Polls `done` until it returns true or `limit` passes; returns its last answer.
template <typename F>
bool WaitFor(F done, std::chrono::seconds limit,
             std::chrono::milliseconds every = std::chrono::milliseconds(200)) {
  auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (done()) return true;
    std::this_thread::sleep_for(every);
  }
  return done();
}

}  // namespace ca::engine::testing
