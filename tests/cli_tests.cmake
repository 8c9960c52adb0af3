# Command-line behaviour: what a user sees, including the error paths.
set(EXPECT ${CMAKE_SOURCE_DIR}/tests/cli/expect.sh)
function(cli_test name want regex)
  add_test(NAME cli_${name} COMMAND ${EXPECT} ${want} ${regex} ${ARGN})
  set_tests_properties(cli_${name} PROPERTIES LABELS cli TIMEOUT 300)
endfunction()

cli_test(devices ok "type (cpu|discrete|integrated|virtual).*" $<TARGET_FILE:vksamed> devices)
cli_test(devices_by_name ok "llvmpipe|NVIDIA|AMD|Intel" $<TARGET_FILE:vksamed> devices --device 0)
cli_test(devices_bad_index fail "device index 99 out of range" $<TARGET_FILE:vksamed> devices --device 99)
cli_test(devices_no_match fail "no Vulkan device matches \"no-such-gpu\"" env VKSAMED_DEVICE=no-such-gpu $<TARGET_FILE:vksamed> devices)
# No Vulkan driver installed: point the loader at no ICD at all.
cli_test(no_driver fail "apt-get install mesa-vulkan-drivers" env VK_DRIVER_FILES=/nonexistent/icd.json VK_ICD_FILENAMES=/nonexistent/icd.json $<TARGET_FILE:vksamed> devices)
cli_test(unknown_command fail "unknown command" $<TARGET_FILE:vksamed> frobnicate)

cli_test(info_tiny ok "preset: tiny \\(embed 64, depth 6, heads 2\\)" $<TARGET_FILE:vksamed> info ${CMAKE_BINARY_DIR}/checkpoints/tiny.pth)
set_tests_properties(cli_info_tiny PROPERTIES FIXTURES_REQUIRED checkpoints)
cli_test(info_missing fail "cannot open" $<TARGET_FILE:vksamed> info /nonexistent.pth)

# `vksamed segment` on real slices (DATA.md: insighttoolkit5-examples, mricron-data) with the
# tiny random checkpoints the parity and checkpoint fixtures write. The ok cases recompute the
# run in PyTorch (tests/cli/check_segment.py): logits, embedding, and the postprocessed mask or
# label map. The fail cases must leave their output folder empty.
set(SEG_DATA /usr/share/doc/insighttoolkit5-examples/examples/Data)
set(SEG_CH2 /usr/share/mricron/templates/ch2.nii.gz)
set(SEG_SAM ${VKSAMED_PARITY_DIR}/sam_parity_1024.pth)
set(SEG_SAMED ${VKSAMED_PARITY_DIR}/samed_parity_512.pth)
set(SEG_CKPT ${CMAKE_BINARY_DIR}/checkpoints)
function(segment_test name want fixtures regex)
  add_test(NAME cli_segment_${name}
           COMMAND ${CMAKE_SOURCE_DIR}/tests/cli/segment_test.sh ${VKSAMED_TORCH_PYTHON} ${want}
                   ${CMAKE_BINARY_DIR}/segment/${name} ${regex} $<TARGET_FILE:vksamed> ${ARGN})
  set_tests_properties(cli_segment_${name} PROPERTIES LABELS cli TIMEOUT 300
                       SKIP_RETURN_CODE 77 ENVIRONMENT "VKSAMED_VALIDATION=1")
  if(fixtures)
    set_tests_properties(cli_segment_${name} PROPERTIES FIXTURES_REQUIRED "${fixtures}")
  endif()
