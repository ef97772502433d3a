// kernels/upsample_cpu.cpp: CPU twin of bilinear (align_corners=False) and nearest up-sampling
// (see upsample.h for the math). Parallel over the N*C planes; the taps come from the shared
// upsample:: helpers, the same code the CUDA kernels run.
#include "kernels/upsample.h"

namespace fer {

void check_upsample2d(const char* op, const Upsample2dDims& d) {
  FER_CHECK(d.n >= 1 && d.c >= 1 && d.h >= 1 && d.w >= 1,
            op << ": input shape [N,C,H,W] = [" << d.n << "," << d.c << "," << d.h << "," << d.w
               << "] must be positive; hint: up-sampling takes a 4-D NCHW tensor");
  FER_CHECK(d.out_h >= 1 && d.out_w >= 1, op << ": output size " << d.out_h << "x" << d.out_w << " for input "
                                             << d.h << "x" << d.w << " must be positive");
}

namespace cpu {

template <typename T>
void upsample_bilinear2d_forward(const Upsample2dDims& d, const T* x, T* y) {
  check_upsample2d("upsample_bilinear2d_forward", d);
  const int64_t H = d.h, W = d.w, OH = d.out_h, OW = d.out_w;
  const T scale_h = T(H) / T(OH), scale_w = T(W) / T(OW);  // input pixels per output pixel
#pragma omp parallel for schedule(static)
  for (int64_t nc = 0; nc < d.n * d.c; ++nc) {
    const T* plane = x + nc * H * W;
    for (int64_t oh = 0; oh < OH; ++oh) {
      int64_t h0, h1;  // the two source rows and their weights (lh0 + lh1 = 1)
      T lh0, lh1;
      upsample::bilinear_taps(oh, H, scale_h, &h0, &h1, &lh0, &lh1);
      for (int64_t ow = 0; ow < OW; ++ow) {
        int64_t w0, w1;
        T lw0, lw1;
        upsample::bilinear_taps(ow, W, scale_w, &w0, &w1, &lw0, &lw1);
        // interpolate along w in both source rows, then along h
        y[(nc * OH + oh) * OW + ow] = lh0 * (lw0 * plane[h0 * W + w0] + lw1 * plane[h0 * W + w1]) +
                                      lh1 * (lw0 * plane[h1 * W + w0] + lw1 * plane[h1 * W + w1]);
      }
    }
  }
}

// Gather: dx[ih,iw] = sum_oh a_h(oh,ih) * sum_ow a_w(ow,iw) * dy[oh,ow], over the small ranges of
// output rows/columns that can touch (ih, iw).
template <typename T>
void upsample_bilinear2d_backward(const Upsample2dDims& d, const T* dy, T* dx) {
  check_upsample2d("upsample_bilinear2d_backward", d);
  const int64_t H = d.h, W = d.w, OH = d.out_h, OW = d.out_w;
  const T scale_h = T(H) / T(OH), scale_w = T(W) / T(OW);
#pragma omp parallel for schedule(static)
  for (int64_t nc = 0; nc < d.n * d.c; ++nc) {
    const T* dy_plane = dy + nc * OH * OW;
    for (int64_t ih = 0; ih < H; ++ih) {
      int64_t oh0, oh1;  // a superset of the output rows whose taps touch row ih
      upsample::bilinear_dst_range(ih, H, OH, &oh0, &oh1);
      for (int64_t iw = 0; iw < W; ++iw) {
        int64_t ow0, ow1;
        upsample::bilinear_dst_range(iw, W, OW, &ow0, &ow1);
        T sum = T(0);
        for (int64_t oh = oh0; oh < oh1; ++oh) {
          const T ah = upsample::bilinear_weight(oh, ih, H, scale_h);
          if (ah == T(0)) continue;  // row oh does not touch ih (or with weight exactly 0)
          T row = T(0);  // sum_ow a_w(ow, iw) * dy[oh, ow]
          for (int64_t ow = ow0; ow < ow1; ++ow)
            row += upsample::bilinear_weight(ow, iw, W, scale_w) * dy_plane[oh * OW + ow];
          sum += ah * row;
        }
        dx[nc * H * W + ih * W + iw] = sum;
      }
    }
  }
}

template <typename T>
void upsample_nearest2d_forward(const Upsample2dDims& d, const T* x, T* y) {
  check_upsample2d("upsample_nearest2d_forward", d);
  const int64_t H = d.h, W = d.w, OH = d.out_h, OW = d.out_w;
#pragma omp parallel for schedule(static)
  for (int64_t nc = 0; nc < d.n * d.c; ++nc) {
    const T* plane = x + nc * H * W;
    for (int64_t oh = 0; oh < OH; ++oh) {
      const int64_t ih = upsample::nearest_src(oh, H, OH);  // floor(oh * H / OH)
      for (int64_t ow = 0; ow < OW; ++ow)
        y[(nc * OH + oh) * OW + ow] = plane[ih * W + upsample::nearest_src(ow, W, OW)];
    }
  }
}

// Gather: input (ih, iw) was copied to the block [oh0,oh1) x [ow0,ow1); its gradient is that block's sum.
template <typename T>
void upsample_nearest2d_backward(const Upsample2dDims& d, const T* dy, T* dx) {
  check_upsample2d("upsample_nearest2d_backward", d);
  const int64_t H = d.h, W = d.w, OH = d.out_h, OW = d.out_w;
#pragma omp parallel for schedule(static)
  for (int64_t nc = 0; nc < d.n * d.c; ++nc) {
    const T* dy_plane = dy + nc * OH * OW;
    for (int64_t ih = 0; ih < H; ++ih) {
      int64_t oh0, oh1;
      upsample::nearest_dst_range(ih, H, OH, &oh0, &oh1);
      for (int64_t iw = 0; iw < W; ++iw) {
        int64_t ow0, ow1;
        upsample::nearest_dst_range(iw, W, OW, &ow0, &ow1);
        T sum = T(0);
        for (int64_t oh = oh0; oh < oh1; ++oh)
          for (int64_t ow = ow0; ow < ow1; ++ow) sum += dy_plane[oh * OW + ow];
        dx[nc * H * W + ih * W + iw] = sum;
      }
    }
  }
}

#define FER_UPSAMPLE_INSTANTIATE(T)                                                          \
  template void upsample_bilinear2d_forward<T>(const Upsample2dDims&, const T*, T*);         \
  template void upsample_bilinear2d_backward<T>(const Upsample2dDims&, const T*, T*);        \
  template void upsample_nearest2d_forward<T>(const Upsample2dDims&, const T*, T*);          \
  template void upsample_nearest2d_backward<T>(const Upsample2dDims&, const T*, T*);
FER_UPSAMPLE_INSTANTIATE(float)
FER_UPSAMPLE_INSTANTIATE(double)
#undef FER_UPSAMPLE_INSTANTIATE

}  // namespace cpu
}  // namespace fer
