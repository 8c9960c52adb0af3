# Command-line behaviour: what a user sees, including the error paths.
set(EXPECT ${CMAKE_SOURCE_DIR}/tests/cli/expect.sh)
function(cli_test name want regex)
  add_test(NAME cli_${name} COMMAND ${EXPECT} ${want} ${regex} ${ARGN})
  set_tests_properties(cli_${name} PROPERTIES LABELS cli TIMEOUT 300)
endfunction()

cli_test(devices ok "type (cpu|discrete|integrated|virtual).*" $<TARGET_FILE:vksamed> devices)
cli_test(devices_by_name ok "llvmpipe|NVIDIA|AMD|Intel" $<TARGET_FILE:vksamed> devices --device 0)
cli_test(devices_bad_index fail "device index 99 out of range" $<TARGET_FILE:vksamed> devices --device 99)
cli_test(devices_no_match fail "no Vulkan device matches \"no-such-gpu\"" env VKSAMED_DEVICE=no-such-gpu $<TARGET_FILE:vksamed> devices)
# No Vulkan driver installed: point the loader at no ICD at all.
cli_test(no_driver fail "apt-get install mesa-vulkan-drivers" env VK_DRIVER_FILES=/nonexistent/icd.json VK_ICD_FILENAMES=/nonexistent/icd.json $<TARGET_FILE:vksamed> devices)
cli_test(unknown_command fail "unknown command" $<TARGET_FILE:vksamed> frobnicate)

cli_test(info_tiny ok "preset: tiny \\(embed 64, depth 6, heads 2\\)" $<TARGET_FILE:vksamed> info ${CMAKE_BINARY_DIR}/checkpoints/tiny.pth)
set_tests_properties(cli_info_tiny PROPERTIES FIXTURES_REQUIRED checkpoints)
cli_test(info_missing fail "cannot open" $<TARGET_FILE:vksamed> info /nonexistent.pth)
