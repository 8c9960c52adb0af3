# `.pth` writing and safetensors metadata (engine/io/pth_write.c, zip_write.c,
# safetensors_write.c). test_pth_write runs without torch; with Debian's /usr/bin/python3 +
# python3-torch, tests/reference/check_pth_export.py first prepares a SAMed LoRA state dict
# (pth_export_inputs), test_pth_write writes it and the formula files with ve_pth_write, then
# pth_export_check loads them with torch.load the way SAMed does, compares the formula files byte
# for byte with torch.save's, and parses the safetensors metadata with json.
set(VKSAMED_PTH_EXPORT_DIR ${CMAKE_BINARY_DIR}/pth_export)
target_compile_definitions(test_pth_write PRIVATE VE_PTH_EXPORT_DIR="${VKSAMED_PTH_EXPORT_DIR}")
set_tests_properties(test_pth_write PROPERTIES LABELS "unit;checkpoint")
if(VKSAMED_TORCH_PYTHON)
  set(PTH_EXPORT ${CMAKE_SOURCE_DIR}/tests/reference/check_pth_export.py)
  add_test(NAME pth_export_inputs
           COMMAND ${VKSAMED_TORCH_PYTHON} ${PTH_EXPORT} prepare ${VKSAMED_PTH_EXPORT_DIR})
  add_test(NAME pth_export_check
           COMMAND ${VKSAMED_TORCH_PYTHON} ${PTH_EXPORT} check ${VKSAMED_PTH_EXPORT_DIR})
  set_tests_properties(pth_export_inputs PROPERTIES FIXTURES_SETUP pth_export_inputs
                       LABELS "unit;checkpoint" TIMEOUT 300)
  set_tests_properties(test_pth_write PROPERTIES FIXTURES_REQUIRED pth_export_inputs
                       FIXTURES_SETUP pth_export)
  set_tests_properties(pth_export_check PROPERTIES FIXTURES_REQUIRED "pth_export_inputs;pth_export"
                       LABELS "unit;checkpoint" TIMEOUT 300 SKIP_RETURN_CODE 77)
endif()
