"""A register-blocked direct convolution, written as LLVM IR and compiled with llvmlite.

Imported only through :func:`chainrule.kernels.compiled` (with the Numba kernels: llvmlite is
Numba's own code generator, so it needs no extra dependency). Used by the fast conv2d for the
shapes where it beats im2col + GEMM (see
:func:`chainrule.kernels.conv_schedules.direct_kernels`); the NumPy paths stay the tested
reference.

Why not Numba: a direct convolution is only fast when its accumulators live in registers and
every multiply-add works on a whole SIMD vector of channels. Numba's loops over arrays reach
LLVM without the two facts that allow this (the output and weight arrays do not alias; the
channel loop has a vector's length), so LLVM emits scalar multiply-adds into memory. Here the
IR states both: pointers are ``noalias`` and the arithmetic is on vector types.

The forward, for one output row of one image and a block of ``OCB`` vectors of output
channels (``VL`` channels each: 16 float32 or 8 float64 with AVX-512)::

    acc[r, k] = bias[oc0 + k*VL : oc0 + (k+1)*VL]                for r < RW, k < OCB
    for kh in range(KH):
        for j in range(KW*C):        # the window's row: KW*C contiguous channels-last values
            wv[k] = weight[kh, j, oc0 + k*VL : ...]                     (one vector load each)
            acc[r, k] += x[n, oh*sh + kh*dh, (ow0 + r)*sw, j] * wv[k]   (broadcast, FMA)
    y[n, oh, ow0 + r, oc0 + k*VL : ...] = acc[r, k]

``RW`` output pixels times ``OCB`` vectors of channels stay in registers (at most 24 of the
32 AVX-512 registers); each weight vector loaded is used ``RW`` times and each input value
``OCB`` times. The inner loop compiles to one load and ``RW*OCB`` FMAs with an embedded
broadcast (``vfmadd231ps (mem){1to16}, zmm, zmm``). The weight gradient is the same tile with
window values ``j`` in place of pixels, summed over every (n, oh, ow) with gy's vectors in
place of the weight's. The input gradient (stride 1) holds output channels in the lanes as
the reduction: ``acc[r, c] += gy[n, ih + pt - kh, iw + r + pl - kw, oc-vector] *
weight[kh, kw, c, oc-vector]``, the lanes summed at the end.

Layouts: x is the zero-padded channels-last input (N, Hp, Wp, C); weight is (KH, KW*C, OCP)
with the output channels padded with zeros to OCP, a multiple of OCB*VL; y and gy are
channels-last (N, OH, OW, OCP). Dilation along the width must be 1 (the window row is then
contiguous).
"""
from __future__ import annotations

import ctypes
import functools
import math
import os
import threading
from typing import Any

import llvmlite.binding as llvm
import llvmlite.ir as ir
import numpy as np

from .threads import over_parts
from .scratch import scratch

_I64 = ir.IntType(64)
_ARGS = ("N", "Hp", "Wp", "C", "OH", "OW", "KH", "K2", "sh", "sw", "dh", "OCP")


def _const(v: Any) -> Any:
    return v if isinstance(v, ir.Value) else ir.Constant(_I64, v)


class _Loop:
    """``for i in range(start, stop, step)`` as IR; the counter is an alloca that LLVM's
    mem2reg turns into a register (as are the accumulators)."""

    def __init__(self, b: ir.IRBuilder, stop: Any, name: str, step: int = 1,
                 start: Any = 0) -> None:
        self.b, self.stop, self.step, self.name = b, stop, step, name
        with b.goto_entry_block():  # mem2reg promotes the entry block's allocas
            self.var = b.alloca(_I64, name=name)
        b.store(_const(start), self.var)

    def __enter__(self) -> Any:
        b = self.b
        cond = b.append_basic_block(self.name + ".cond")
        body = b.append_basic_block(self.name + ".body")
        self.cond, self.end = cond, b.append_basic_block(self.name + ".end")
        b.branch(cond)
        b.position_at_end(cond)
        b.cbranch(b.icmp_signed("<", b.load(self.var), _const(self.stop)), body, self.end)
        b.position_at_end(body)
        return b.load(self.var)

    def __exit__(self, *exc: Any) -> None:
        b = self.b
        b.store(b.add(b.load(self.var), _const(self.step)), self.var)
        b.branch(self.cond)
        b.position_at_end(self.end)


