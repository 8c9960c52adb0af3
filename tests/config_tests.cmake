# The train/eval config file (apps/vksamed/train_config.c): strict parsing, overrides, the
# effective-config writer, and the shipped configs/ (the source folder is the argument).
add_executable(test_train_config tests/apps/test_train_config.c apps/vksamed/train_config.c)
target_include_directories(test_train_config PRIVATE ${CMAKE_SOURCE_DIR}/apps/vksamed)
target_link_libraries(test_train_config PRIVATE vksamed_testlib vksamed_models)
add_test(NAME test_train_config COMMAND test_train_config ${CMAKE_SOURCE_DIR})
set_tests_properties(test_train_config PROPERTIES LABELS unit TIMEOUT 120)
