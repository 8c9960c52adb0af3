# Checkpoint reading (engine/io) against real torch.save files: tests/reference/
# make_checkpoints.py writes them into the build tree at test time (fixture), using Debian's
# /usr/bin/python3 with python3-torch. Without torch the script says so, writes nothing, and
# test_checkpoint runs its torch-free half, then reports itself skipped (exit 77).
find_program(VKSAMED_TORCH_PYTHON python3 PATHS /usr/bin NO_DEFAULT_PATH)
set(VKSAMED_CKPT_DIR ${CMAKE_BINARY_DIR}/checkpoints)
if(VKSAMED_TORCH_PYTHON)
  add_test(NAME checkpoint_fixtures
           COMMAND ${VKSAMED_TORCH_PYTHON} ${CMAKE_SOURCE_DIR}/tests/reference/make_checkpoints.py
                   ${VKSAMED_CKPT_DIR})
  set_tests_properties(checkpoint_fixtures PROPERTIES FIXTURES_SETUP checkpoints LABELS unit
                       TIMEOUT 300)
  set_tests_properties(test_checkpoint PROPERTIES FIXTURES_REQUIRED checkpoints)
endif()
target_link_libraries(test_checkpoint PRIVATE vksamed_models)
target_compile_definitions(test_checkpoint PRIVATE VE_CKPT_DIR="${VKSAMED_CKPT_DIR}")
set_tests_properties(test_checkpoint PROPERTIES SKIP_RETURN_CODE 77)
