# Image, NIfTI and .npy files (engine/io). The real-data halves read Debian's mricron-data and
# insighttoolkit5-examples; without them those tests run their synthetic half and then report
# themselves skipped (exit 77). test_npy also reads arrays that numpy itself wrote
# (tests/reference/npy_reference.py, fixture npy_numpy_files), and npy_numpy_reads checks that
# numpy.load reads what test_npy wrote; without python3-numpy both report skipped.
foreach(t test_image_io test_nifti test_npy)
  set_tests_properties(${t} PROPERTIES SKIP_RETURN_CODE 77)
endforeach()
# The tests write gzip files and hand-made PNGs with zlib.
target_link_libraries(test_nifti PRIVATE ZLIB::ZLIB)
target_link_libraries(test_image_io PRIVATE ZLIB::ZLIB)

set(VKSAMED_NPY_DIR ${CMAKE_BINARY_DIR}/npy_files)
target_compile_definitions(test_npy PRIVATE VE_NPY_DIR="${VKSAMED_NPY_DIR}")
find_program(VKSAMED_NUMPY_PYTHON python3 PATHS /usr/bin NO_DEFAULT_PATH)
if(VKSAMED_NUMPY_PYTHON)
  add_test(NAME npy_numpy_files
           COMMAND ${VKSAMED_NUMPY_PYTHON} ${CMAKE_SOURCE_DIR}/tests/reference/npy_reference.py
                   make ${VKSAMED_NPY_DIR})
  add_test(NAME npy_numpy_reads
           COMMAND ${VKSAMED_NUMPY_PYTHON} ${CMAKE_SOURCE_DIR}/tests/reference/npy_reference.py
                   check ${VKSAMED_NPY_DIR})
  set_tests_properties(npy_numpy_files PROPERTIES FIXTURES_SETUP npy_numpy LABELS unit
                       TIMEOUT 120 SKIP_RETURN_CODE 77)
  set_tests_properties(test_npy PROPERTIES FIXTURES_REQUIRED npy_numpy FIXTURES_SETUP npy_ours)
  set_tests_properties(npy_numpy_reads PROPERTIES FIXTURES_REQUIRED "npy_numpy;npy_ours"
                       LABELS unit TIMEOUT 120 SKIP_RETURN_CODE 77)
endif()
