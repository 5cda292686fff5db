// Native driver for the fuzz harness without libFuzzer: feeds every file named on the
// command line (directories are walked) through LLVMFuzzerTestOneInput, so the harness is
// built and its corpus replayed in every build, with or without clang's fuzzer runtime.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "tessera/io/file.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

int main(int argc, char** argv) {
  std::vector<std::filesystem::path> inputs;
  for (int i = 1; i < argc; ++i) {
    std::error_code ec;
    if (std::filesystem::is_directory(argv[i], ec)) {
      for (const auto& e : std::filesystem::recursive_directory_iterator(argv[i], ec))
        if (e.is_regular_file()) inputs.push_back(e.path());
    } else {
      inputs.emplace_back(argv[i]);
    }
  }
  std::sort(inputs.begin(), inputs.end());  // a failure names the same file every run
  // An empty corpus (a moved folder, a typo in the test) must fail, not pass vacuously.
  if (inputs.empty()) return std::fprintf(stderr, "%s: no inputs\n", argv[0]), 1;
  for (const auto& path : inputs) {
    auto bytes = tessera::io::read_file_bytes(path.string());
    if (!bytes) return std::fprintf(stderr, "%s\n", bytes.what().c_str()), 1;
    LLVMFuzzerTestOneInput(bytes->data(), bytes->size());  // aborts on a broken invariant
  }
  std::printf("%s: %zu input(s) replayed\n", argv[0], inputs.size());
  return 0;
}
