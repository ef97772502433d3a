// tensor/op_record.h: the ops report themselves (name, inputs by identity, output, attributes)
// only while a scope is alive; the innermost scope receives them; an op that hands back its input
// (dropout in eval mode) adds nothing.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "tensor/op_record.h"
#include "tensor/ops.h"
#include "tensor/rng.h"

using namespace fer;

TEST_CASE("op recorder: a conv -> batch norm + ReLU -> pool -> flatten -> linear chain, linked by identity") {
  Generator gen(3);
  Tensor x = Tensor::empty({2, 3, 7, 7}), w = Tensor::empty({4, 3, 3, 3}), b = Tensor::zeros({4});
  Tensor mean = Tensor::zeros({4}), var = Tensor::ones({4});
  Tensor lw = Tensor::empty({5, 4 * 3 * 3});
  uniform_(x, -1, 1, gen);
  uniform_(w, -1, 1, gen);
  uniform_(lw, -1, 1, gen);
  std::vector<RecordedOp> ops;
  Tensor y;
  {
    OpRecordScope scope([&](RecordedOp&& r) { ops.push_back(std::move(r)); });
    Tensor h = ops::conv2d(x, w, b, ops::Conv2dOptions::make(1, 1));
    h = ops::batch_norm_act(h, Tensor(), Tensor(), mean, var, false, 0.1, 1e-5, Activation::relu);
    h = ops::dropout(h, 0.5, /*training=*/false, gen);  // the input itself: not recorded
    h = ops::max_pool2d(h, ops::PoolOptions::make(2, 2));
    y = ops::linear(h.flatten(1), lw, Tensor());
  }
  // not recorded outside the scope
  ops::activation(x, Activation::relu);
  CHECK_FALSE(op_recording());

  std::vector<std::string> names;
  for (const RecordedOp& r : ops) names.push_back(r.op);
  // linear's own internal reshapes are recorded too (their inputs are internal tensors); the last
  // record producing y is linear's
  REQUIRE(names.size() >= 5);
  CHECK(names[0] == "conv2d");
  CHECK(names[1] == "batch_norm_act");
  CHECK(names[2] == "max_pool2d");
  CHECK(names[3] == "reshape");
  CHECK(names.back() == "linear");
  CHECK(ops[0].inputs[0].impl_ptr() == x.impl_ptr());
  CHECK(ops[0].inputs[1].impl_ptr() == w.impl_ptr());
  CHECK(ops[0].attr_list("pad") == std::vector<double>{1, 1});
  CHECK(ops[0].attr("groups") == 1);
  CHECK(ops[1].inputs[0].impl_ptr() == ops[0].output.impl_ptr());
  CHECK_FALSE(ops[1].inputs[1].defined());  // no affine parameters
  CHECK(ops[1].attr("batch_stats") == 0);   // eval statistics
  CHECK(ops[1].attr("kind") == static_cast<int>(Activation::relu));
  CHECK(ops[2].inputs[0].impl_ptr() == ops[1].output.impl_ptr());  // the dropout was the identity
  CHECK(ops[2].attr_list("kernel") == std::vector<double>{2, 2});
  CHECK(ops[3].attr_list("shape") == std::vector<double>{2, 36});
  CHECK(ops.back().inputs[0].impl_ptr() == ops[3].output.impl_ptr());
  CHECK(ops.back().output.impl_ptr() == y.impl_ptr());
  CHECK_THROWS_WITH_AS(ops[0].attr("nothing"), doctest::Contains("no attribute 'nothing'"), Error);
}

TEST_CASE("op recorder: scopes nest, the innermost receives; elementwise ops carry their names") {
  Tensor a = Tensor::ones({2, 3}), c = Tensor::ones({2, 1});
  std::vector<std::string> outer, inner;
  {
    OpRecordScope s1([&](RecordedOp&& r) { outer.push_back(r.op); });
    ops::add(a, c);
    {
      OpRecordScope s2([&](RecordedOp&& r) { inner.push_back(r.op); });
      ops::mul(a, c);
      ops::mul_scalar(a, 2.0);
    }
    ops::softmax(a, -1);
  }
  CHECK(outer == std::vector<std::string>{"add", "softmax"});
  CHECK(inner == std::vector<std::string>{"mul", "scale_shift"});
}
