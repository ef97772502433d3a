#!/usr/bin/python3
"""tools/onnx_check.py: check an ONNX file from ferexport against fer's own output.

    /usr/bin/python3 tools/onnx_check.py MODEL.onnx SAMPLE_DIR [--atol A] [--rtol R]

1. onnx.load + onnx.checker.check_model(full_check=True): the official checker of the ONNX
   project (Debian's python3-onnx) reads the bytes fer wrote and checks the graph, the types and
   the shapes (strict shape inference);
2. the graph is run on SAMPLE_DIR/input.npy by the small NumPy interpreter below (one function per
   op type ferexport writes, written from the ONNX operator specification, float64), and the
   output is compared with SAMPLE_DIR/output.npy, fer's own output for the same input:
   pass when |onnx - fer| <= atol * max|fer| + rtol * |fer| everywhere (1e-5 and 1e-5: float32
   rounding relative to the outputs' scale), and when fer's outputs
   vary between the inputs by at least 100x that tolerance (else the sample cannot tell a right
   graph from a wrong one, and the check fails).
Prints one line per stage; exit 0 when all pass, 1 when a check fails, 2 when onnx is missing
(Debian: apt-get install python3-onnx; onnxruntime is not packaged in Debian 12).
Not a dependency of fer: only the tests and users who want the proof run it.
"""
import argparse
import sys

try:
    import numpy as np
    import onnx
    from onnx import numpy_helper
except ImportError as e:  # pragma: no cover
    print(f"onnx_check: {e}; hint: apt-get install python3-onnx (run with /usr/bin/python3)", file=sys.stderr)
    sys.exit(2)


def attrs(node):
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def pad_nchw(x, pads, value):
    t, l, b, r = pads[0], pads[1], pads[2], pads[3]
    return np.pad(x, ((0, 0), (0, 0), (t, b), (l, r)), constant_values=value)


def windows(x, kh, kw, sh, sw, oh, ow):
    """[N, C, oh, ow, kh, kw] view of x (already padded, large enough)."""
    n, c = x.shape[:2]
    s = x.strides
    return np.lib.stride_tricks.as_strided(
        x, (n, c, oh, ow, kh, kw), (s[0], s[1], s[2] * sh, s[3] * sw, s[2], s[3]), writeable=False)


