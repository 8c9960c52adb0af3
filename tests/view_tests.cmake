# vksamed-view (issue #6): the prompt history on its own, the command line's failures, and the
# whole program under Xvfb driven by --script (synthetic SDL events), its screenshots and saved
# masks checked by tests/view/check_view.py against `vksamed segment` on real slices with the
# tiny random checkpoints the parity fixtures write. Needs the vksamed-view target (SDL2) and,
# for the window tests, xvfb-run and xauth (tools/setup-debian's test packages).
if(NOT TARGET vksamed-view)
  return()
endif()
add_executable(test_view_prompts ${CMAKE_SOURCE_DIR}/tests/view/test_view_prompts.c
                                 ${CMAKE_SOURCE_DIR}/apps/vksamed-view/view_prompts.c)
target_include_directories(test_view_prompts PRIVATE ${CMAKE_SOURCE_DIR}/apps/vksamed-view)
target_link_libraries(test_view_prompts PRIVATE vksamed_testlib)
add_test(NAME test_view_prompts COMMAND test_view_prompts)
set_tests_properties(test_view_prompts PROPERTIES LABELS "unit;view" TIMEOUT 60)

set(VIEW_DATA /usr/share/doc/insighttoolkit5-examples/examples/Data)
set(VIEW_CH2 /usr/share/mricron/templates/ch2.nii.gz)
set(VIEW_EXPECT ${CMAKE_SOURCE_DIR}/tests/cli/expect.sh)
function(view_cli_test name want regex)
  add_test(NAME view_${name} COMMAND ${VIEW_EXPECT} ${want} ${regex} ${ARGN})
  set_tests_properties(view_${name} PROPERTIES LABELS "cli;view" TIMEOUT 120)
endfunction()
# Failures found before any window opens (no display needed).
view_cli_test(usage fail "--checkpoint is required" $<TARGET_FILE:vksamed-view> image.png)
view_cli_test(missing_image fail "cannot open /nonexistent.png"
  $<TARGET_FILE:vksamed-view> --checkpoint x.pth /nonexistent.png)
view_cli_test(bad_script fail "bad.script:3: unknown command \"frobnicate\""
  $<TARGET_FILE:vksamed-view> --checkpoint x.pth --script ${CMAKE_SOURCE_DIR}/tests/view/bad.script
  ${VIEW_DATA}/BrainT1Slice.png)
view_cli_test(bad_slice fail "--slice 500: .*ch2.nii.gz has 181 slices"
  $<TARGET_FILE:vksamed-view> --checkpoint x.pth --slice 500 ${VIEW_CH2})

find_program(VIEW_XVFB_RUN xvfb-run)
find_program(VIEW_XAUTH xauth)
if(NOT VIEW_XVFB_RUN OR NOT VIEW_XAUTH OR NOT VKSAMED_TORCH_PYTHON)
  message(STATUS "xvfb-run, xauth or /usr/bin/python3 missing: vksamed-view's window tests skipped")
  return()
endif()
# The model cannot load: the window shows it, the script fails with the loader's message.
view_cli_test(missing_checkpoint fail "loading the model: .*/nonexistent.pth"
  ${VIEW_XVFB_RUN} -a $<TARGET_FILE:vksamed-view> --checkpoint /nonexistent.pth
  --script ${CMAKE_SOURCE_DIR}/tests/view/missing_model.script ${VIEW_DATA}/BrainT1Slice.png)
# SAM prompts on a PNG slice: click, multimask cycling, box, undo, clear, help.
add_test(NAME view_sam
         COMMAND ${VKSAMED_TORCH_PYTHON} ${CMAKE_SOURCE_DIR}/tests/view/check_view.py sam
                 $<TARGET_FILE:vksamed-view> $<TARGET_FILE:vksamed>
                 ${VKSAMED_PARITY_DIR}/sam_parity_1024.pth ${VIEW_DATA}/BrainT1Slice.png
                 ${CMAKE_BINARY_DIR}/view/sam)
# SAMed semantic mode on the NIfTI volume: every class, a class toggled, wheel to the next
# slice, window / level.
add_test(NAME view_semantic
         COMMAND ${VKSAMED_TORCH_PYTHON} ${CMAKE_SOURCE_DIR}/tests/view/check_view.py semantic
                 $<TARGET_FILE:vksamed-view> $<TARGET_FILE:vksamed>
                 ${VKSAMED_PARITY_DIR}/samed_parity_512.pth ${VIEW_CH2}
                 ${CMAKE_BINARY_DIR}/view/semantic)
set_tests_properties(view_sam view_semantic PROPERTIES FIXTURES_REQUIRED parity_sam
                     LABELS view TIMEOUT 300 ENVIRONMENT "VKSAMED_VALIDATION=1")
# One smoke test with real X input (xdotool) instead of pushed events.
find_program(VIEW_XVFB Xvfb)
find_program(VIEW_XDOTOOL xdotool)
if(VIEW_XVFB AND VIEW_XDOTOOL)
  add_test(NAME view_xdotool_smoke
           COMMAND ${CMAKE_SOURCE_DIR}/tests/view/xdotool_smoke.sh $<TARGET_FILE:vksamed-view>
                   ${VKSAMED_PARITY_DIR}/sam_parity_1024.pth ${VIEW_DATA}/BrainT1Slice.png)
  set_tests_properties(view_xdotool_smoke PROPERTIES FIXTURES_REQUIRED parity_sam LABELS view
                       TIMEOUT 300)
endif()

# Under the sanitizers: SDL2 (2.26) dlopens libdbus and unloads it at SDL_Quit, leaving dbus's
# connection cache allocated; LeakSanitizer then reports frames of an unloaded module that no
# suppression can name. The window tests keep ASan and UBSan but skip the leak check; the
# viewer's own code paths without a window (test_view_prompts, the view_* failures before
# SDL starts) keep it.
if(VKSAMED_SANITIZE)
  set(VIEW_WINDOW_TESTS view_missing_checkpoint view_sam view_semantic)
  if(TEST view_xdotool_smoke)
    list(APPEND VIEW_WINDOW_TESTS view_xdotool_smoke)
  endif()
  set_property(TEST ${VIEW_WINDOW_TESTS} APPEND PROPERTY ENVIRONMENT
               "ASAN_OPTIONS=detect_leaks=0:abort_on_error=1")
endif()
