# Compile options shared by every project target: strict warnings and optional sanitizers.
# Third-party headers come in as SYSTEM includes through their imported targets, so
# -Werror applies to weir's own code only.

add_library(weir_options INTERFACE)
target_compile_options(weir_options INTERFACE -Wall -Wextra -Wpedantic -Werror
                                              -Wno-missing-field-initializers)
# GCC 12 reports false positives inside std::string at -O2/-O3: -Wrestrict (GCC bug 105329),
# and -Wmaybe-uninitialized for a temporary aggregate holding a string built in a braced list,
# which a Release build of the tests would otherwise fail on.
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
  target_compile_options(weir_options INTERFACE -Wno-restrict -Wno-maybe-uninitialized)
endif()
target_include_directories(weir_options INTERFACE ${PROJECT_SOURCE_DIR})

if(WEIR_SANITIZE)
  string(REPLACE ";" "," _weir_san "${WEIR_SANITIZE}")
  target_compile_options(weir_options INTERFACE -fsanitize=${_weir_san} -fno-omit-frame-pointer
                                                -fno-sanitize-recover=all)
  target_link_options(weir_options INTERFACE -fsanitize=${_weir_san})
  # AddressSanitizer's executables are linked without PIE: the sanitizers' metadata holds
  # millions of pointers (3.6 M relative relocations in weir), and as a position-independent
  # executable each start of weir relocated them, about 0.3 s of the tests' thousands of starts.
  # (ThreadSanitizer's memory layout wants PIE.)
  if("address" IN_LIST WEIR_SANITIZE)
    target_link_options(weir_options INTERFACE -no-pie)
  endif()
  # Asio's fenced blocks use std::atomic_thread_fence, which GCC warns ThreadSanitizer does not
  # model; the warning is about Asio's header, inlined into weir's code.
  if("thread" IN_LIST WEIR_SANITIZE AND CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    target_compile_options(weir_options INTERFACE -Wno-tsan)
  endif()
endif()

# Coverage feedback for libFuzzer in every project target; the fuzz targets link the fuzzer.
if(WEIR_FUZZ)
  target_compile_options(weir_options INTERFACE -fsanitize=fuzzer-no-link)
endif()

# weir_library(NAME SOURCES... DEPENDS targets...) declares the library of one source folder,
# exported as weir::NAME.
function(weir_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPENDS" ${ARGN})
  add_library(weir_${name} STATIC ${ARG_SOURCES})
  add_library(weir::${name} ALIAS weir_${name})
  target_link_libraries(weir_${name} PUBLIC weir_options ${ARG_DEPENDS})
endfunction()
