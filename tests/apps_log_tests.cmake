# The training progress output of `vksamed train` (tests/apps/test_train_log.c): progress bar,
# CSV log and loss-curve PNG. tests/apps is not globbed as unit tests, so it is registered here
# with the apps sources it tests.
add_executable(test_train_log tests/apps/test_train_log.c apps/vksamed/train_log.c
                              apps/vksamed/loss_plot.c apps/vksamed/bench_util.c)
target_include_directories(test_train_log PRIVATE ${CMAKE_SOURCE_DIR}/apps/vksamed)
target_link_libraries(test_train_log PRIVATE vksamed_testlib vksamed_models)
add_test(NAME test_train_log COMMAND test_train_log)
set_tests_properties(test_train_log PROPERTIES ENVIRONMENT "VKSAMED_VALIDATION=1" LABELS unit
                     TIMEOUT 120)
