# Shared compile settings and helpers so every module, test and tool is built the same way.
add_library(galaxy_build_flags INTERFACE)
target_compile_options(galaxy_build_flags INTERFACE -Wall -Wextra -Wpedantic)
# Our presets and CI turn warnings into errors; a packager's plain build (another compiler, other
# flags, -O3) must not fail on a warning we have never seen.
if(GALAXY_WERROR)
  target_compile_options(galaxy_build_flags INTERFACE -Werror)
endif()
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  # GCC 12 at -O2 reports Asio's own coroutine-frame recycling allocator (aligned_new/free through
  # awaitable_frame's operator new/delete) as mismatched; the pair is matched in Asio's source.
  target_compile_options(galaxy_build_flags INTERFACE -Wno-mismatched-new-delete)
endif()
if(GALAXY_SANITIZE)
  target_compile_options(galaxy_build_flags INTERFACE
    -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)
  target_link_options(galaxy_build_flags INTERFACE -fsanitize=address,undefined)
endif()
if(GALAXY_BUILD_FUZZ)
  # Every library a fuzz target links is instrumented, not only the target itself.
  # -fno-sanitize=function: clang 14's UBSan cannot compile C++20 coroutines with it ("Cannot
  # represent a difference across sections").
  target_compile_options(galaxy_build_flags INTERFACE
    -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize=function -fno-omit-frame-pointer)
  target_link_options(galaxy_build_flags INTERFACE -fsanitize=address,undefined)
endif()
# Boost.Asio: no deprecated interfaces, and one io_context per process is all we run.
target_compile_definitions(galaxy_build_flags INTERFACE
  BOOST_ASIO_NO_DEPRECATED BOOST_ASIO_DISABLE_BOOST_COROUTINE)

# galaxy_module(NAME SOURCES ... DEPS ...): one static library per module, headers under include/.
function(galaxy_module name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_library(galaxy_${name} STATIC ${ARG_SOURCES})
  add_library(galaxy::${name} ALIAS galaxy_${name})
  target_include_directories(galaxy_${name} PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/include)
  target_link_libraries(galaxy_${name} PUBLIC ${ARG_DEPS} PRIVATE galaxy_build_flags)
endfunction()

# galaxy_test(NAME SOURCES ... DEPS ... [INTEGRATION]): unit tests run everywhere; integration tests
# carry the CTest label "integration" and need the services started by scripts/services.
function(galaxy_test name)
  cmake_parse_arguments(ARG "INTEGRATION" "" "SOURCES;DEPS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} GTest::gtest GTest::gmock GTest::gtest_main
    galaxy_build_flags)
  if(ARG_INTEGRATION)
    gtest_discover_tests(${name} DISCOVERY_TIMEOUT 60 PROPERTIES LABELS integration TIMEOUT 300)
  else()
    gtest_discover_tests(${name} DISCOVERY_TIMEOUT 60 PROPERTIES LABELS unit TIMEOUT 120)
  endif()
endfunction()

# galaxy_fuzz(NAME SOURCES ... DEPS ...): a libFuzzer target; seeds live in fuzz/corpus/NAME/.
function(galaxy_fuzz name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} galaxy_build_flags)
  target_link_options(${name} PRIVATE -fsanitize=fuzzer)
endfunction()

# galaxy_embed_files(OUT DELIMITER PREFIX FILES...): sets OUT to one `{"<PREFIX><name>", R"d(...)d"},`
# line per file, for a generated source that embeds them (migrations, the web page), and makes
# CMake configure again when one changes.
function(galaxy_embed_files out delimiter prefix)
  set(body "")
  foreach(file IN LISTS ARGN)
    set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${file})
    get_filename_component(name ${file} NAME)
    file(READ ${file} text)
    string(FIND "${text}" ")${delimiter}\"" clash)
    if(NOT clash EQUAL -1)
      message(FATAL_ERROR "${file} contains the raw string delimiter )${delimiter}\"")
    endif()
    string(APPEND body "      {\"${prefix}${name}\", R\"${delimiter}(${text})${delimiter}\"},\n")
  endforeach()
  set(${out} "${body}" PARENT_SCOPE)
endfunction()
