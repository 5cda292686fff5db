// The one translation unit that holds doctest's implementation and main(), natively and
// under Node.js (the WASM build is an ordinary program run by node).
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

int main(int argc, char** argv) {
  doctest::Context context;
  context.applyCommandLine(argc, argv);
  return context.run();
}
