# The training data pipeline (engine/data). Fixture scripts write into the build tree at test
# time: tests/reference/augment_reference.py (random planes and what scipy.ndimage's zoom and
# rotate and SAMed's RandomGenerator make of them) and tests/reference/slice_files.py (.npz and
# .npy.h5 files from numpy and h5py). Without python3-scipy / python3-h5py those tests run their
# other parts and report themselves skipped (exit 77).
set(VKSAMED_DATA_DIR ${CMAKE_BINARY_DIR}/data_files)
foreach(t test_data_augment test_data_slices test_data_loader)
  target_compile_definitions(${t} PRIVATE VE_DATA_DIR="${VKSAMED_DATA_DIR}")
  set_tests_properties(${t} PROPERTIES SKIP_RETURN_CODE 77)
endforeach()
find_program(VKSAMED_NUMPY_PYTHON python3 PATHS /usr/bin NO_DEFAULT_PATH)
if(VKSAMED_NUMPY_PYTHON)
  # fixture name, script, output folder, the test that needs it
  foreach(f "data_augment;augment_reference;augment;test_data_augment"
            "data_slices;slice_files;slices;test_data_slices")
    list(GET f 0 fixture)
    list(GET f 1 script)
    list(GET f 2 folder)
    list(GET f 3 test)
    add_test(NAME ${fixture}_fixtures
             COMMAND ${VKSAMED_NUMPY_PYTHON} ${CMAKE_SOURCE_DIR}/tests/reference/${script}.py
                     ${VKSAMED_DATA_DIR}/${folder})
    set_tests_properties(${fixture}_fixtures PROPERTIES FIXTURES_SETUP ${fixture} LABELS unit
                         TIMEOUT 300 SKIP_RETURN_CODE 77)
    set_tests_properties(${test} PROPERTIES FIXTURES_REQUIRED ${fixture})
  endforeach()
endif()
