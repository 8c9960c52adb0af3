# The predictor (models/sam/predictor.h) on the tiny SAM / SAMed checkpoints that the parity
# fixture (tests/reference/dump_sam.py) writes.
target_compile_definitions(test_predictor PRIVATE VE_PARITY_DIR="${VKSAMED_PARITY_DIR}")
set_tests_properties(test_predictor PROPERTIES SKIP_RETURN_CODE 77 LABELS parity)
if(VKSAMED_TORCH_PYTHON)
  set_tests_properties(test_predictor PROPERTIES FIXTURES_REQUIRED parity_sam)
endif()

# `vksamed bench prompt` end to end on the tiny preset (random weights, no PyTorch): both timings.
add_test(NAME cli_bench_prompt
         COMMAND vksamed bench prompt --preset tiny --size 256 --iters 2 --no-torch)
set(BENCH_PROMPT_OK "ours \\(a\\).*median.*ours \\(b\\).*median.*pytorch: skipped")
set_tests_properties(cli_bench_prompt PROPERTIES LABELS cli TIMEOUT 120
                     PASS_REGULAR_EXPRESSION "${BENCH_PROMPT_OK}")
