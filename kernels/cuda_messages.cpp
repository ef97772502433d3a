// kernels/cuda_messages.cpp: see cuda_messages.h (plain C++, no CUDA headers).
#include "kernels/cuda_messages.h"

#include <cstdio>
#include <sstream>

namespace fer::cuda {

std::string format_bytes(uint64_t bytes) {
  if (bytes < 1024) return std::to_string(bytes) + " B";
  const char* units[] = {"KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes) / 1024.0;
  int u = 0;
  while (v >= 1024.0 && u < 3) {
    v /= 1024.0;
    u++;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f %s", v, units[u]);
  return buf;
}

int64_t smaller_batch_size(int64_t batch_size) {
  if (batch_size <= 1) return 0;
  int64_t p = 1;
  while (p * 2 < batch_size) p *= 2;
  return p;
}

std::string cuda_oom_message(uint64_t requested_bytes, uint64_t free_bytes, uint64_t total_bytes, int64_t held_bytes,
                             int64_t batch_size) {
  std::ostringstream os;
  os << "CUDA out of memory: requested " << format_bytes(requested_bytes) << " (" << requested_bytes << " bytes), "
     << format_bytes(free_bytes) << " of " << format_bytes(total_bytes) << " free";
  if (held_bytes >= 0) os << ", fer's tensors hold " << format_bytes(static_cast<uint64_t>(held_bytes));
  const int64_t smaller = smaller_batch_size(batch_size);
  if (batch_size == 1) os << "; hint: the batch is already 1: use a smaller --width or model";
  else if (smaller > 0) os << "; hint: reduce --batch-size (try --batch-size " << smaller << " instead of " << batch_size << "), or use a smaller --width";
  else os << "; hint: reduce --batch-size (halve it: activation memory grows with the batch), or use a smaller --width";
  if (held_bytes >= 0 && total_bytes > 0 && static_cast<uint64_t>(held_bytes) + free_bytes + requested_bytes <= total_bytes / 2)
    os << "; most of the GPU's memory is used by other processes (see nvidia-smi)";
  return os.str();
}

std::string cuda_failure_hint(CudaFailure kind, int device_sm, const std::string& built_archs) {
  std::ostringstream os;
  switch (kind) {
    case CudaFailure::no_device:
      os << "no CUDA device is visible; check that nvidia-smi lists a GPU and that CUDA_VISIBLE_DEVICES is not "
            "empty, or run with --device cpu";
      break;
    case CudaFailure::insufficient_driver:
      os << "the NVIDIA driver is missing or older than this build's CUDA runtime needs; install or update the "
            "driver (nvidia-smi shows its version and the newest CUDA it supports), or run with --device cpu";
      break;
    case CudaFailure::no_kernel_image:
      os << "this build has no kernels for this GPU";
      if (device_sm > 0) os << " (sm_" << device_sm << ")";
      if (!built_archs.empty()) os << "; it was compiled for " << built_archs;
      os << "; rebuild with -DCMAKE_CUDA_ARCHITECTURES=" << (device_sm > 0 ? std::to_string(device_sm) : "native")
         << " (or native)";
      break;
    case CudaFailure::out_of_memory:
      os << "out of GPU memory; reduce --batch-size (halve it) or --width";
      break;
    case CudaFailure::other:
      os << "run with FER_DEBUG_SYNC=1 to report asynchronous errors at the kernel that caused them";
      break;
  }
  return os.str();
}

}  // namespace fer::cuda