def pool_out(size, k, s, p_begin, p_end, ceil_mode):
    span = size + p_begin + p_end - k
    return (-(-span // s) if ceil_mode else span // s) + 1


def conv(x, w, b, a):
    kh, kw = w.shape[2], w.shape[3]
    sh, sw = a.get("strides", [1, 1])
    pads = a.get("pads", [0, 0, 0, 0])
    assert a.get("dilations", [1, 1]) == [1, 1]
    g = a.get("group", 1)
    xp = pad_nchw(x, pads, 0.0)
    oh = (xp.shape[2] - kh) // sh + 1
    ow = (xp.shape[3] - kw) // sw + 1
    n, cin = x.shape[:2]
    cout = w.shape[0]
    cg, og = cin // g, cout // g
    y = np.empty((n, cout, oh, ow))
    for gi in range(g):
        win = windows(np.ascontiguousarray(xp[:, gi * cg:(gi + 1) * cg]), kh, kw, sh, sw, oh, ow)
        y[:, gi * og:(gi + 1) * og] = np.einsum("ncijpq,ocpq->noij", win, w[gi * og:(gi + 1) * og], optimize=True)
    if b is not None:
        y += b.reshape(1, -1, 1, 1)
    return y


def conv_transpose(x, w, b, a):
    # y[n, o, i*s - p + u, j*s - p + v] += x[n, c, i, j] w[c, o, u, v]
    s = a.get("strides", [1, 1])
    p = a.get("pads", [0, 0, 0, 0])
    assert a.get("group", 1) == 1
    n, cin, h, wd = x.shape
    kh, kw = w.shape[2], w.shape[3]
    full = np.zeros((n, w.shape[1], (h - 1) * s[0] + kh, (wd - 1) * s[1] + kw))
    for u in range(kh):
        for v in range(kw):
            full[:, :, u:u + (h - 1) * s[0] + 1:s[0], v:v + (wd - 1) * s[1] + 1:s[1]] += np.einsum(
                "ncij,co->noij", x, w[:, :, u, v])
    y = full[:, :, p[0]:full.shape[2] - p[2], p[1]:full.shape[3] - p[3]]
    if b is not None:
        y = y + b.reshape(1, -1, 1, 1)
    return y


def pool(x, a, kind):
    kh, kw = a["kernel_shape"]
    sh, sw = a.get("strides", [1, 1])
    pads = a.get("pads", [0, 0, 0, 0])
    ceil_mode = a.get("ceil_mode", 0)
    oh = pool_out(x.shape[2], kh, sh, pads[0], pads[2], ceil_mode)
    ow = pool_out(x.shape[3], kw, sw, pads[1], pads[3], ceil_mode)
    # windows of ceil mode may reach past the explicit padding: those cells never count
    over_h = max((oh - 1) * sh + kh - (x.shape[2] + pads[0] + pads[2]), 0)
    over_w = max((ow - 1) * sw + kw - (x.shape[3] + pads[1] + pads[3]), 0)
    if kind == "avg" and (over_h or over_w):
        # the spec leaves the divisor of such windows open (runtimes differ); ferexport refuses them
        raise SystemExit("onnx_check: AveragePool with a ceil-mode window past the padded input is ambiguous")
    if kind == "max":
        pad_value = -np.inf
    else:  # explicit padding counts as zeros with count_include_pad, else not at all
        pad_value = 0.0 if a.get("count_include_pad", 0) else np.nan
    xp = np.pad(x, ((0, 0), (0, 0), (pads[0], pads[2]), (pads[1], pads[3])), constant_values=pad_value)
    xp = np.pad(xp, ((0, 0), (0, 0), (0, over_h), (0, over_w)), constant_values=-np.inf if kind == "max" else np.nan)
    win = windows(np.ascontiguousarray(xp), kh, kw, sh, sw, oh, ow)
    return win.max(axis=(4, 5)) if kind == "max" else np.nanmean(win, axis=(4, 5))


def run(model, x):
    from math import erf
    env = {i.name: numpy_helper.to_array(i).astype(np.float64) if i.data_type == onnx.TensorProto.FLOAT
           else numpy_helper.to_array(i) for i in model.graph.initializer}
    env[model.graph.input[0].name] = x.astype(np.float64)
    verf = np.vectorize(erf)
    for node in model.graph.node:
        a = attrs(node)
        i = [env[n] if n else None for n in node.input]
        t = node.op_type
        if t == "Conv":
            y = conv(i[0], i[1], i[2] if len(i) > 2 else None, a)
        elif t == "ConvTranspose":
            y = conv_transpose(i[0], i[1], i[2] if len(i) > 2 else None, a)
        elif t == "BatchNormalization":
            xx, s, b, m, v = i
            sh = (1, -1) + (1,) * (xx.ndim - 2)
            y = (xx - m.reshape(sh)) / np.sqrt(v.reshape(sh) + a.get("epsilon", 1e-5)) * s.reshape(sh) + b.reshape(sh)
        elif t == "Relu":
            y = np.maximum(i[0], 0.0)
        elif t == "Sigmoid":
            y = 1.0 / (1.0 + np.exp(-i[0]))
        elif t == "Erf":
            y = verf(i[0])
        elif t in ("Add", "Sub", "Mul", "Div"):
            y = {"Add": np.add, "Sub": np.subtract, "Mul": np.multiply, "Div": np.divide}[t](i[0], i[1])
        elif t == "Identity":
            y = i[0]
        elif t == "Gemm":
            aa = i[0].T if a.get("transA", 0) else i[0]
            bb = i[1].T if a.get("transB", 0) else i[1]
            y = a.get("alpha", 1.0) * aa @ bb
            if len(i) > 2 and i[2] is not None:
                y = y + a.get("beta", 1.0) * i[2]
        elif t == "MaxPool":
            y = pool(i[0], a, "max")
        elif t == "AveragePool":
            y = pool(i[0], a, "avg")
        elif t == "GlobalAveragePool":
            y = i[0].mean(axis=(2, 3), keepdims=True)
        elif t == "Flatten":
            ax = a.get("axis", 1)
            y = i[0].reshape(int(np.prod(i[0].shape[:ax])), -1)
        elif t == "Reshape":
            shape = [i[0].shape[k] if d == 0 else int(d) for k, d in enumerate(i[1])]
            y = i[0].reshape(shape)
        elif t == "Concat":
            y = np.concatenate(i, axis=a["axis"])
        elif t == "Slice":
            sl = [slice(None)] * i[0].ndim
            for st, en, ax in zip(i[1], i[2], i[3]):
                sl[int(ax)] = slice(int(st), int(en))
            y = i[0][tuple(sl)]
        elif t in ("Softmax", "LogSoftmax"):
            ax = a.get("axis", -1)
            z = i[0] - i[0].max(axis=ax, keepdims=True)
            lse = np.log(np.exp(z).sum(axis=ax, keepdims=True))
            y = z - lse if t == "LogSoftmax" else np.exp(z - lse)
        elif t == "Transpose":
            y = np.transpose(i[0], a["perm"])
        else:
            raise SystemExit(f"onnx_check: op {t} is not in this interpreter")
        env[node.output[0]] = y
    return env[model.graph.output[0].name]


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("model")
    p.add_argument("sample_dir")
    p.add_argument("--atol", type=float, default=1e-5, help="times the largest |output|")
    p.add_argument("--rtol", type=float, default=1e-5)
    args = p.parse_args()
    model = onnx.load(args.model)
    onnx.checker.check_model(model, full_check=True)
    inferred = onnx.shape_inference.infer_shapes(model, check_type=True, strict_mode=True)
    out = inferred.graph.output[0]
    dims = [d.dim_param or d.dim_value for d in out.type.tensor_type.shape.dim]
    print(f"checker: ok (onnx {onnx.__version__}, opset {model.opset_import[0].version}, "
          f"{len(model.graph.node)} nodes); output {out.name} {dims}")
    x = np.load(f"{args.sample_dir}/input.npy")
    want = np.load(f"{args.sample_dir}/output.npy").astype(np.float64)
    got = run(model, x)
    if got.shape != want.shape:
        print(f"numpy run: output shape {got.shape}, fer's {want.shape}: FAIL")
        return 1
    err = np.abs(got - want)
    scale = max(float(np.abs(want).max()), 1e-30)  # outputs of fresh deep models can be tiny
    tol = args.atol * scale + args.rtol * np.abs(want)
    worst = float((err / tol).max())
    # a sample whose outputs hardly depend on the input cannot tell a right graph from a wrong one
    spread = float(np.abs(want - want.mean(axis=0, keepdims=True)).max())
    if spread < 100 * float(tol.max()):
        print(f"numpy run: fer's outputs vary by only {spread:.3g} between the inputs (under 100x the "
              f"tolerance): the sample does not discriminate: FAIL")
        return 1
    same_argmax = bool((got.argmax(axis=1) == want.argmax(axis=1)).all()) if got.ndim == 2 else True
    ok = worst <= 1.0 and np.isfinite(got).all()
    print(f"numpy run: {x.shape[0]} inputs, max |onnx - fer| = {err.max():.3g} "
          f"({worst:.3f} of the tolerance), same argmax: {same_argmax}: {'ok' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
