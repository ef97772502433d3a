// kernels/pool_cpu.cpp: CPU twin of max/avg/global-average pooling (see pool.h for the math).
//
// Every loop nest is parallel over the N*C planes (each plane is independent) and walks the plane
// row-major inside. The per-window arithmetic is the shared pool:: helpers of pool.h, the very code
// the CUDA kernels run, so both backends pick the same argmax and sum in the same order.
#include <algorithm>
#include <climits>

#include "kernels/pool.h"

namespace fer {

void check_pool2d(const char* op, const Pool2dDims& d) {
  FER_CHECK(d.n >= 1 && d.c >= 1 && d.h >= 1 && d.w >= 1,
            op << ": input shape [N,C,H,W] = [" << d.n << "," << d.c << "," << d.h << "," << d.w
               << "] must be positive; hint: pooling takes a 4-D NCHW tensor");
  FER_CHECK(d.kernel_h >= 1 && d.kernel_w >= 1 && d.stride_h >= 1 && d.stride_w >= 1,
            op << ": kernel " << d.kernel_h << "x" << d.kernel_w << " and stride " << d.stride_h << "x"
               << d.stride_w << " must be >= 1");
  FER_CHECK(d.pad_h >= 0 && d.pad_w >= 0 && d.pad_h <= d.kernel_h / 2 && d.pad_w <= d.kernel_w / 2,
            op << ": padding " << d.pad_h << "x" << d.pad_w << " must be in [0, kernel/2] for kernel "
               << d.kernel_h << "x" << d.kernel_w << "; hint: PyTorch rejects pad > kernel/2 too");
  const int64_t oh = d.out_h(), ow = d.out_w();
  FER_CHECK(oh >= 1 && ow >= 1, op << ": output size " << oh << "x" << ow << " is too small for input "
                                   << d.h << "x" << d.w << ", kernel " << d.kernel_h << "x" << d.kernel_w
                                   << ", stride " << d.stride_h << "x" << d.stride_w << ", pad " << d.pad_h
                                   << "x" << d.pad_w << "; hint: the input is smaller than the kernel");
  FER_CHECK(d.h * d.w <= INT32_MAX, op << ": plane " << d.h << "x" << d.w
                                       << " has more elements than an int32 argmax index can address");
}

namespace cpu {

template <typename T>
void maxpool2d_forward(const Pool2dDims& d, const T* x, T* y, int32_t* argmax) {
  check_pool2d("maxpool2d_forward", d);
  const int64_t H = d.h, W = d.w, OH = d.out_h(), OW = d.out_w();
#pragma omp parallel for schedule(static)
  for (int64_t nc = 0; nc < d.n * d.c; ++nc) {  // planes are independent
    const T* plane = x + nc * H * W;
    for (int64_t oh = 0; oh < OH; ++oh) {
      int64_t h0, h1;  // window rows, clipped to [0, H): padding rows are skipped (= -inf)
      pool::window(oh, d.kernel_h, d.stride_h, d.pad_h, H, &h0, &h1);
      for (int64_t ow = 0; ow < OW; ++ow) {
        int64_t w0, w1;
        pool::window(ow, d.kernel_w, d.stride_w, d.pad_w, W, &w0, &w1);
        const int64_t o = (nc * OH + oh) * OW + ow;  // flat output index
        // y[o] = max of the window, argmax[o] = its plane index (first maximum; NaN wins)
        pool::max_window(plane, W, h0, h1, w0, w1, &y[o], &argmax[o]);
      }
    }
  }
}

// Gather: input element (ih, iw) receives dy of every window that contains it AND chose it.
// Only windows [oh0,oh1) x [ow0,ow1) can contain it (at most ceil(k/s)^2 of them).
template <typename T>
void maxpool2d_backward(const Pool2dDims& d, const T* dy, const int32_t* argmax, T* dx) {
  check_pool2d("maxpool2d_backward", d);
  const int64_t H = d.h, W = d.w, OH = d.out_h(), OW = d.out_w();
  if (d.stride_h >= d.kernel_h && d.stride_w >= d.kernel_w) {
    // Windows that do not overlap (the usual 2x2 stride 2): each input element lies in at most one
    // window, so the gather below reduces to "0, plus dy where the window chose me". Written as a
    // scatter of T(0) + dy, the very value the gather's sum gives (even for dy = -0).
#pragma omp parallel for schedule(static)
    for (int64_t nc = 0; nc < d.n * d.c; ++nc) {
      T* dx_plane = dx + nc * H * W;
      std::fill(dx_plane, dx_plane + H * W, T(0));
      const T* dy_plane = dy + nc * OH * OW;
      const int32_t* arg_plane = argmax + nc * OH * OW;
      for (int64_t o = 0; o < OH * OW; ++o) dx_plane[arg_plane[o]] = T(0) + dy_plane[o];
    }
    return;
  }
#pragma omp parallel for schedule(static)
  for (int64_t nc = 0; nc < d.n * d.c; ++nc) {
    const T* dy_plane = dy + nc * OH * OW;
    const int32_t* arg_plane = argmax + nc * OH * OW;
    for (int64_t ih = 0; ih < H; ++ih) {
      int64_t oh0, oh1;
      pool::windows_containing(ih, d.kernel_h, d.stride_h, d.pad_h, OH, &oh0, &oh1);
      for (int64_t iw = 0; iw < W; ++iw) {
        int64_t ow0, ow1;
        pool::windows_containing(iw, d.kernel_w, d.stride_w, d.pad_w, OW, &ow0, &ow1);
        const int32_t me = static_cast<int32_t>(ih * W + iw);  // my index in the plane, as argmax stores it
        T sum = T(0);  // an element no window chose gets exactly 0
        for (int64_t oh = oh0; oh < oh1; ++oh)
          for (int64_t ow = ow0; ow < ow1; ++ow)  // row-major window order: the CUDA kernel's order too
            if (arg_plane[oh * OW + ow] == me) sum += dy_plane[oh * OW + ow];
        dx[nc * H * W + ih * W + iw] = sum;
      }
    }
  }
}

template <typename T>
void avgpool2d_forward(const Pool2dDims& d, bool count_include_pad, const T* x, T* y) {
  check_pool2d("avgpool2d_forward", d);
  const int64_t H = d.h, W = d.w, OH = d.out_h(), OW = d.out_w();
#pragma omp parallel for schedule(static)
  for (int64_t nc = 0; nc < d.n * d.c; ++nc) {
    const T* plane = x + nc * H * W;
    for (int64_t oh = 0; oh < OH; ++oh) {
      int64_t h0, h1;
      pool::window(oh, d.kernel_h, d.stride_h, d.pad_h, H, &h0, &h1);
      for (int64_t ow = 0; ow < OW; ++ow) {
        int64_t w0, w1;
        pool::window(ow, d.kernel_w, d.stride_w, d.pad_w, W, &w0, &w1);
        T sum = T(0);  // padded positions contribute 0
        for (int64_t ih = h0; ih < h1; ++ih)
          for (int64_t iw = w0; iw < w1; ++iw) sum += plane[ih * W + iw];
        // D counts the padding cells (count_include_pad) or only the real ones
        y[(nc * OH + oh) * OW + ow] = sum / T(pool::avg_divisor(d, oh, ow, count_include_pad));
      }
    }
  }
}

// Gather: dx[ih,iw] = sum over the windows containing (ih,iw) of dy[oh,ow] / D[oh,ow].
template <typename T>
void avgpool2d_backward(const Pool2dDims& d, bool count_include_pad, const T* dy, T* dx) {
  check_pool2d("avgpool2d_backward", d);
  const int64_t H = d.h, W = d.w, OH = d.out_h(), OW = d.out_w();
#pragma omp parallel for schedule(static)
  for (int64_t nc = 0; nc < d.n * d.c; ++nc) {
    const T* dy_plane = dy + nc * OH * OW;
    for (int64_t ih = 0; ih < H; ++ih) {
      int64_t oh0, oh1;
      pool::windows_containing(ih, d.kernel_h, d.stride_h, d.pad_h, OH, &oh0, &oh1);
      for (int64_t iw = 0; iw < W; ++iw) {
        int64_t ow0, ow1;
        pool::windows_containing(iw, d.kernel_w, d.stride_w, d.pad_w, OW, &ow0, &ow1);
        T sum = T(0);
        for (int64_t oh = oh0; oh < oh1; ++oh)
          for (int64_t ow = ow0; ow < ow1; ++ow)  // every window containing (ih,iw) read it with weight 1/D
            sum += dy_plane[oh * OW + ow] / T(pool::avg_divisor(d, oh, ow, count_include_pad));
        dx[nc * H * W + ih * W + iw] = sum;
      }
    }
  }
}

static void check_global(const char* op, int64_t n, int64_t c, int64_t hw) {
  FER_CHECK(n >= 1 && c >= 1 && hw >= 1, op << ": shape [N,C,HW] = [" << n << "," << c << "," << hw
                                             << "] must be positive; hint: pass H*W as hw");
}

template <typename T>
void global_avgpool_forward(int64_t n, int64_t c, int64_t hw, const T* x, T* y) {
  check_global("global_avgpool_forward", n, c, hw);
#pragma omp parallel for schedule(static)
  for (int64_t nc = 0; nc < n * c; ++nc) {
    const T* row = x + nc * hw;
    T sum = T(0);
    for (int64_t i = 0; i < hw; ++i) sum += row[i];  // sequential; the GPU uses a warp tree
    y[nc] = sum / T(hw);
  }
}

template <typename T>
void global_avgpool_backward(int64_t n, int64_t c, int64_t hw, const T* dy, T* dx) {
  check_global("global_avgpool_backward", n, c, hw);
#pragma omp parallel for schedule(static)
  for (int64_t nc = 0; nc < n * c; ++nc) {
    const T g = dy[nc] / T(hw);  // every element of the plane had weight 1/HW in the mean
    for (int64_t i = 0; i < hw; ++i) dx[nc * hw + i] = g;
  }
}

#define FER_POOL_INSTANTIATE(T)                                                                      \
  template void maxpool2d_forward<T>(const Pool2dDims&, const T*, T*, int32_t*);                     \
  template void maxpool2d_backward<T>(const Pool2dDims&, const T*, const int32_t*, T*);              \
  template void avgpool2d_forward<T>(const Pool2dDims&, bool, const T*, T*);                         \
  template void avgpool2d_backward<T>(const Pool2dDims&, bool, const T*, T*);                        \
  template void global_avgpool_forward<T>(int64_t, int64_t, int64_t, const T*, T*);                  \
  template void global_avgpool_backward<T>(int64_t, int64_t, int64_t, const T*, T*);
FER_POOL_INSTANTIATE(float)
FER_POOL_INSTANTIATE(double)
#undef FER_POOL_INSTANTIATE

}  // namespace cpu
}  // namespace fer
