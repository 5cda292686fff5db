// The sliding-window geometry convolution and pooling share: from the per-axis parameters of
// an N-D layer (nn::conv_params, nn::pool_params) to the 2-D kernels' fields.
#pragma once

namespace tessera::nn::detail {

// Kernel, stride, dilation and padding of the last two spatial axes; a 1-D layer (spatial 1)
// is a 2-D one of height 1.
template <class LayerParams, class KernelParams>
void window_2d(const LayerParams& p, KernelParams& q) {
  const int h = p.spatial - 2, w = p.spatial - 1;  // h < 0: 1-D
  q.kernel_h = h >= 0 ? p.kernel[h] : 1;
  q.kernel_w = p.kernel[w];
  q.stride_h = h >= 0 ? p.stride[h] : 1;
  q.stride_w = p.stride[w];
  q.dilation_h = h >= 0 ? p.dilation[h] : 1;
  q.dilation_w = p.dilation[w];
  q.pad_top = h >= 0 ? p.pad_begin[h] : 0;
  q.pad_bottom = h >= 0 ? p.pad_end[h] : 0;
  q.pad_left = p.pad_begin[w];
  q.pad_right = p.pad_end[w];
}

}  // namespace tessera::nn::detail
