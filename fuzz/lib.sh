# Sourced by the fuzz/ scripts: configures and builds the harnesses in a build directory of their own.
fuzz_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
fuzz_harnesses=(jws csr ocsp_request crl_import dns_response http_response engine_contract policy_record)

# fuzz_build BUILD_DIR: GCC with ASan/UBSan/coverage (-DCA_FUZZ=ON), ccache when available.
fuzz_build() {
  local build=$1 launcher=()
  if command -v ccache >/dev/null; then
    launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
    export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$fuzz_root} CCACHE_NOHASHDIR=${CCACHE_NOHASHDIR:-1}
  fi
  # CXX only matters to the first configure of BUILD_DIR (passing the compiler again would reset the cache).
  CXX=${CXX:-g++} cmake -S "$fuzz_root" -B "$build" -DCA_FUZZ=ON -DCA_WERROR=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    "${launcher[@]}" >/dev/null
  cmake --build "$build" -j"$(nproc)" --target fuzz_all
}

# Sanitizer settings for every run: any report is fatal, leaks included.
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
