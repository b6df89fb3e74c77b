// Whether this build runs under AddressSanitizer: memory pools then take each block from the
// heap on its own, so that the sanitizer still sees overruns and uses after release.
#pragma once

namespace weir {

#if defined(__SANITIZE_ADDRESS__)
inline constexpr bool k_address_sanitizer = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
inline constexpr bool k_address_sanitizer = true;
#else
inline constexpr bool k_address_sanitizer = false;
#endif
#else
inline constexpr bool k_address_sanitizer = false;
#endif

}  // namespace weir
