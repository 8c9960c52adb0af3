# libFuzzer targets (tests/fuzz/fuzz_*.c), built when VKSAMED_FUZZ is ON with clang: each links
# the instrumented libraries (CMakeLists.txt) with -fsanitize=fuzzer. tools/fuzz runs them; the
# config target compiles the app's config loader in.
if(VKSAMED_FUZZ AND CMAKE_C_COMPILER_ID MATCHES "Clang")
  file(GLOB FUZZ_TARGETS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/fuzz/fuzz_*.c)
  foreach(src ${FUZZ_TARGETS})
    get_filename_component(name ${src} NAME_WE)
    add_executable(${name} ${src})
    target_link_libraries(${name} PRIVATE vksamed_models)
    target_link_options(${name} PRIVATE -fsanitize=fuzzer)
  endforeach()
  target_sources(fuzz_config PRIVATE ${CMAKE_SOURCE_DIR}/apps/vksamed/train_config.c)
  target_include_directories(fuzz_config PRIVATE ${CMAKE_SOURCE_DIR}/apps/vksamed)
  target_include_directories(fuzz_pickle PRIVATE ${CMAKE_SOURCE_DIR}/engine)
elseif(VKSAMED_FUZZ)
  message(WARNING "VKSAMED_FUZZ needs clang (CC=clang): no fuzz targets built")
endif()
