// nn/step_graph.cpp: see step_graph.h.
#include "nn/step_graph.h"

#include <exception>
#include <string>

#include "fer/config.h"
#include "kernels/device.h"

namespace fer::nn {

StepGraph::StepGraph(Optimizer& optimizer, Generator& generator, Body body)
    : optimizer_(optimizer), generator_(generator), body_(std::move(body)) {
  FER_CHECK(kCudaBuilt, "StepGraph: CUDA graphs need the CUDA backend; hint: rebuild with nvcc or --cuda-graph off");
}

StepGraph::~StepGraph() {
  try {
    release();
  } catch (const std::exception&) {  // a device fault already reported elsewhere: nothing to add here
  }
}

void StepGraph::release() {
  if constexpr (kCudaBuilt) {
    if (exec_) {
      cuda::stream_synchronize(cuda::default_stream());  // no replay may still read the pool
      cuda::graph_destroy(exec_);
    }
  }
  exec_ = nullptr;
  outputs_ = Outputs{};
  images_ = Tensor();
  labels_ = Tensor();
  pool_.reset();
}

int64_t StepGraph::graph_nodes() const {
  if constexpr (kCudaBuilt) return exec_ ? cuda::graph_node_count(exec_) : 0;
  return 0;
}

StepGraph::Outputs StepGraph::copy(const Outputs& o) {
  return {o.loss.defined() ? o.loss.clone() : Tensor(), o.norm.defined() ? o.norm.clone() : Tensor(),
          o.correct.defined() ? o.correct.clone() : Tensor()};
}

StepGraph::Outputs StepGraph::run_uncaptured(const Tensor& images, const Tensor& labels) {
  ++uncaptured_;
  return body_(images, labels);
}

void StepGraph::capture(const Tensor& images, const Tensor& labels) {
  if constexpr (kCudaBuilt) {
    release();
    const cuda_stream stream = cuda::default_stream();
    // the graph's inputs and the generator bases: allocated outside the pool, before the capture
    images_ = images.clone();
    labels_ = labels.clone();
    if (!bases_.defined()) bases_ = Tensor::zeros({static_cast<int64_t>(kRngStreams)}, DType::i64, Device::cuda);
    const auto start = generator_.state();
    host_bases_ = start;
    cuda::memcpy_h2d(bases_.data<int64_t>(), host_bases_.data(), sizeof(host_bases_), stream);
    pool_ = std::make_unique<MemoryPool>(Device::cuda);
    generator_.begin_capture(reinterpret_cast<const uint64_t*>(bases_.data<int64_t>()));
    try {
      PoolScope scope(*pool_);
      cuda::begin_capture(stream);
      outputs_ = body_(images_, labels_);
      exec_ = cuda::end_capture(stream);
    } catch (const Error& e) {
      cuda::abort_capture(stream);
      generator_.end_capture();
      generator_.set_state(generator_.seed(), start);
      release();
      const std::string what = e.what();
      if (what.find("--cuda-graph off") != std::string::npos) throw;  // end_capture's own message
      FER_FAIL("CUDA graph capture of the training step failed: "
               << what << "; hint: something in the step waits for the host or copies to it (an item(), a "
               << "host read); --cuda-graph off runs the step uncaptured");
    } catch (...) {
      cuda::abort_capture(stream);
      generator_.end_capture();
      generator_.set_state(generator_.seed(), start);
      release();
      throw;
    }
    generator_.end_capture();
    const auto end = generator_.state();
    for (size_t s = 0; s < kRngStreams; ++s) consumed_[s] = end[s] - start[s];
    ++captures_;
  }
}

StepGraph::Key StepGraph::key_of(const Tensor& images, const Tensor& labels) const {
  return Key{images.shape(), labels.shape(), images.dtype(), labels.dtype(), optimizer_.runs()};
}

StepGraph::Outputs StepGraph::run(const Tensor& images, const Tensor& labels) {
  FER_CHECK(images.device() == Device::cuda && labels.device() == Device::cuda,
            "StepGraph::run: the batch must be on CUDA, got " << describe(images) << " and " << describe(labels));
  optimizer_.prepare_step();  // host side: the step counts and scalars (written to the device)
  // frozen parameters between trainable ones: the gradient norm adds the runs' norms on the host,
  // which synchronises, so such steps run uncaptured
  if (optimizer_.params().trainable_runs().size() > 1) return run_uncaptured(images, labels);
  const Key key = key_of(images, labels);
  if constexpr (kCudaBuilt) {
    const bool replay = exec_ != nullptr && key == captured_;
    // A configuration (batch shape, trainable runs) is captured only after it ran once uncaptured:
    // first-use work (cuBLAS and cuDNN plans, lazily loaded kernels) must not happen inside a capture.
    if (replay || key == warmed_) {
      const cuda_stream stream = cuda::default_stream();
      if (replay) {
        images_.copy_from(images);
        labels_.copy_from(labels);
        host_bases_ = generator_.state();
        cuda::memcpy_h2d(bases_.data<int64_t>(), host_bases_.data(), sizeof(host_bases_), stream);
        auto next = host_bases_;
        for (size_t s = 0; s < kRngStreams; ++s) next[s] += consumed_[s];
        generator_.set_state(generator_.seed(), next);
        ++replays_;
        // a replay forgets the last uncaptured configuration: an epoch's short last batch must run
        // uncaptured again next epoch, not be captured over the full-batch graph (which it would
        // replace, costing a capture and a synchronisation every epoch)
        warmed_.reset();
      } else {
        capture(images, labels);  // records the step (runs nothing); the launch below runs it
        captured_ = key;
      }
      cuda::graph_launch(exec_, stream);
      return copy(outputs_);
    }
  }
  warmed_ = key;  // a new configuration (or the very first step): run it uncaptured once
  return run_uncaptured(images, labels);
}

}  // namespace fer::nn
