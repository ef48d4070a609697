// Seed corpora: each harness can write its own small valid examples, made with the project's own
// encoders (so no second copy of any format lives here). make_corpus.sh runs every harness with
// CA_FUZZ_WRITE_SEEDS=<dir>; LLVMFuzzerInitialize then writes the seeds and exits.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <span>
#include <string>
#include <string_view>

namespace ca::fuzz {

class SeedWriter {
 public:
  explicit SeedWriter(std::string dir) : dir_(std::move(dir)) {}
  void Add(std::string_view name, std::span<const uint8_t> bytes) const {
    std::ofstream out(dir_ + "/" + std::string(name), std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    if (!out) {
      std::fprintf(stderr, "cannot write seed %s/%.*s\n", dir_.c_str(), static_cast<int>(name.size()),
                   name.data());
      std::exit(1);
    }
  }
  void Add(std::string_view name, std::string_view text) const {
    Add(name, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
  }

 private:
  std::string dir_;
};

// Called from LLVMFuzzerInitialize: writes the seeds and exits when CA_FUZZ_WRITE_SEEDS is set.
inline void MaybeWriteSeeds(const std::function<void(const SeedWriter&)>& write) {
  const char* dir = std::getenv("CA_FUZZ_WRITE_SEEDS");
  if (dir == nullptr || *dir == '\0') return;
  write(SeedWriter(dir));
  std::exit(0);
}

}  // namespace ca::fuzz