def _tiles(b: ir.IRBuilder, count: Any, rows: int, tail: int, tile: Any) -> None:
    """``tile(start, rows)`` for each whole tile of ``rows`` along ``count``, then
    ``tile(start, tail)`` for the last ``tail`` (= count % rows, known when compiling)."""
    full = b.sdiv(count, _const(rows))
    with _Loop(b, full, "t") as t:
        tile(b.mul(t, _const(rows)), rows)
    if tail:
        tile(b.mul(full, _const(rows)), tail)


class _Kernel:
    """One function ``symbol(x, vectors, bias, out, *args)`` being emitted, and the few IR
    pieces the kernels are made of. ``acc`` holds ``rows`` x ``OCB`` accumulator vectors."""

    def __init__(self, symbol: str, fty: ir.Type, VL: int, OCB: int, rows: int,
                 args: tuple[str, ...] = _ARGS) -> None:
        self.VL, self.OCB = VL, OCB
        self.vty = vty = ir.VectorType(fty, VL)
        self.module = ir.Module(name=symbol)
        self.module.triple = llvm.get_process_triple()
        ptr = fty.as_pointer()
        fn = ir.Function(self.module, ir.FunctionType(ir.VoidType(), [ptr] * 4 + [_I64] * len(
            args)), name=symbol)
        for a in fn.args[:4]:
            a.add_attribute("noalias")
        self.x, self.vectors, self.bias, self.out = fn.args[:4]
        self.A = dict(zip(args, fn.args[4:]))
        bits = 32 if isinstance(fty, ir.FloatType) else 64
        self.fma = ir.Function(self.module, ir.FunctionType(vty, [vty] * 3),
                               name=f"llvm.fma.v{VL}f{bits}")
        self.b = b = ir.IRBuilder(fn.append_basic_block("entry"))
        self.acc = [[b.alloca(vty) for _ in range(OCB)] for _ in range(rows)]
        self.undef = ir.Constant(vty, ir.Undefined)
        self.splat = ir.Constant(ir.VectorType(ir.IntType(32), VL), [0] * VL)

    def ptr(self, base: Any, offset: Any, vector: bool = True) -> Any:
        p = self.b.gep(base, [offset], inbounds=True)
        return self.b.bitcast(p, self.vty.as_pointer()) if vector else p

    def fill(self, rows: int, start: Any = None) -> None:
        """acc[r, k] = start[k] (vectors at those offsets of bias), or zero."""
        for k in range(self.OCB):
            v = (ir.Constant(self.vty, None) if start is None else
                 self.b.load(self.ptr(self.bias, self.b.add(start, _const(k * self.VL))),
                             align=4))
            for r in range(rows):
                self.b.store(v, self.acc[r][k])

    def _tile_offsets(self, rows: int, at: Any, row_step: Any) -> list:
        b = self.b
        return [[b.add(at, b.add(b.mul(_const(r), row_step), _const(k * self.VL)))
                 for k in range(self.OCB)] for r in range(rows)]

    def load(self, rows: int, at: Any, row_step: Any) -> None:
        """acc[r, k] = out[at + r*row_step + k*VL] (partial sums to continue)."""
        for r, offsets in enumerate(self._tile_offsets(rows, at, row_step)):
            for k, offset in enumerate(offsets):
                self.b.store(self.b.load(self.ptr(self.out, offset), align=4), self.acc[r][k])

    def step(self, scalars: list, at: Any) -> None:
        """acc[r, k] += broadcast(x[scalars[r]]) * vectors[at + k*VL], for every r and k."""
        b = self.b
        vs = [b.load(self.ptr(self.vectors, b.add(at, _const(k * self.VL))), align=4)
              for k in range(self.OCB)]
        for r, offset in enumerate(scalars):
            xs = b.load(self.ptr(self.x, offset, vector=False))
            xv = b.shuffle_vector(b.insert_element(self.undef, xs, _const(0)), self.undef,
                                  self.splat)
            for k, v in enumerate(vs):
                b.store(b.call(self.fma, [xv, v, b.load(self.acc[r][k])]), self.acc[r][k])

    def store(self, rows: int, at: Any, row_step: Any) -> None:
        """out[at + r*row_step + k*VL] = acc[r, k]."""
        for r, offsets in enumerate(self._tile_offsets(rows, at, row_step)):
            for k, offset in enumerate(offsets):
                self.b.store(self.b.load(self.acc[r][k]), self.ptr(self.out, offset), align=4)

    def dot_step(self, rows: list, cols: list) -> None:
        """acc[r, c] += x[rows[r]] * vectors[cols[c]] lane by lane (sums over the lanes later)."""
        b = self.b
        xs = [b.load(self.ptr(self.x, at), align=4) for at in rows]
        vs = [b.load(self.ptr(self.vectors, at), align=4) for at in cols]
        for r, xv in enumerate(xs):
            for c, v in enumerate(vs):
                b.store(b.call(self.fma, [xv, v, b.load(self.acc[r][c])]), self.acc[r][c])

    def store_sums(self, rows: int, cols: int, at: Any, row_step: Any) -> None:
        """out[at + r*row_step + c] = the sum of acc[r, c]'s lanes (halves added log2(VL)
        times)."""
        b = self.b
        for r in range(rows):
            for c in range(cols):
                v, width = b.load(self.acc[r][c]), self.VL
                while width > 1:
                    width //= 2
                    upper = ir.Constant(ir.VectorType(ir.IntType(32), self.VL),
                                        [width + i if i < width else i for i in range(self.VL)])
                    v = b.fadd(v, b.shuffle_vector(v, self.undef, upper))
                offset = b.add(at, b.add(b.mul(_const(r), row_step), _const(c)))
                b.store(b.extract_element(v, _const(0)), self.ptr(self.out, offset, False))

    def finish(self) -> ir.Module:
        self.b.ret_void()
        return self.module


