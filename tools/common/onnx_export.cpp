// tools/common/onnx_export.cpp: see onnx_export.h.
#include "tools/common/onnx_export.h"

#include <bit>
#include <cmath>
#include <cstring>
#include <functional>
#include <set>
#include <sstream>
#include <unordered_map>

#include "kernels/activation.h"
#include "kernels/common.h"
#include "kernels/masking.h"
#include "tensor/autograd.h"
#include "tensor/op_record.h"
#include "tensor/rng.h"

namespace fer::tools {

namespace {

static_assert(std::endian::native == std::endian::little, "ONNX raw_data is little-endian; this writer copies memory");

constexpr int64_t kOpset = 13;
constexpr int64_t kIrVersion = 7;  // the IR version of opset 13 (ONNX 1.8)
constexpr int64_t kTraceBatch = 2;  // the traced batch: its size marks the symbolic batch dimension

// ---- protobuf encoding (wire types: 0 varint, 2 length-delimited, 5 fixed32) ---------------------
class Proto {
 public:
  void varint(uint64_t v) {
    while (v >= 0x80) {
      buf_.push_back(static_cast<char>((v & 0x7f) | 0x80));
      v >>= 7;
    }
    buf_.push_back(static_cast<char>(v));
  }
  void tag(int field, int wire) { varint((static_cast<uint64_t>(field) << 3) | static_cast<uint64_t>(wire)); }
  void int_field(int field, int64_t v) {  // int64/enum: negative values as 10-byte two's complement
    tag(field, 0);
    varint(static_cast<uint64_t>(v));
  }
  void bytes_field(int field, const std::string& s) {
    tag(field, 2);
    varint(s.size());
    buf_ += s;
  }
  void message(int field, const Proto& m) { bytes_field(field, m.buf_); }
  void float_field(int field, float f) {
    tag(field, 5);
    char b[4];
    std::memcpy(b, &f, 4);
    buf_.append(b, 4);
  }
  const std::string& bytes() const { return buf_; }

