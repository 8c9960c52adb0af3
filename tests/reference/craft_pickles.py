#!/usr/bin/python3
"""Writes `.pth` files whose pickles try what a state dict never needs, for the bad-input table
(tests/cli/bad_inputs.tsv, rows p_*): every one must be refused by engine/io/pickle.c with a
message naming what is wrong, and nothing in them is ever unpickled (the bytes are put together
by hand; only zipfile and struct are used, so no torch is needed).

Usage: craft_pickles.py OUTDIR      writes OUTDIR/p_<case>.pth

A reference first: ok.pth holds {"w": a 4-float tensor} as torch.save writes it, so each case
differs from an accepted file only in what it tests. (make_checkpoints.py already covers os.system
through GLOBAL + REDUCE, INST and an unknown opcode.)
"""
import os
import struct
import sys
import zipfile

OUT = sys.argv[1]
os.makedirs(OUT, exist_ok=True)


def u(s):  # BINUNICODE
    b = s.encode()
    return b"X" + struct.pack("<I", len(b)) + b


def g(module, name):  # GLOBAL
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def K(n):  # BININT1
    return b"K" + bytes([n])


def storage_pid(kind="storage", stype=g("torch", "FloatStorage"), key="0", numel=K(4)):
    return b"(" + u(kind) + stype + u(key) + u("cpu") + numel + b"tQ"


def tensor(pid=None):
    """_rebuild_tensor_v2(storage, 0, (4,), (1,), False, OrderedDict())."""
    return (g("torch._utils", "_rebuild_tensor_v2") + b"(" + (pid or storage_pid()) + K(0) +
            K(4) + b"\x85" + K(1) + b"\x85" + b"\x89" + g("collections", "OrderedDict") +
            b")R" + b"tR")


def state_dict(value):
    return b"\x80\x02}q\x00(" + u("w") + value + b"u."


def write(name, pkl, storage=True):
    with zipfile.ZipFile(os.path.join(OUT, name + ".pth"), "w", zipfile.ZIP_STORED) as z:
        z.writestr("archive/data.pkl", pkl)
        if storage:
            z.writestr("archive/data/0", struct.pack("<4f", 1, 2, 3, 4))
        z.writestr("archive/version", b"3\n")


write("ok", state_dict(tensor()))
# Globals outside the allow-list, called or only named.
write("p_eval", state_dict(g("builtins", "eval") + b"(" + u("1+1") + b"tR"))
write("p_getattr", state_dict(g("builtins", "getattr") + b"(" + tensor() + u("x") + b"tR"))
write("p_odict_subclass", b"\x80\x02" + g("mymodule", "OrderedDict") + b")R." )
write("p_defaultdict", state_dict(g("collections", "defaultdict") + b")R"))
write("p_old_rebuild", state_dict(g("torch._utils", "_rebuild_tensor") + b")R"))
write("p_torch_load", state_dict(g("torch", "load") + b"(" + u("x.pth") + b"tR"))
write("p_numpy", state_dict(g("numpy.core.multiarray", "_reconstruct") + b")R"))
# Allowed globals called the wrong way.
write("p_reduce_storage", state_dict(g("torch", "FloatStorage") + b")R"))
write("p_reduce_dict", state_dict(b"}" + b")R"))
write("p_odict_args", state_dict(g("collections", "OrderedDict") + b"(" + u("a") + b"tR"))
write("p_param_args", state_dict(g("torch._utils", "_rebuild_parameter") + b"(" + tensor() +
                                 b"tR"))
write("p_tensor_args", state_dict(g("torch._utils", "_rebuild_tensor_v2") + b"(" + K(1) + b"tR"))
# BUILD other than a dict's attributes.
write("p_build_tensor", state_dict(tensor() + b"}b"))
write("p_build_state", state_dict(b"}" + b"(" + K(1) + b"tb"))
# Opcodes a state dict never uses.
write("p_obj", state_dict(b"(" + g("collections", "OrderedDict") + b"o"))
write("p_newobj", state_dict(g("collections", "OrderedDict") + b")\x81"))
write("p_ext1", state_dict(b"\x82\x01"))
write("p_stack_global", state_dict(u("os") + u("system") + b"\x93"))
write("p_persid_text", state_dict(b"P0\n"))
write("p_proto4", b"\x80\x04}." )
# A name twice: the second would silently shadow the first.
write("p_duplicate", b"\x80\x02}q\x00(" + u("w") + tensor() + u("w") + tensor() + b"u.")
# Persistent ids of the wrong form.
write("p_pid_short", state_dict(tensor(b"(" + u("storage") + g("torch", "FloatStorage") +
                                       u("0") + b"tQ")))
write("p_pid_tag", state_dict(tensor(storage_pid(kind="module"))))
write("p_pid_type", state_dict(tensor(storage_pid(stype=g("collections", "OrderedDict")))))
write("p_pid_key", state_dict(tensor(storage_pid(key="../../etc/passwd"))))
write("p_pid_numel", state_dict(tensor(storage_pid(numel=b"J" + struct.pack("<i", -4)))))
write("p_pid_not_tuple", state_dict(u("storage") + b"Q"))