def _forward_ir(symbol: str, fty: ir.Type, VL: int, OCB: int, RW: int, TAIL: int) -> ir.Module:
    """``forward(x, weight, bias, y)``: tiles of RW output pixels x OCB*VL channels.

    x (N, Hp, Wp, C), weight (KH, K2, OCP), bias (OCP,), y (N, OH, OW, OCP)."""
    k = _Kernel(symbol, fty, VL, OCB, max(RW, TAIL))
    b, A = k.b, k.A
    mul, add = b.mul, b.add
    C, Wp, OCP, K2, sw = A["C"], A["Wp"], A["OCP"], A["K2"], A["sw"]
    x_row_step = mul(mul(A["dh"], Wp), C)  # dh*Wp*C values from one kernel row to the next
    x_col_step = mul(sw, C)                # sw*C values from one output pixel to the next

    def tile(n: Any, oh: Any, ow0: Any, oc0: Any, rw: int) -> None:
        # x[n, oh*sh, ow0*sw, 0] of (N, Hp, Wp, C); y[n, oh, ow0, oc0] of (N, OH, OW, OCP)
        x0 = mul(add(mul(add(mul(n, A["Hp"]), mul(oh, A["sh"])), Wp), mul(ow0, sw)), C)
        y0 = add(mul(add(mul(add(mul(n, A["OH"]), oh), A["OW"]), ow0), OCP), oc0)
        k.fill(rw, oc0)
        with _Loop(b, A["KH"], "kh") as kh:
            x_row = add(x0, mul(kh, x_row_step))
            w_row = add(oc0, mul(kh, mul(K2, OCP)))  # weight[kh, 0, oc0]
            with _Loop(b, K2, "j") as j:  # the window row: KW*C contiguous values
                k.step([add(add(x_row, mul(_const(r), x_col_step)), j) for r in range(rw)],
                       add(w_row, mul(j, OCP)))
        k.store(rw, y0, OCP)

    with _Loop(b, A["N"], "n") as n:
        with _Loop(b, A["OH"], "oh") as oh:
            with _Loop(b, OCP, "oc", OCB * VL) as oc0:
                _tiles(b, A["OW"], RW, TAIL, lambda ow0, rw: tile(n, oh, ow0, oc0, rw))
    return k.finish()