 private:
  std::string buf_;
};

// onnx.proto field numbers
namespace f {
constexpr int model_ir_version = 1, model_producer_name = 2, model_producer_version = 3, model_graph = 7,
              model_opset_import = 8, model_metadata_props = 14;
constexpr int opset_version = 2;
constexpr int entry_key = 1, entry_value = 2;
constexpr int graph_node = 1, graph_name = 2, graph_initializer = 5, graph_input = 11, graph_output = 12;
constexpr int node_input = 1, node_output = 2, node_name = 3, node_op_type = 4, node_attribute = 5;
constexpr int attr_name = 1, attr_f = 2, attr_i = 3, attr_ints = 8, attr_type = 20;
constexpr int attr_type_float = 1, attr_type_int = 2, attr_type_ints = 7;
constexpr int tensor_dims = 1, tensor_data_type = 2, tensor_name = 8, tensor_raw_data = 9;
constexpr int dtype_float = 1, dtype_int64 = 7;
constexpr int value_name = 1, value_type = 2, type_tensor = 1, tensor_elem_type = 1, tensor_shape = 2;
constexpr int shape_dim = 1, dim_value = 1, dim_param = 2;
}  // namespace f

struct Attr {
  std::string name;
  enum Kind { i, ints, fl } kind;
  int64_t iv = 0;
  std::vector<int64_t> list;
  float fv = 0;
};
Attr attr_i(const std::string& n, int64_t v) { return {n, Attr::i, v, {}, 0}; }
Attr attr_ints(const std::string& n, std::vector<int64_t> v) { return {n, Attr::ints, 0, std::move(v), 0}; }
Attr attr_f(const std::string& n, float v) { return {n, Attr::fl, 0, {}, v}; }

Proto encode_attr(const Attr& a) {
  Proto p;
  p.bytes_field(f::attr_name, a.name);
  switch (a.kind) {
    case Attr::i:
      p.int_field(f::attr_i, a.iv);
      p.int_field(f::attr_type, f::attr_type_int);
      break;
    case Attr::ints:
      for (int64_t v : a.list) p.int_field(f::attr_ints, v);
      p.int_field(f::attr_type, f::attr_type_ints);
      break;
    case Attr::fl:
      p.float_field(f::attr_f, a.fv);
      p.int_field(f::attr_type, f::attr_type_float);
      break;
  }
  return p;
}

Proto value_info(const std::string& name, const Shape& shape, bool symbolic_batch) {
  Proto dims;
  for (size_t k = 0; k < shape.size(); ++k) {
    Proto d;
    if (k == 0 && symbolic_batch) d.bytes_field(f::dim_param, "N");
    else d.int_field(f::dim_value, shape[k]);
    dims.message(f::shape_dim, d);
  }
  Proto tensor_type;
  tensor_type.int_field(f::tensor_elem_type, f::dtype_float);
  tensor_type.message(f::tensor_shape, dims);
  Proto type;
  type.message(f::type_tensor, tensor_type);
  Proto v;
  v.bytes_field(f::value_name, name);
  v.message(f::value_type, type);
  return v;
}

// prefix + n (ostringstream: GCC 12 warns falsely on string + std::to_string)
std::string numbered(const std::string& prefix, int64_t n) {
  std::ostringstream s;
  s << prefix << n;
  return s.str();
}

int64_t as_int(double v) { return static_cast<int64_t>(std::llround(v)); }

std::vector<int64_t> as_ints(const std::vector<double>& v) {
  std::vector<int64_t> out;
  for (double x : v) out.push_back(as_int(x));
  return out;
}

// ---- the graph being built ------------------------------------------------------------------------
class Graph {
 public:
  void node(const std::string& op, std::vector<std::string> in, std::vector<std::string> out,
            const std::vector<Attr>& attrs = {}) {
    Proto n;
    for (const std::string& s : in) n.bytes_field(f::node_input, s);
    for (const std::string& s : out) n.bytes_field(f::node_output, s);
    n.bytes_field(f::node_name, numbered(op + "_", static_cast<int64_t>(node_types.size())));
    n.bytes_field(f::node_op_type, op);
    for (const Attr& a : attrs) n.message(f::node_attribute, encode_attr(a));
    nodes.push_back(n);
    node_types.push_back(op);
  }
  // A fresh value name.
  std::string temp() { return numbered("v", next_temp_++); }

  void initializer_f32(const std::string& name, const Shape& shape, const float* values) {
    Proto t;
    for (int64_t d : shape) t.int_field(f::tensor_dims, d);
    t.int_field(f::tensor_data_type, f::dtype_float);
    t.bytes_field(f::tensor_name, name);
    const int64_t n = shape_numel(shape);
    t.bytes_field(f::tensor_raw_data, std::string(reinterpret_cast<const char*>(values), static_cast<size_t>(n) * 4));
    initializers.push_back(t);
    parameter_values += n;
  }
  void initializer_i64(const std::string& name, const std::vector<int64_t>& values) {
    Proto t;
    t.int_field(f::tensor_dims, static_cast<int64_t>(values.size()));
    t.int_field(f::tensor_data_type, f::dtype_int64);
    t.bytes_field(f::tensor_name, name);
    t.bytes_field(f::tensor_raw_data,
                  std::string(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(int64_t)));
    initializers.push_back(t);
    parameter_values += static_cast<int64_t>(values.size());
  }
  std::string const_f32(const std::vector<float>& values, const Shape& shape) {
    const std::string name = numbered("const_", next_const_++);
    initializer_f32(name, shape, values.data());
    return name;
  }
  std::string scalar(float v) { return const_f32({v}, {}); }
  std::string const_i64(const std::vector<int64_t>& values) {
    const std::string name = numbered("const_", next_const_++);
    initializer_i64(name, values);
    return name;
  }

  std::vector<Proto> nodes, initializers;
  std::vector<std::string> node_types;
  int64_t parameter_values = 0;