endfunction()
if(VKSAMED_TORCH_PYTHON AND EXISTS ${SEG_DATA}/BrainT1Slice.png AND EXISTS ${SEG_CH2})
  # Two points (one background) on a NIfTI slice at S=512: every output, checked against torch.
  segment_test(point_nifti ok parity_sam "mask 0: predicted IoU"
    --checkpoint ${SEG_SAM} --image ${SEG_CH2} --slice 90 --axis 2 --size 512
    --point 90,100 --point 40,60,0 --out mask.png --overlay overlay.png --logits logits.npy
    --embedding emb.npy
    --check --png mask.png:181x217:1 --png overlay.png:181x217:3 --npy logits.npy:1,4,128,128
    --npy emb.npy:1,256,32,32 --parity sam --ckpt ${SEG_SAM} --nifti ${SEG_CH2} --slice 90
    --size 512 --points "90,100,1\;40,60,0" --logits logits.npy --mask mask.png
    --embedding emb.npy)
  # A box on an RGB PNG at the preset's S=1024, the best of three masks.
  segment_test(box_multimask ok parity_sam "mask [123] \\(best\\): predicted IoU"
    --checkpoint ${SEG_SAM} --image ${SEG_DATA}/BrainT1Slice.png --box 40,50,140,170 --multimask
    --out mask.png --logits logits.npy
    --check --png mask.png:181x217:1 --npy logits.npy:1,4,256,256)
  # A point and a low-res mask input on a grey PNG (217 x 180: landscape, cropped rows).
  segment_test(mask_input ok parity_sam "mask 0: predicted IoU"
    --checkpoint ${SEG_SAM} --image ${SEG_DATA}/BrainMidSagittalSlice.png --point 100,90
    --mask-input ${VKSAMED_PARITY_DIR}/sam_mask_mask.npy --out mask.png --overlay overlay.png
    --check --png mask.png:217x180:1 --png overlay.png:217x180:3)
  # SAMed: 8 classes + background on the NIfTI slice, label map checked against torch.
  segment_test(semantic ok parity_sam "class 8: colour #[0-9a-f]{6}, [0-9]+ pixels"
    --checkpoint ${SEG_SAMED} --classes 8 --image ${SEG_CH2} --slice 90 --axis 2
    --out labels.png --overlay overlay.png --logits logits.npy
    --check --png labels.png:181x217:3 --png overlay.png:181x217:3 --legend labels.legend.txt:9
    --parity samed --ckpt ${SEG_SAMED} --nifti ${SEG_CH2} --slice 90 --size 512
    --logits logits.npy --mask labels.png)
  # A SAM base (4 tokens) with a SAMed LoRA file (9 tokens): decoder replaced, LoRA merged.
  segment_test(lora ok checkpoints "class 8: colour"
    --checkpoint ${SEG_CKPT}/tiny.pth --lora ${SEG_CKPT}/lora.pth --classes 8 --image ${SEG_CH2}
    --slice 90 --axis 2 --out labels.png --logits logits.npy
    --check --png labels.png:181x217:3 --legend labels.legend.txt:9 --parity samed
    --ckpt ${SEG_CKPT}/tiny.pth --lora ${SEG_CKPT}/lora.pth --nifti ${SEG_CH2} --slice 90
    --size 512 --logits logits.npy --mask labels.png)
  # SAMed_s: a LoRA file with adapters on the decoder's attentions too (B non-zero), merged.
  segment_test(lora_s ok parity_train "class 8: colour"
    --checkpoint ${VKSAMED_PARITY_DIR}/train_s_base.pth --lora ${VKSAMED_PARITY_DIR}/train_s_lora.pth
    --classes 8 --image ${SEG_CH2} --slice 90 --axis 2 --size 256 --out labels.png
    --logits logits.npy --check --png labels.png:181x217:3 --legend labels.legend.txt:9
    --parity samed --ckpt ${VKSAMED_PARITY_DIR}/train_s_base.pth
    --lora ${VKSAMED_PARITY_DIR}/train_s_lora.pth --nifti ${SEG_CH2} --slice 90 --size 256
    --logits logits.npy --mask labels.png)
  segment_test(missing_image fail "" "/nonexistent.png: cannot open"
    --checkpoint ${SEG_SAM} --image /nonexistent.png --point 1,1 --out mask.png)
  segment_test(bad_point fail "" "bad --point \"10,abc\""
    --checkpoint ${SEG_SAM} --image ${SEG_DATA}/BrainT1Slice.png --point 10,abc --out mask.png)
  segment_test(point_outside fail parity_sam "point 1 \\(181,20\\) lies outside the 181x217 image"
    --checkpoint ${SEG_SAM} --image ${SEG_DATA}/BrainT1Slice.png --point 181,20 --out mask.png)
  segment_test(classes_mismatch fail parity_sam "has 9 mask tokens .*--classes 3 needs 4"
    --checkpoint ${SEG_SAMED} --image ${SEG_CH2} --slice 90 --axis 2 --classes 3
    --out labels.png)
endif()

# The encoder benchmark end to end at a toy size (timings are never asserted).
cli_test(bench_encoder_tiny ok "ours: first run" $<TARGET_FILE:vksamed> bench encoder --preset tiny --size 64 --iters 1 --no-torch)