def _grad_weight_ir(symbol: str, fty: ir.Type, VL: int, OCB: int, JB: int, TAIL: int
                    ) -> ir.Module:
    """``grad_weight(x, gy, -, gw)``: tiles of JB window values x OCB*VL channels, each
    summed over every (oh, ow) of one image at a time and added to gw (zeroed by the caller),
    so an image's x and gy stay in cache while every tile reads them.

    x (N, Hp, Wp, C), gy (N, OH, OW, OCP), gw (KH, K2, OCP)."""
    k = _Kernel(symbol, fty, VL, OCB, max(JB, TAIL))
    b, A = k.b, k.A
    mul, add = b.mul, b.add
    C, Wp, OCP, K2, sw = A["C"], A["Wp"], A["OCP"], A["K2"], A["sw"]

    def tile(n: Any, kh: Any, j0: Any, oc0: Any, jb: int) -> None:
        gw_at = add(mul(add(mul(kh, K2), j0), OCP), oc0)  # gw[kh, j0, oc0]
        k.load(jb, gw_at, OCP)
        with _Loop(b, A["OH"], "oh") as oh:
            # x[n, oh*sh + kh*dh, 0, j0] of (N, Hp, Wp, C); gy[n, oh, 0, oc0]
            row = add(add(mul(n, A["Hp"]), mul(oh, A["sh"])), mul(kh, A["dh"]))
            x_row = add(mul(mul(row, Wp), C), j0)
            g_row = add(mul(add(mul(n, A["OH"]), oh), mul(A["OW"], OCP)), oc0)
            with _Loop(b, A["OW"], "ow") as ow:
                x_at = add(x_row, mul(ow, mul(sw, C)))
                k.step([add(x_at, _const(r)) for r in range(jb)], add(g_row, mul(ow, OCP)))
        k.store(jb, gw_at, OCP)

    with _Loop(b, A["N"], "n") as n:
        with _Loop(b, A["KH"], "kh") as kh:
            with _Loop(b, OCP, "oc", OCB * VL) as oc0:
                _tiles(b, K2, JB, TAIL, lambda j0, jb: tile(n, kh, j0, oc0, jb))
    return k.finish()


_GI_ARGS = ("N", "H", "W", "C", "OH", "OWp", "KH", "KW", "pt", "pl", "OCP")


def _grad_input_ir(symbol: str, fty: ir.Type, VL: int, CB: int, RW: int, TAIL: int
                   ) -> ir.Module:
    """``grad_input(gy, weight, -, gx)`` for stride and dilation 1: tiles of RW input pixels
    x CB input channels, each a dot product over (kh, kw, out channel) with the out channels
    in the vector lanes (so few input channels, LeNet's 6, waste no lanes).

    gy (N, OH, OWp, OCP) zero-padded by KW-1 columns on each side, weight (KH, KW, C, OCP),
    gx (N, H, W, C). Kernel rows that fall outside gy are skipped, not multiplied by zeros.
    """
    k = _Kernel(symbol, fty, VL, CB, max(RW, TAIL), _GI_ARGS)
    b, A = k.b, k.A
    mul, add, sub = b.mul, b.add, b.sub
    C, KW, OCP, OWp = A["C"], A["KW"], A["OCP"], A["OWp"]

    def smax(p: Any, q: Any) -> Any:
        return b.select(b.icmp_signed(">", p, q), p, q)

    def tile(n: Any, ih: Any, iw0: Any, c0: Any, rw: int) -> None:
        k.fill(rw)
        ihp = add(ih, A["pt"])  # the row in the padded input; gy row ihp - kh, if in range
        lo = smax(sub(ihp, sub(A["OH"], _const(1))), _const(0))
        hi = b.select(b.icmp_signed("<", add(ihp, _const(1)), A["KH"]), add(ihp, _const(1)),
                      A["KH"])
        with _Loop(b, hi, "kh", start=lo) as kh:
            g_row = mul(add(mul(n, A["OH"]), sub(ihp, kh)), OWp)  # gy[n, ihp - kh, 0, 0]
            with _Loop(b, KW, "kw") as kw:
                # gy column of pixel iw0 + r for tap kw: iw0 + r + pl + (KW-1) - kw
                g_col = sub(add(iw0, add(A["pl"], sub(KW, _const(1)))), kw)
                w_tap = mul(add(mul(kh, KW), kw), C)  # weight[kh, kw, 0, 0]
                with _Loop(b, OCP, "oc", VL) as oc0:
                    k.dot_step([add(mul(add(g_row, add(g_col, _const(r))), OCP), oc0)
                                for r in range(rw)],
                               [add(mul(add(w_tap, add(c0, _const(c))), OCP), oc0)
                                for c in range(CB)])
        k.store_sums(rw, CB, add(mul(add(mul(add(mul(n, A["H"]), ih), A["W"]), iw0), C), c0),
                     C)  # gx[n, ih, iw0, c0]

    with _Loop(b, A["N"], "n") as n:
        with _Loop(b, A["H"], "ih") as ih:
            with _Loop(b, C, "c", CB) as c0:
                _tiles(b, A["W"], RW, TAIL, lambda iw0, rw: tile(n, ih, iw0, c0, rw))
    return k.finish()