 private:
  int64_t next_temp_ = 0, next_const_ = 0;
};

const TensorImpl* key(const Tensor& t) { return t.impl_ptr().get(); }

// in -> out through the activation.
void emit_activation(Graph& g, Activation kind, const std::string& in, const std::string& out) {
  switch (kind) {
    case Activation::relu:
      return g.node("Relu", {in}, {out});
    case Activation::sigmoid:
      return g.node("Sigmoid", {in}, {out});
    case Activation::silu: {
      const std::string s = g.temp();
      g.node("Sigmoid", {in}, {s});
      return g.node("Mul", {in, s}, {out});
    }
    case Activation::gelu: {  // x * (1 + erf(x / sqrt 2)) / 2
      const std::string a = g.temp(), b = g.temp(), c = g.temp(), d = g.temp();
      g.node("Div", {in, g.scalar(static_cast<float>(std::sqrt(2.0)))}, {a});
      g.node("Erf", {a}, {b});
      g.node("Add", {b, g.scalar(1.0f)}, {c});
      g.node("Mul", {in, c}, {d});
      return g.node("Mul", {d, g.scalar(0.5f)}, {out});
    }
  }
  FER_FAIL("onnx export: unknown activation");
}

// ONNX pooling's output size: floor or ceil of (in + 2 pad - k) / s + 1 (no PyTorch correction).
int64_t onnx_pool_out(int64_t in, int64_t k, int64_t s, int64_t p, bool ceil_mode) {
  const int64_t span = in + 2 * p - k;
  return (ceil_mode ? (span + s - 1) / s : span / s) + 1;
}

std::vector<Attr> pool_attrs(const RecordedOp& r) {
  const auto k = as_ints(r.attr_list("kernel")), s = as_ints(r.attr_list("stride")), p = as_ints(r.attr_list("pad"));
  const bool ceil_mode = r.attr("ceil_mode") != 0;
  const Shape& in = r.inputs[0].shape();
  const Shape& out = r.output.shape();
  for (int a = 0; a < 2; ++a)
    FER_CHECK(onnx_pool_out(in[2 + a], k[a], s[a], p[a], ceil_mode) == out[2 + a],
              "onnx export: " << r.op << " with ceil mode gives " << out[2 + a] << " outputs along dim " << 2 + a
                              << " where ONNX's rule gives " << onnx_pool_out(in[2 + a], k[a], s[a], p[a], ceil_mode)
                              << " (a last window starting in the padding); not exportable");
  return {attr_ints("kernel_shape", k), attr_ints("strides", s), attr_ints("pads", {p[0], p[1], p[0], p[1]}),
          attr_i("ceil_mode", ceil_mode ? 1 : 0)};
}

// One traced forward pass: the recorded ops, and which of them the output needs.
struct Trace {
  int64_t batch = 0;
  Tensor x, y;
  std::vector<RecordedOp> ops;
  std::unordered_map<const TensorImpl*, size_t> producer;
  std::vector<bool> needed;
  std::set<const TensorImpl*> used_params;
};

// The model on a random batch of `batch` inputs under the op recorder. The input requires a
// gradient, so every value computed from it carries a grad_fn: an op the recorder did not see is
// caught here.
Trace trace_model(nn::Module& model, const Shape& input_shape, int64_t batch, uint64_t seed,
                  const std::unordered_map<const TensorImpl*, std::string>& param_names) {
  Trace t;
  t.batch = batch;
  Shape shape = input_shape;
  shape.insert(shape.begin(), batch);
  Generator gen(seed);
  t.x = Tensor::empty(shape);
  uniform_(t.x, -1.0, 1.0, gen);
  t.x.requires_grad_(true);
  {
    OpRecordScope scope([&](RecordedOp&& r) { t.ops.push_back(std::move(r)); });
    t.y = model(t.x);
  }
  const Tensor& y = t.y;
  FER_CHECK(y.defined() && y.ndim() >= 1 && y.size(0) == batch,
            "onnx export: the model's output " << (y.defined() ? describe(y) : std::string("(undefined)"))
                                               << " does not keep the batch as its first dimension");
  for (size_t i = 0; i < t.ops.size(); ++i) t.producer[key(t.ops[i].output)] = i;
  FER_CHECK(t.producer.count(key(y)), "onnx export: the model's output is not made by an exportable op"
                                          << (y.grad_fn() ? std::string(" (it comes from ") + y.grad_fn()->name() + ")"
                                                          : std::string()));
  // the ops the output depends on
  t.needed.assign(t.ops.size(), false);
  std::vector<size_t> stack{t.producer.at(key(y))};
  while (!stack.empty()) {
    const size_t i = stack.back();
    stack.pop_back();
    if (t.needed[i]) continue;
    t.needed[i] = true;
    for (const Tensor& in : t.ops[i].inputs) {
      if (!in.defined() || key(in) == key(t.x)) continue;
      if (auto it = t.producer.find(key(in)); it != t.producer.end() && it->second < i) {
        stack.push_back(it->second);
      } else if (param_names.count(key(in))) {
        t.used_params.insert(key(in));
      } else {
        FER_CHECK(in.grad_fn() == nullptr && !in.requires_grad(),
                  "onnx export: " << t.ops[i].op << " reads a value made by "
                                  << (in.grad_fn() ? in.grad_fn()->name() : "an unregistered parameter")
                                  << ", which has no ONNX mapping yet; this model cannot be exported");
      }
    }
  }
  return t;
}

// "[N, 7]": a shape with its first dimension written N when it is the traced batch.
std::string batch_shape(const Shape& s, int64_t batch) {
  std::ostringstream o;
  o << "[";
  for (size_t k = 0; k < s.size(); ++k) {
    o << (k ? ", " : "");
    if (k == 0 && s[k] == batch) o << "N";
    else o << s[k];
  }
  o << "]";
  return o.str();
}

// One line per needed op: its name, attributes, inputs (the graph input, a parameter by name, an
// earlier op, or a constant by shape and a hash of its values) and output shape, with the batch
// written N. Two traces at different batch sizes and inputs give the same lines exactly when the
// graph does not depend on either: no constant computed from the input (a detach() or a no-grad
// block inside forward) and no shape or branch that follows the batch.
std::vector<std::string> signature(const Trace& t, const std::unordered_map<const TensorImpl*, std::string>& names) {
  std::vector<std::string> lines;
  std::unordered_map<size_t, size_t> rank;  // op index -> position among the needed ops
  for (size_t i = 0; i < t.ops.size(); ++i) {
    if (!t.needed[i]) continue;
    const RecordedOp& r = t.ops[i];
    rank[i] = lines.size();
    std::ostringstream o;
    o << r.op;
    for (const auto& [name, values] : r.attrs) {
      o << " " << name << "=";
      for (size_t k = 0; k < values.size(); ++k) {
        const bool batch_dim = r.op == "reshape" && name == "shape" && k == 0 && values[k] == double(t.batch);
        if (batch_dim) o << "N,";
        else o << values[k] << ",";
      }
    }
    for (const Tensor& in : r.inputs) {
      o << " | ";
      if (!in.defined()) {
        o << "-";
      } else if (key(in) == key(t.x)) {
        o << "input";
      } else if (auto p = names.find(key(in)); p != names.end()) {
        o << "param " << p->second;
      } else if (auto it = t.producer.find(key(in)); it != t.producer.end() && it->second < i) {
        o << "op " << rank.at(it->second);
      } else {  // a constant: its shape and an FNV-1a hash of its values
        const std::vector<float> v = in.detach().to_vector<float>();
        uint64_t h = 1469598103934665603ull;
        for (float f : v) {
          uint32_t bits;
          std::memcpy(&bits, &f, 4);
          for (int b = 0; b < 4; ++b) h = (h ^ ((bits >> (8 * b)) & 0xff)) * 1099511628211ull;
        }
        o << "constant " << batch_shape(in.shape(), t.batch) << " #" << std::hex << h << std::dec;
      }
    }
    o << " -> " << batch_shape(r.output.shape(), t.batch);
    lines.push_back(o.str());
  }
  return lines;
}

}  // namespace

OnnxExport export_onnx(nn::Module& model, const Shape& input_shape, const OnnxExportOptions& options) {
  FER_CHECK(input_shape.size() == 3, "onnx export: input shape must be [C, H, W], got " << shape_str(input_shape));
  FER_CHECK(model.device() == Device::cpu, "onnx export: the model must be on the CPU");
  model.eval();

  // parameters and buffers by their state-dict names
  std::unordered_map<const TensorImpl*, std::string> param_names;
  std::vector<std::pair<std::string, Tensor>> named = model.named_parameters();
  for (auto& b : model.named_buffers()) named.push_back(b);
  for (const auto& [name, t] : named) param_names.emplace(key(t), name);

  // two traces, at two batch sizes on different inputs: the graph is exported only when both give
  // the same ops, attributes and constants (see signature())
  const Trace tr = trace_model(model, input_shape, kTraceBatch, 20261207, param_names);
  const Trace check = trace_model(model, input_shape, kTraceBatch + 1, 20261208, param_names);
  const std::vector<std::string> sa = signature(tr, param_names), sb = signature(check, param_names);
  for (size_t k = 0; k < std::max(sa.size(), sb.size()); ++k) {
    const std::string a = k < sa.size() ? sa[k] : "(none)", b = k < sb.size() ? sb[k] : "(none)";
    FER_CHECK(a == b, "onnx export: the forward pass is not the same graph at batch "
                          << kTraceBatch << " and " << kTraceBatch + 1 << " on other inputs; op " << k << ":\n  " << a
                          << "\n  " << b
                          << "\n(a value computed from the input outside the recorded ops, e.g. under detach() or "
                             "a no-grad block, or a shape or branch that follows the batch); not exportable");
  }
  const Tensor& x = tr.x;
  const Tensor& y = tr.y;
  const std::vector<RecordedOp>& ops = tr.ops;
  const std::vector<bool>& needed = tr.needed;
  const std::set<const TensorImpl*>& used_params = tr.used_params;
  Shape traced_shape = x.shape();

  // 4. the graph: parameters as initializers (in state-dict order), then the nodes in op order
  Graph g;
  for (const auto& [name, t] : named) {
    if (!used_params.count(key(t))) continue;
    FER_CHECK(t.dtype() == DType::f32, "onnx export: parameter " << name << " is " << dtype_name(t.dtype())
                                                                 << "; only f32 parameters are exported");
    const Tensor c = t.detach();
    g.initializer_f32(name, t.shape(), c.data<float>());
  }
  std::unordered_map<const TensorImpl*, std::string> value_names;
  value_names[key(x)] = "input";
  for (const auto& [name, t] : named) value_names[key(t)] = name;
  const std::string final_name = options.softmax ? "logits" : options.output_name;
  auto name_of = [&](const Tensor& t) -> std::string {
    if (auto it = value_names.find(key(t)); it != value_names.end()) return it->second;
    // a constant (no gradient history): its values go into the file
    FER_CHECK(t.dtype() == DType::f32, "onnx export: a constant of dtype " << dtype_name(t.dtype()));
    const Tensor c = t.detach();
    const std::vector<float> v = c.to_vector<float>();
    const std::string n = g.const_f32(v, t.shape());
    value_names[key(t)] = n;
    return n;
  };
  for (size_t i = 0; i < ops.size(); ++i) {
    if (!needed[i]) continue;
    const RecordedOp& r = ops[i];
    const bool last = key(r.output) == key(y);
    const std::string out = last ? final_name : numbered("t", static_cast<int64_t>(i));
    std::vector<std::string> in;
    for (const Tensor& t : r.inputs) in.push_back(t.defined() ? name_of(t) : std::string());
    auto kind = [&] { return static_cast<Activation>(as_int(r.attr("kind"))); };
    if (r.op == "conv2d") {
      const Tensor& w = r.inputs[1];
      const auto s = as_ints(r.attr_list("stride")), p = as_ints(r.attr_list("pad"));
      std::vector<std::string> args{in[0], in[1]};
      if (r.inputs[2].defined()) args.push_back(in[2]);
      g.node("Conv", args, {out},
             {attr_ints("kernel_shape", {w.size(2), w.size(3)}), attr_ints("strides", s),
              attr_ints("pads", {p[0], p[1], p[0], p[1]}), attr_ints("dilations", {1, 1}),
              attr_i("group", as_int(r.attr("groups")))});
    } else if (r.op == "conv_transpose2d") {
      const Tensor& w = r.inputs[1];
      const int64_t s = as_int(r.attr("stride")), p = as_int(r.attr("pad"));
      std::vector<std::string> args{in[0], in[1]};
      if (r.inputs[2].defined()) args.push_back(in[2]);
      g.node("ConvTranspose", args, {out},
             {attr_ints("kernel_shape", {w.size(2), w.size(3)}), attr_ints("strides", {s, s}),
              attr_ints("pads", {p, p, p, p})});
    } else if (r.op == "batch_norm" || r.op == "batch_norm_act") {
      FER_CHECK(r.attr("batch_stats") == 0,
                "onnx export: a batch norm uses batch statistics in eval mode (no running statistics); "
                "ONNX's BatchNormalization needs the running mean and variance");
      const int64_t c = r.inputs[0].size(1);
      const std::string gamma = r.inputs[1].defined() ? in[1] : g.const_f32(std::vector<float>(c, 1.0f), {c});
      const std::string beta = r.inputs[2].defined() ? in[2] : g.const_f32(std::vector<float>(c, 0.0f), {c});
      const bool act = r.op == "batch_norm_act";
      const std::string bn_out = act ? g.temp() : out;
      g.node("BatchNormalization", {in[0], gamma, beta, in[3], in[4]}, {bn_out},
             {attr_f("epsilon", static_cast<float>(r.attr("eps")))});
      if (act) emit_activation(g, kind(), bn_out, out);
    } else if (r.op == "activation") {
      emit_activation(g, kind(), in[0], out);
    } else if (r.op == "add_act") {
      const std::string sum = g.temp();
      g.node("Add", {in[0], in[1]}, {sum});
      emit_activation(g, kind(), sum, out);
    } else if (r.op == "add" || r.op == "sub" || r.op == "mul" || r.op == "div") {
      const std::string type = r.op == "add" ? "Add" : r.op == "sub" ? "Sub" : r.op == "mul" ? "Mul" : "Div";
      g.node(type, {in[0], in[1]}, {out});
    } else if (r.op == "scale_shift") {
      const double scale = r.attr("scale"), shift = r.attr("shift");
      std::string cur = in[0];
      if (scale != 1.0) {
        const std::string next = shift != 0.0 ? g.temp() : out;
        g.node("Mul", {cur, g.scalar(static_cast<float>(scale))}, {next});
        cur = next;
      }
      if (shift != 0.0) g.node("Add", {cur, g.scalar(static_cast<float>(shift))}, {out});
      if (scale == 1.0 && shift == 0.0) g.node("Identity", {cur}, {out});
    } else if (r.op == "linear") {
      FER_CHECK(r.inputs[0].ndim() == 2, "onnx export: linear on a " << r.inputs[0].ndim()
                                                                     << "-D input has no mapping yet (2-D only)");
      std::vector<std::string> args{in[0], in[1]};
      if (r.inputs[2].defined()) args.push_back(in[2]);
      g.node("Gemm", args, {out}, {attr_i("transB", 1)});
    } else if (r.op == "max_pool2d") {
      g.node("MaxPool", {in[0]}, {out}, pool_attrs(r));
    } else if (r.op == "avg_pool2d") {
      std::vector<Attr> a = pool_attrs(r);
      // a ceil-mode window that reaches past the padded input: fer (like PyTorch) divides by the
      // cells inside, ONNX runtimes differ (ONNX Runtime before opset 19 and the reference
      // evaluator divide by the whole kernel), so such a pooling is refused rather than exported
      const auto k = as_ints(r.attr_list("kernel")), st = as_ints(r.attr_list("stride")),
                 pd = as_ints(r.attr_list("pad"));
      for (int ax = 0; ax < 2; ++ax)
        FER_CHECK((r.output.size(2 + ax) - 1) * st[ax] + k[ax] <= r.inputs[0].size(2 + ax) + 2 * pd[ax],
                  "onnx export: avg_pool2d in ceil mode has a last window past the padded input along dim "
                      << 2 + ax << "; ONNX runtimes average such windows differently from fer (and PyTorch); "
                      << "not exportable");
      a.push_back(attr_i("count_include_pad", r.attr("count_include_pad") != 0 ? 1 : 0));
      g.node("AveragePool", {in[0]}, {out}, a);
    } else if (r.op == "global_avg_pool") {
      const std::string pooled = g.temp();
      g.node("GlobalAveragePool", {in[0]}, {pooled});
      g.node("Flatten", {pooled}, {out}, {attr_i("axis", 1)});
    } else if (r.op == "reshape") {
      std::vector<int64_t> shape = as_ints(r.attr_list("shape"));
      FER_CHECK(!shape.empty() && shape[0] == kTraceBatch && r.inputs[0].ndim() >= 1 &&
                    r.inputs[0].size(0) == kTraceBatch,
                "onnx export: a reshape " << shape_str(r.inputs[0].shape()) << " -> " << shape_str(r.output.shape())
                                          << " does not keep the batch dimension first; not exportable yet");
      shape[0] = 0;  // ONNX Reshape: 0 copies the input's dimension (the symbolic batch)
      g.node("Reshape", {in[0], g.const_i64(shape)}, {out});
    } else if (r.op == "concat") {
      const int64_t axis = as_int(r.attr("dim"));
      FER_CHECK(axis != 0, "onnx export: concat along the batch dimension is not exportable");
      g.node("Concat", in, {out}, {attr_i("axis", axis)});
    } else if (r.op == "slice") {
      const int64_t axis = as_int(r.attr("dim"));
      FER_CHECK(axis != 0, "onnx export: a slice of the batch dimension is not exportable");
      g.node("Slice",
             {in[0], g.const_i64({as_int(r.attr("start"))}), g.const_i64({as_int(r.attr("end"))}), g.const_i64({axis})},
             {out});
    } else if (r.op == "softmax" || r.op == "log_softmax") {
      g.node(r.op == "softmax" ? "Softmax" : "LogSoftmax", {in[0]}, {out}, {attr_i("axis", as_int(r.attr("dim")))});
    } else if (r.op == "permute") {
      const std::vector<int64_t> perm = as_ints(r.attr_list("perm"));
      FER_CHECK(perm[0] == 0, "onnx export: a permute that moves the batch dimension is not exportable");
      g.node("Transpose", {in[0]}, {out}, {attr_ints("perm", perm)});
    } else if (r.op == "mask_apply") {  // y = x * (1 + M(z))
      const std::string m = g.temp(), m1 = g.temp();
      if (static_cast<MaskKind>(as_int(r.attr("kind"))) == MaskKind::softmax)
        g.node("Softmax", {in[1]}, {m}, {attr_i("axis", 1)});
      else
        g.node("Sigmoid", {in[1]}, {m});
      g.node("Add", {m, g.scalar(1.0f)}, {m1});
      g.node("Mul", {in[0], m1}, {out});
    } else {
      FER_FAIL("onnx export: op " << r.op << " has no ONNX mapping yet; this model cannot be exported");
    }
    value_names[key(r.output)] = out;
  }
  if (options.softmax) g.node("Softmax", {final_name}, {options.output_name}, {attr_i("axis", 1)});

  // 5. the model
  Proto graph;
  for (const Proto& n : g.nodes) graph.message(f::graph_node, n);
  graph.bytes_field(f::graph_name, options.graph_name);
  for (const Proto& t : g.initializers) graph.message(f::graph_initializer, t);
  graph.message(f::graph_input, value_info("input", traced_shape, true));
  graph.message(f::graph_output, value_info(options.output_name, y.shape(), true));
  Proto opset;
  opset.int_field(f::opset_version, kOpset);
  Proto m;
  m.int_field(f::model_ir_version, kIrVersion);
  m.bytes_field(f::model_producer_name, "fer");
  m.bytes_field(f::model_producer_version, options.producer_version);
  m.message(f::model_graph, graph);
  m.message(f::model_opset_import, opset);
  for (const auto& [k, v] : options.metadata) {
    Proto e;
    e.bytes_field(f::entry_key, k);
    e.bytes_field(f::entry_value, v);
    m.message(f::model_metadata_props, e);
  }

  OnnxExport result;
  result.bytes = m.bytes();
  result.node_types = g.node_types;
  result.initializers = static_cast<int64_t>(g.initializers.size());
  result.parameter_values = g.parameter_values;
  result.output_shape = y.shape();
  return result;
}

}  // namespace fer::tools
