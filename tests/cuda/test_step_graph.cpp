// CUDA graphs (kernels/device.h, nn/step_graph.h) and the private memory pool on CUDA:
//   - a captured computation replays on new inputs and gives what an uncaptured one gives;
//   - the pool keeps the graph's blocks away from other tensors on CUDA as on the CPU;
//   - StepGraph: CNN6 (dropout 0.2 / 0.5, batch norm) with Adam, gradient clipping and a learning
//     rate change trains bit for bit like the uncaptured step, including an epoch's smaller last
//     batch (run uncaptured) and a freeze change (run once uncaptured, then captured again);
//   - a capture that synchronises fails with a message naming --cuda-graph off, and the stream is
//     usable afterwards.
#include <doctest/doctest.h>

#include <cstdint>
#include <vector>

#include "kernels/device.h"
#include "models/registry.h"
#include "nn/flat_params.h"
#include "nn/optimizer.h"
#include "nn/step_graph.h"
#include "tensor/allocator.h"
#include "tensor/ops.h"
#include "tensor/rng.h"

using namespace fer;

namespace {

Tensor host_batch(int64_t n, uint64_t salt) {
  std::vector<float> v(static_cast<size_t>(n * 48 * 48));
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(((i * 2654435761u + salt * 97u) % 1000) / 1000.0);
  return Tensor::from_vector(v, {n, 1, 48, 48});
}

Tensor host_labels(int64_t n, uint64_t salt) {
  std::vector<int32_t> v(static_cast<size_t>(n));
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<int32_t>((i * 5 + salt) % 7);
  return Tensor::from_vector(v, {n});
}

struct Trained {
  std::vector<float> params;
  std::vector<double> losses, norms;
  std::vector<int64_t> correct;
  int64_t captures = 0, replays = 0, uncaptured = 0, nodes = 0;
};

// Ten steps of CNN6 (width 0.25) on fixed batches: steps 0-5 of 8 images, step 6 of 5 (an epoch's
// last batch), then the first conv frozen from step 7; the learning rate drops at step 4.
// With the graph: 0 warm-up, 1 capture, 2-5 replays, 6 uncaptured (5 images), 7 uncaptured (the new
// trainable set runs once), 8 capture, 9 replay.
Trained train_cnn6(bool graph) {
  manual_seed(11);
  models::ModelConfig mc;
  mc.width = 0.25;
  nn::ModulePtr model = models::build_model("cnn6", mc);
  model->to(Device::cuda);
  model->train();
  nn::FlatParameters flat(*model);
  nn::OptimizerOptions o;
  o.lr = 3e-3, o.weight_decay = 1e-4;
  auto opt = nn::make_optimizer("adam", flat, o);
  nn::StepGraph::Body body = [&](const Tensor& images, const Tensor& labels) {
    const Tensor logits = (*model)(images);
    const Tensor loss = ops::cross_entropy(logits, labels, Tensor(), 0.0);
    loss.backward();
    nn::StepGraph::Outputs out;
    out.norm = nn::clip_grad_norm_tensor(flat, 0.5);
    opt->apply_step();
    opt->zero_grad();
    out.loss = loss.detach();
    out.correct = ops::count_correct(logits.detach(), labels);
    return out;
  };
  nn::StepGraph sg(*opt, default_generator(), body);
  Trained t;
  for (int step = 0; step < 10; ++step) {
    if (step == 4) opt->set_lr(1e-3);
    if (step == 7) model->children()[0].second->set_trainable(false);
    const int64_t n = step == 6 ? 5 : 8;
    const Tensor images = host_batch(n, static_cast<uint64_t>(step)).to(Device::cuda);
    const Tensor labels = host_labels(n, static_cast<uint64_t>(step)).to(Device::cuda);
    nn::StepGraph::Outputs out;
    if (graph) {
      out = sg.run(images, labels);
    } else {
      opt->prepare_step();
      out = body(images, labels);
    }
    t.losses.push_back(out.loss.item());
    t.norms.push_back(out.norm.item());
    t.correct.push_back(static_cast<int64_t>(out.correct.item()));
  }
  t.params = flat.values().to(Device::cpu).to_vector<float>();
  t.captures = sg.captures(), t.replays = sg.replays(), t.uncaptured = sg.uncaptured_steps();
  t.nodes = sg.graph_nodes();
  return t;
}

}  // namespace