_IR = {"forward": _forward_ir, "grad_weight": _grad_weight_ir, "grad_input": _grad_input_ir}


@functools.lru_cache(maxsize=None)
def _target() -> tuple[Any, int]:
    """The host's target machine and its number of vector registers (32 with AVX-512)."""
    llvm.initialize_native_target()
    llvm.initialize_native_asmprinter()
    features = llvm.get_host_cpu_features()
    target = llvm.Target.from_triple(llvm.get_process_triple())
    # -prefer-256-bit: keep 512-bit vectors whole (LLVM splits them on some Intel CPUs)
    tm = target.create_target_machine(cpu=llvm.get_host_cpu_name(), opt=3,
                                      features=features.flatten() + ",-prefer-256-bit")
    return tm, 32 if features.get("avx512f") else 16


@functools.lru_cache(maxsize=None)
def available() -> bool:
    """Whether LLVM can target this host (else conv2d keeps im2col + GEMM)."""
    try:
        _target()
    except Exception:  # e.g. llvmlite without a native target for this CPU
        return False
    return True


def lanes(dtype: Any) -> int:
    """Values per SIMD vector for ``dtype`` on this CPU (16 float32 with AVX-512, else 8)."""
    wide = _target()[1] == 32
    return (64 if wide else 32) // np.dtype(dtype).itemsize


