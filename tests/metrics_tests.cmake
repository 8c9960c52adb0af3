# Segmentation metrics and label NIfTI writing (engine/eval, engine/io/nifti_write.c).
# tests/reference/medpy_reference.py writes random label volumes and medpy's Dice / HD95 for
# them (restated on scipy.ndimage) into the build tree at test time; test_seg_metrics compares.
# Without numpy/scipy the script writes nothing and test_seg_metrics runs its other parts, then
# reports itself skipped (exit 77). test_nifti_write leaves its files and pairs.txt in the build
# tree, and nifti_write_headers re-reads them with python's struct and gzip only: the geometry
# (pixdim, units, qform/sform codes, quatern, qoffset, srow, descrip) must equal the source's.
set(VKSAMED_METRICS_DIR ${CMAKE_BINARY_DIR}/metrics_files)
target_compile_definitions(test_seg_metrics PRIVATE VE_METRICS_DIR="${VKSAMED_METRICS_DIR}")
set_tests_properties(test_seg_metrics PROPERTIES SKIP_RETURN_CODE 77)
set(VKSAMED_NIFTI_OUT_DIR ${CMAKE_BINARY_DIR}/nifti_write_files)
target_compile_definitions(test_nifti_write PRIVATE VE_NIFTI_OUT_DIR="${VKSAMED_NIFTI_OUT_DIR}")
set_tests_properties(test_nifti_write PROPERTIES FIXTURES_SETUP nifti_written)
find_program(VKSAMED_METRICS_PYTHON python3 PATHS /usr/bin NO_DEFAULT_PATH)
if(VKSAMED_METRICS_PYTHON)
  add_test(NAME medpy_reference_files
           COMMAND ${VKSAMED_METRICS_PYTHON} ${CMAKE_SOURCE_DIR}/tests/reference/medpy_reference.py
                   make ${VKSAMED_METRICS_DIR})
  set_tests_properties(medpy_reference_files PROPERTIES FIXTURES_SETUP medpy_reference
                       LABELS unit TIMEOUT 120)
  set_tests_properties(test_seg_metrics PROPERTIES FIXTURES_REQUIRED medpy_reference)
  # No semicolons below: CMake would split the argument there.
  add_test(NAME nifti_write_headers
           COMMAND ${VKSAMED_METRICS_PYTHON} -c [=[
import gzip, struct, sys
def header(path):
    raw = open(path, 'rb').read()
    if raw[:2] == b'\x1f\x8b':
        raw = gzip.decompress(raw)
    e = '<' if struct.unpack('<i', raw[:4])[0] == 348 else '>'
    f = lambda fmt, off: struct.unpack(e + fmt, raw[off:off + struct.calcsize(fmt)])
    return dict(dim=f('8h', 40), datatype=f('h', 70)[0], bitpix=f('h', 72)[0],
                pixdim=f('8f', 76), vox_offset=f('f', 108)[0], units=raw[123],
                cal=f('2f', 124), descrip=raw[148:228], codes=f('2h', 252),
                quatern=f('6f', 256), srow=f('12f', 280), magic=raw[344:348],
                data=raw[352:]), e
checked = 0
for line in open(sys.argv[1]):
    src_path, out_path = line.split()
    (src, _), (out, e) = header(src_path), header(out_path)
    for k in ('pixdim', 'units', 'descrip', 'codes', 'quatern', 'srow'):
        if src[k] != out[k]:
            sys.exit('%s: %s is %r, the source has %r' % (out_path, k, out[k], src[k]))
    n = out['dim'][1] * out['dim'][2] * out['dim'][3]
    if (e, out['dim'][1:4], out['datatype'], out['bitpix'], out['vox_offset'], out['magic'],
            len(out['data'])) != ('<', src['dim'][1:4], 2, 8, 352.0, b'n+1\0', n):
        sys.exit('%s: header fields or data size wrong' % out_path)
    if out['cal'] != (float(max(out['data'])), 0.0):
        sys.exit('%s: cal_max/cal_min %r' % (out_path, out['cal']))
    checked += 1
if checked < 4:
    sys.exit('only %d files listed' % checked)
print('nifti_write_headers: %d files match their sources' % checked)
]=] ${VKSAMED_NIFTI_OUT_DIR}/pairs.txt)
  set_tests_properties(nifti_write_headers PROPERTIES FIXTURES_REQUIRED nifti_written
                       LABELS unit TIMEOUT 60)
endif()
