# `vksamed train` / `vksamed eval` end to end on the built-in brain task (real MRI from
# mricron-data), shortened: tests/cli/train_test.sh. The LoRA case starts from the tiny SAM the
# training-parity fixture writes.
set(TRAIN_PY /usr/bin/python3)
if(VKSAMED_TORCH_PYTHON)
  set(TRAIN_PY ${VKSAMED_TORCH_PYTHON})
endif()
if(EXISTS /usr/share/mricron/templates/ch2.nii.gz)
  foreach(c main resume lora nan faults errors)
    add_test(NAME cli_train_${c}
             COMMAND ${CMAKE_SOURCE_DIR}/tests/cli/train_test.sh ${c} $<TARGET_FILE:vksamed>
                     ${CMAKE_SOURCE_DIR} ${CMAKE_BINARY_DIR}/train_cli/${c} ${TRAIN_PY}
                     ${VKSAMED_PARITY_DIR}/train_base.pth)
    set_tests_properties(cli_train_${c} PROPERTIES LABELS cli TIMEOUT 600 SKIP_RETURN_CODE 77
                         ENVIRONMENT "VKSAMED_VALIDATION=1")
  endforeach()
  if(VKSAMED_TORCH_PYTHON)
    set_tests_properties(cli_train_lora PROPERTIES FIXTURES_REQUIRED parity_train)
  endif()
endif()
# SIGKILL at 20 random moments (issue #7): the checkpoint always loads, --resume continues, and
# the result equals an uninterrupted run's.
if(EXISTS /usr/share/mricron/templates/ch2.nii.gz)
  add_test(NAME cli_train_kill
           COMMAND ${CMAKE_SOURCE_DIR}/tests/cli/kill_test.sh $<TARGET_FILE:vksamed>
                   ${CMAKE_SOURCE_DIR} ${CMAKE_BINARY_DIR}/train_cli/kill ${TRAIN_PY} 20)
  set_tests_properties(cli_train_kill PROPERTIES LABELS cli TIMEOUT 600)
endif()
# Data-parallel training under mpirun (issue #8): 2 ranks against 1 process, a dying rank.
if(EXISTS /usr/share/mricron/templates/ch2.nii.gz)
  add_test(NAME cli_train_dist
           COMMAND ${CMAKE_SOURCE_DIR}/tests/cli/dist_test.sh $<TARGET_FILE:vksamed>
                   ${CMAKE_SOURCE_DIR} ${CMAKE_BINARY_DIR}/train_cli/dist ${TRAIN_PY})
  set_tests_properties(cli_train_dist PROPERTIES LABELS cli TIMEOUT 600 SKIP_RETURN_CODE 77
                       ENVIRONMENT "VKSAMED_VALIDATION=1")
endif()
