// Edge-ish coverage for libFuzzer from GCC's -fsanitize-coverage=trace-pc: every instrumented basic
// block calls __sanitizer_cov_trace_pc(), which the link redirects here (-Wl,--wrap). The caller's
// address is hashed into libFuzzer's extra-counters section, which libFuzzer reads as features.
// Compare tracing (trace-cmp) goes to libFuzzer's own callbacks unchanged.
#include <cstddef>
#include <cstdint>

namespace {
constexpr size_t kCounters = size_t{1} << 17;  // 128 KiB: few collisions for these libraries
}

// NOLINTNEXTLINE: the section name is libFuzzer's interface.
__attribute__((section("__libfuzzer_extra_counters"))) uint8_t ca_fuzz_counters[kCounters];

extern "C" __attribute__((no_sanitize_coverage, no_sanitize("address", "undefined"))) void
__wrap___sanitizer_cov_trace_pc() {
  auto pc = reinterpret_cast<uintptr_t>(__builtin_return_address(0));
  uint8_t& counter = ca_fuzz_counters[(pc ^ (pc >> 17)) & (kCounters - 1)];
  if (counter != 255) ++counter;
}

// GCC's trace-cmp also reports floating-point comparisons, which libFuzzer has no callbacks for.
extern "C" __attribute__((no_sanitize_coverage)) void __sanitizer_cov_trace_cmpf(float, float) {}
extern "C" __attribute__((no_sanitize_coverage)) void __sanitizer_cov_trace_cmpd(double, double) {}
