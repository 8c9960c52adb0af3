# The bad-input table (issue #7): every row of tests/cli/bad_inputs.tsv is one test, run by
# tests/cli/bad_inputs.sh: a clean failure (the row's exit status, never a crash), a message
# matching the row's regex, and a pre-existing output folder left byte-identical. The crafted
# inputs are written at test time (fixture bad_inputs): tests/reference/craft_pickles.py (the
# pickle refusals) and craft_bad_inputs.py (data files); the checkpoints fixture gives the real
# checkpoints some rows corrupt. Without python3-torch and numpy the rows cannot be prepared.
set(BAD_INPUT_DIR ${CMAKE_BINARY_DIR}/bad_inputs)
if(VKSAMED_TORCH_PYTHON)
  add_test(NAME bad_input_fixtures
           COMMAND sh -c "rm -rf '${BAD_INPUT_DIR}' && '${VKSAMED_TORCH_PYTHON}' \
'${CMAKE_SOURCE_DIR}/tests/reference/craft_pickles.py' '${BAD_INPUT_DIR}/pickles' && \
'${VKSAMED_TORCH_PYTHON}' '${CMAKE_SOURCE_DIR}/tests/reference/craft_bad_inputs.py' \
'${BAD_INPUT_DIR}/data'")
  set_tests_properties(bad_input_fixtures PROPERTIES FIXTURES_SETUP bad_inputs LABELS cli
                       TIMEOUT 120)
  # Only the ids are taken from the file (a row's brackets would upset a CMake list).
  file(READ ${CMAKE_SOURCE_DIR}/tests/cli/bad_inputs.tsv BAD_INPUT_TABLE)
  string(REGEX MATCHALL "\n[a-z0-9_]+\t" BAD_INPUT_ROWS "\n${BAD_INPUT_TABLE}")
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS
               ${CMAKE_SOURCE_DIR}/tests/cli/bad_inputs.tsv)
  foreach(row ${BAD_INPUT_ROWS})
    string(STRIP "${row}" id)
    add_test(NAME bad_input_${id}
             COMMAND ${CMAKE_SOURCE_DIR}/tests/cli/bad_inputs.sh $<TARGET_FILE:vksamed>
                     ${CMAKE_SOURCE_DIR} ${BAD_INPUT_DIR} ${BAD_INPUT_DIR}/work ${id})
    set_tests_properties(bad_input_${id} PROPERTIES LABELS cli TIMEOUT 300
                         FIXTURES_REQUIRED "bad_inputs;checkpoints"
                         ENVIRONMENT "VKSAMED_CKPT_DIR=${VKSAMED_CKPT_DIR}")
  endforeach()
endif()
