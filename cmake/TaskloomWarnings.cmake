# Warnings are errors in every taskloom target; consumers of the installed package are unaffected
# because the flags live on a build-only INTERFACE target linked PRIVATE.
add_library(taskloom_warnings INTERFACE)
target_compile_options(taskloom_warnings INTERFACE
  $<$<CXX_COMPILER_ID:GNU,Clang>:-Wall -Wextra -Wpedantic -Werror -Wshadow -Wnon-virtual-dtor
  # GCC 12 warns on designated initializers that omit fields, the idiom our option structs are
  # made for ({.retries = 3}); later GCC releases no longer do.
  -Wno-missing-field-initializers>)
# GCC 12 at -O2/-O3 reports -Wrestrict inside libstdc++ for `"x" + std::to_string(n)` (GCC bug
# 105329, fixed in GCC 13): a false positive that broke the release build of the tests.
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
  target_compile_options(taskloom_warnings INTERFACE -Wno-restrict)
endif()