def blocking(dtype: Any, OCP: int, OW: int) -> tuple[int, int, int]:
    """(OCB, RW, TAIL): channel vectors per tile, rows per tile, rows in the last tile.

    A tile's rows are output pixels (forward; ``OW`` per output row) or window values (the
    weight gradient; ``OW`` = KW*C of them). OCB*RW accumulators must leave registers for the
    vectors and the broadcast: at most 24 of 32 (AVX-512) or 12 of 16. OCB is the largest
    divisor of OCP/VL up to 4; RW splits ``OW`` into equal tiles of at most that many.
    """
    budget = 24 if _target()[1] == 32 else 12
    vectors = OCP // lanes(dtype)
    OCB = max(d for d in range(1, 5) if vectors % d == 0)
    tiles = math.ceil(OW / (budget // OCB))
    RW = math.ceil(OW / tiles)
    return OCB, RW, OW % RW


@functools.lru_cache(maxsize=None)
def _engine() -> Any:
    """The one MCJIT engine every kernel is added to. It owns the target machine (an engine
    deletes its target machine when it is freed, so engines must not share one)."""
    return llvm.create_mcjit_compiler(llvm.parse_assembly(""), _target()[0])


_compiling = threading.Lock()


@functools.lru_cache(maxsize=None)
def _kernel(name: str, dtype: Any, OCB: int, rows: int, tail: int) -> Any:
    """Compile one kernel (once per process and blocking, ~0.1-0.2 s) into the engine and
    return it as a ctypes function."""
    dtype = np.dtype(dtype)
    symbol = f"chainrule_{name}_{dtype.name}_{OCB}_{rows}_{tail}"
    with _compiling:
        engine = _engine()
        address = engine.get_function_address(symbol)  # 0 unless compiled before
        if not address:
            fty = ir.FloatType() if dtype == np.float32 else ir.DoubleType()
            module = llvm.parse_assembly(
                str(_IR[name](symbol, fty, lanes(dtype), OCB, rows, tail)))
            module.verify()
            builder = llvm.create_pass_builder(_target()[0],
                                               llvm.PipelineTuningOptions(speed_level=3))
            builder.getModulePassManager().run(module, builder)
            engine.add_module(module)  # the engine owns the module and its machine code
            engine.finalize_object()
            address = engine.get_function_address(symbol)
    n_args = len(_GI_ARGS if name == "grad_input" else _ARGS)
    return ctypes.CFUNCTYPE(None, *[ctypes.c_void_p] * 4, *[ctypes.c_int64] * n_args)(address)


def _padded_channels(OC: int, dtype: Any) -> int:
    vl = lanes(dtype)
    return -(-OC // vl) * vl


def _weight_vectors(weight: Any, OCP: int) -> Any:
    """The weight as the kernels read it: output channels last, padded with zeros to OCP."""
    OC, C, KH, KW = weight.shape
    # weight (OC, C, KH, KW) -> (KH, KW, C, OC) into (KH, KW, C, OCP) = (KH, KW*C, OCP)
    wk = np.zeros((KH, KW, C, OCP), weight.dtype)
    wk[..., :OC] = weight.transpose(2, 3, 1, 0)
    return wk


# Multiply-adds from which a call is split over threads by images: 2^26 take ~1.5 ms on one
# AVX-512 core; below that, waking a thread (~0.1 ms, more on a busy machine) costs what it
# saves (LeNet's conv2 at batch 64: 2^24).
_SPLIT_MACS = 1 << 26


def _after_fork_in_child() -> None:
    """A forked child has none of the parent's threads: a new compile lock there."""
    global _compiling
    _compiling = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _at(a: Any, n0: int) -> int:
    """The address of image n0 of a C-contiguous batch."""
    return a.ctypes.data + n0 * a.strides[0]


def _call(name: str, padded: Any, vectors: Any, bias: Any, out: Any, KH: int, KW: int,
          OH: int, OW: int, stride: tuple[int, int], dilation_h: int) -> None:
    """Run the forward or weight-gradient kernel, split over images when it is large: the
    forward's images are independent; the weight gradient's parts sum into gw here."""
    N, Hp, Wp, C = padded.shape
    OCP = out.shape[-1]
    rows = OW if name == "forward" else KW * C
    fn = _kernel(name, padded.dtype, *blocking(padded.dtype, OCP, rows))
    partial = {0: out}  # the weight gradient of each part's images

    def work(n0: int, n1: int, part: int) -> None:
        if name == "forward":  # y[n0:n1] from x[n0:n1]
            vec, dst = vectors.ctypes.data, _at(out, n0)
        else:  # gy[n0:n1] into a zeroed gw of this part's own
            gw = partial.setdefault(part, np.zeros_like(out))
            vec, dst = _at(vectors, n0), gw.ctypes.data
        fn(_at(padded, n0), vec, None if bias is None else bias.ctypes.data, dst,
           n1 - n0, Hp, Wp, C, OH, OW, KH, KW * C, stride[0], stride[1], dilation_h, OCP)

    over_parts(N, N * OH * OW * OCP * KH * KW * C >= _SPLIT_MACS, work)
    for part in range(1, len(partial)):
        out += partial[part]


def conv2d(padded: Any, weight: Any, bias: Any, stride: tuple[int, int], dilation_h: int,
           OH: int, OW: int) -> Any:
    """conv2d of a zero-padded channels-last input by the compiled kernel.

    Args:
        padded: (N, Hp, Wp, C), C-contiguous, float32 or float64, padded so that every
            window of the (OH, OW) output lies inside it.
        weight: (OC, C, KH, KW), same dtype; bias: (OC,) or None.
        stride: (sh, sw); dilation_h: the row dilation (the column dilation must be 1).

    Returns:
        The output (N, OC, OH, OW), C-contiguous.
    """
    N, _, _, C = padded.shape
    OC, _, KH, KW = weight.shape
    dtype = padded.dtype
    OCP = _padded_channels(OC, dtype)
    wk = _weight_vectors(weight, OCP)
    bk = np.zeros(OCP, dtype)
    if bias is not None:
        bk[:OC] = bias
    y = scratch("direct", (N, OH, OW, OCP), dtype)
    _call("forward", padded, wk, bk, y, KH, KW, OH, OW, stride, dilation_h)
    # (N, OH, OW, OCP) -> (N, OC, OH, OW), a copy (y is scratch)
    return y[..., :OC].transpose(0, 3, 1, 2).copy()


def conv2d_grad_weight(padded: Any, gy: Any, w_shape: tuple[int, ...],
                       stride: tuple[int, int], dilation_h: int) -> Any:
    """The weight gradient of :func:`conv2d`: sum over (n, oh, ow) of gy times the windows.

    Args:
        padded: x as :func:`conv2d` read it, (N, Hp, Wp, C), C-contiguous.
        gy: (N, OC, OH, OW), same dtype; w_shape: (OC, C, KH, KW).

    Returns:
        The weight gradient (OC, C, KH, KW), C-contiguous.
    """
    N, OC, OH, OW = gy.shape
    _, C, KH, KW = w_shape
    dtype = padded.dtype
    OCP = _padded_channels(OC, dtype)
    gk = scratch("direct_gy", (N, OH, OW, OCP), dtype)
    if OCP > OC:
        gk[..., OC:] = 0
    gk[..., :OC] = gy.transpose(0, 2, 3, 1)  # (N, OC, OH, OW) -> (N, OH, OW, OC)
    gw = np.zeros((KH, KW * C, OCP), dtype)
    _call("grad_weight", padded, gk, None, gw, KH, KW, OH, OW, stride, dilation_h)
    # (KH, KW*C, OCP) -> (KH, KW, C, OC) -> (OC, C, KH, KW)
    return np.ascontiguousarray(gw[..., :OC].reshape(KH, KW, C, OC).transpose(3, 2, 0, 1))


def input_blocking(C: int, W: int) -> tuple[int, int, int]:
    """(CB, RW, TAIL) for :func:`conv2d_grad_input`: CB input channels (a divisor of C, at
    most 8) times RW pixels of accumulators, within the register budget of :func:`blocking`."""
    budget = 24 if _target()[1] == 32 else 12
    CB = max(d for d in range(1, min(C, 8) + 1) if C % d == 0)
    RW = math.ceil(W / math.ceil(W / max(1, budget // CB)))
    return CB, RW, W % RW


def conv2d_grad_input(gy: Any, weight: Any, x_shape: tuple[int, ...],
                      pads: tuple[int, int, int, int]) -> Any:
    """The input gradient of a stride-1, dilation-1 :func:`conv2d` (one group).

    Args:
        gy: (N, OC, OH, OW); weight: (OC, C, KH, KW), same dtype; x_shape: (N, C, H, W);
        pads: (top, bottom, left, right) of the forward.

    Returns:
        The input gradient (N, C, H, W), C-contiguous.
    """
    N, OC, OH, OW = gy.shape
    _, C, KH, KW = weight.shape
    H, W = x_shape[2:]
    dtype = gy.dtype
    OCP = _padded_channels(OC, dtype)
    OWp = OW + 2 * (KW - 1)
    # gy (N, OC, OH, OW) -> (N, OH, OW, OC) into (N, OH, OWp, OCP), zero around
    gk = scratch("direct_gy", (N, OH, OWp, OCP), dtype)
    gk[:, :, :KW - 1] = 0
    gk[:, :, KW - 1 + OW:] = 0
    if OCP > OC:
        gk[..., OC:] = 0
    gk[:, :, KW - 1:KW - 1 + OW, :OC] = gy.transpose(0, 2, 3, 1)
    wk = _weight_vectors(weight, OCP)
    gx = scratch("direct", (N, H, W, C), dtype)
    CB, RW, TAIL = input_blocking(C, W)
    fn = _kernel("grad_input", dtype, CB, RW, TAIL)

    def work(n0: int, n1: int, part: int) -> None:  # gx[n0:n1] from gy[n0:n1]
        fn(_at(gk, n0), wk.ctypes.data, None, _at(gx, n0),
           n1 - n0, H, W, C, OH, OWp, KH, KW, pads[0], pads[2], OCP)

    over_parts(N, N * H * W * C * KH * KW * OCP >= _SPLIT_MACS, work)
    return gx.transpose(0, 3, 1, 2).copy()  # (N, H, W, C) -> (N, C, H, W)