TEST_CASE("cuda graph: a captured computation replays on new inputs") {
  const cuda_stream s = cuda::default_stream();
  Tensor x = Tensor::from_vector(std::vector<float>{-1.f, 2.f, -3.f, 4.f}, {4}).to(Device::cuda);
  Tensor y;
  MemoryPool pool(Device::cuda);
  void* exec = nullptr;
  {
    PoolScope scope(pool);
    cuda::begin_capture(s);
    y = ops::relu(ops::mul(x, x));
    exec = cuda::end_capture(s);
  }
  CHECK(cuda::graph_node_count(exec) >= 2);
  cuda::graph_launch(exec, s);
  CHECK(y.to(Device::cpu).to_vector<float>() == std::vector<float>{1.f, 4.f, 9.f, 16.f});
  x.copy_from(Tensor::from_vector(std::vector<float>{5.f, -6.f, 0.5f, 0.f}, {4}));
  cuda::graph_launch(exec, s);
  CHECK(y.to(Device::cpu).to_vector<float>() == std::vector<float>{25.f, 36.f, 0.25f, 0.f});
  cuda::graph_destroy(exec);
}

TEST_CASE("cuda pool: blocks of a scope are not handed out elsewhere") {
  const size_t bytes = size_t(3) << 20;
  MemoryPool pool(Device::cuda);
  void* inside = nullptr;
  {
    PoolScope scope(pool);
    inside = allocate(Device::cuda, bytes);
    deallocate(Device::cuda, inside, bytes);
  }
  void* outside = allocate(Device::cuda, bytes);
  CHECK(outside != inside);
  deallocate(Device::cuda, outside, bytes);
  {
    PoolScope scope(pool);
    void* again = allocate(Device::cuda, bytes);
    CHECK(again == inside);
    deallocate(Device::cuda, again, bytes);
  }
}

TEST_CASE("StepGraph: CNN6 with dropout, Adam and clipping trains bit for bit like the uncaptured step") {
  const Trained eager = train_cnn6(false);
  const Trained graph = train_cnn6(true);
  CHECK(graph.captures == 2);    // step 1, then step 8 after the freeze change
  CHECK(graph.replays == 5);     // steps 2-5 and 9
  CHECK(graph.uncaptured == 3);  // step 0 (warm-up), step 6 (5 images), step 7 (new trainable set)
  CHECK(graph.nodes > 50);
  MESSAGE("CNN6 step graph: " << graph.nodes << " nodes");
  CHECK(graph.losses == eager.losses);
  CHECK(graph.norms == eager.norms);
  CHECK(graph.correct == eager.correct);
  REQUIRE(graph.params.size() == eager.params.size());
  size_t differ = 0;
  for (size_t i = 0; i < graph.params.size(); ++i) differ += graph.params[i] != eager.params[i];
  CHECK(differ == 0);
  CHECK(eager.losses.back() < eager.losses.front());
}

TEST_CASE("StepGraph: a body that synchronises fails the capture with a hint, and CUDA stays usable") {
  manual_seed(3);
  models::ModelConfig mc;
  mc.width = 0.25;
  nn::ModulePtr model = models::build_model("cnn6", mc);
  model->to(Device::cuda);
  nn::FlatParameters flat(*model);
  auto opt = nn::make_optimizer("sgd", flat, nn::OptimizerOptions{});
  nn::StepGraph sg(*opt, default_generator(), [&](const Tensor& images, const Tensor& labels) {
    const Tensor loss = ops::cross_entropy((*model)(images), labels, Tensor(), 0.0);
    (void)loss.item();  // a host read: not capturable
    loss.backward();
    opt->apply_step();
    opt->zero_grad();
    return nn::StepGraph::Outputs{loss.detach(), Tensor(), Tensor()};
  });
  const Tensor images = host_batch(4, 1).to(Device::cuda);
  const Tensor labels = host_labels(4, 1).to(Device::cuda);
  sg.run(images, labels);  // warm-up, uncaptured: fine
  CHECK_THROWS_WITH_AS(sg.run(images, labels), doctest::Contains("--cuda-graph off"), Error);
  const Tensor z = ops::mul(images, images);  // the stream works after the failed capture
  CHECK(z.to(Device::cpu).to_vector<float>()[1] == doctest::Approx(host_batch(4, 1).to_vector<float>()[1] *
                                                                    host_batch(4, 1).to_vector<float>()[1]));
}
