// nn/checkpoint.cpp: model checkpoints (see checkpoint.h).
#include "nn/checkpoint.h"

#include <nlohmann/json.hpp>
#include <map>
#include <set>
#include <sstream>

namespace fer::nn {

namespace {

std::set<std::string> extra_names(const safetensors::File& file) {
  std::set<std::string> out;
  auto it = file.metadata().find("extra_tensors");
  if (it == file.metadata().end()) return out;
  const auto j = nlohmann::json::parse(it->second, nullptr, false);
  FER_CHECK(!j.is_discarded() && j.is_array(), "load_state_dict: '" << file.what() << "': metadata extra_tensors is "
                                                                    << it->second << ", expected a JSON array of names");
  for (const auto& n : j) {
    FER_CHECK(n.is_string(), "load_state_dict: '" << file.what() << "': metadata extra_tensors holds " << n.dump()
                                                  << ", expected names");
    out.insert(n.get<std::string>());
  }
  return out;
}

void check_version(const std::map<std::string, std::string>& meta, const std::string& path) {
  auto f = meta.find("format");
  if (f == meta.end() || f->second != kCheckpointFormat) return;  // e.g. a file PyTorch wrote
  auto v = meta.find("version");
  FER_CHECK(v != meta.end() && v->second == kCheckpointVersion,
            "load_state_dict: '" << path << "' is a fer checkpoint of version "
                                 << (v == meta.end() ? std::string("(none)") : v->second) << ", this build reads version "
                                 << kCheckpointVersion);
}

}  // namespace

std::vector<TensorRef> state_dict(const Module& model) {
  std::vector<TensorRef> out;
  for (auto& [name, t] : model.named_parameters()) out.push_back({name, t.detach()});
  for (auto& [name, t] : model.named_buffers()) out.push_back({name, t.detach()});
  return out;
}

void save_state_dict(const std::string& path, const Module& model, const std::map<std::string, std::string>& metadata,
                     const std::vector<TensorRef>& extra) {
  std::vector<TensorRef> tensors = state_dict(model);
  std::map<std::string, std::string> meta = metadata;
  for (const char* key : {"format", "version", "extra_tensors"})
    FER_CHECK(!meta.count(key), "save_state_dict: metadata key '" << key << "' is reserved (set by the checkpoint writer)");
  meta["format"] = kCheckpointFormat;
  meta["version"] = kCheckpointVersion;
  if (!extra.empty()) {
    std::set<std::string> model_keys;
    for (const auto& r : tensors) model_keys.insert(r.name);
    nlohmann::json names = nlohmann::json::array();
    for (const auto& r : extra) {
      FER_CHECK(!model_keys.count(r.name), "save_state_dict: extra tensor '" << r.name
                                                                             << "' has the name of a model parameter or buffer");
      names.push_back(r.name);
      tensors.push_back(r);
    }
    meta["extra_tensors"] = names.dump();
  }
  safetensors::save(path, tensors, meta);
}

void load_state_dict(const std::string& path, Module& model, bool strict) {
  const safetensors::File file = safetensors::File::load(path);
  check_version(file.metadata(), path);
  const std::set<std::string> extras = extra_names(file);
  std::vector<TensorRef> keys = state_dict(model);

  std::vector<std::string> missing, unexpected, mismatched;
  std::set<std::string> model_keys;
  std::vector<std::pair<std::string, Tensor>> to_load;
  for (auto& [name, t] : keys) {
    model_keys.insert(name);
    if (!file.contains(name)) {
      missing.push_back(name);
      continue;
    }
    const auto& e = file.entry(name);
    std::ostringstream why;
    if (e.shape != t.shape()) {
      why << "'" << name << "': file " << shape_str(e.shape) << ", model " << shape_str(t.shape());
    } else if (e.dtype != t.dtype() && !(is_floating(e.dtype) && is_floating(t.dtype()))) {
      why << "'" << name << "': file dtype " << dtype_name(e.dtype) << ", model " << dtype_name(t.dtype());
    }
    if (!why.str().empty()) {
      mismatched.push_back(why.str());
      continue;
    }
    to_load.emplace_back(name, t);
  }
  for (const auto& name : file.names())
    if (!model_keys.count(name) && !extras.count(name)) unexpected.push_back(name);

  const bool fail = !mismatched.empty() || (strict && (!missing.empty() || !unexpected.empty()));
  if (fail) {
    std::ostringstream os;
    os << "load_state_dict: '" << path << "' does not match the model (" << model_keys.size() << " keys):";
    auto list = [&](const char* what, const std::vector<std::string>& v, const char* first, const char* sep) {
      if (v.empty()) return;
      os << "\n  " << what << " (" << v.size() << "):";
      for (size_t i = 0; i < v.size(); ++i) os << (i ? sep : first) << v[i];
    };
    if (strict) {
      list("missing keys", missing, " ", ", ");
      list("unexpected keys", unexpected, " ", ", ");
    }
    list("size/dtype mismatches", mismatched, "\n    ", "\n    ");
    os << "\nhint: was the checkpoint saved from the same model and configuration?";
    if (!strict) os << " (non-strict loading skips missing and unexpected keys, not mismatches)";
    FER_FAIL(os.str());
  }

  for (auto& [name, t] : to_load) {
    if (file.entry(name).dtype == t.dtype()) {
      file.copy_to(name, t);
    } else {
      t.copy_from(file.at(name).to_dtype(t.dtype()));
    }
  }
}

LoadReport load_matching(const std::string& path, Module& model) {
  const safetensors::File file = safetensors::File::load(path);
  check_version(file.metadata(), path);
  const std::set<std::string> extras = extra_names(file);
  auto loadable = [&](const safetensors::File::Entry& e, const Tensor& t) {
    return e.shape == t.shape() && (e.dtype == t.dtype() || (is_floating(e.dtype) && is_floating(t.dtype())));
  };
  LoadReport r;
  std::map<std::string, Tensor> model_tensors;
  std::vector<std::string> model_names;  // in state_dict order
  std::vector<std::pair<std::string, Tensor>> to_load;
  for (auto& [name, t] : state_dict(model)) {
    model_tensors.emplace(name, t);
    model_names.push_back(name);
    ++r.model_tensors;
    r.model_values += t.numel();
    if (file.contains(name) && loadable(file.entry(name), t)) {
      to_load.emplace_back(name, t);
      ++r.loaded_tensors;
      r.loaded_values += t.numel();
    } else {
      r.kept.push_back(name);
    }
  }
  for (const auto& name : file.names()) {
    if (extras.count(name)) continue;
    const safetensors::File::Entry& e = file.entry(name);
    auto it = model_tensors.find(name);
    if (it != model_tensors.end() && loadable(e, it->second)) continue;
    std::ostringstream why;
    why << name << " " << shape_str(e.shape);
    if (it == model_tensors.end())
      why << " (not in the model)";
    else if (e.shape != it->second.shape())
      why << " (model " << shape_str(it->second.shape()) << ")";
    else
      why << " (" << dtype_name(e.dtype) << ", model " << dtype_name(it->second.dtype()) << ")";
    r.unused.push_back(why.str());
  }
  // what counts is a floating tensor of more than one value: num_batches_tracked ([] int64) matches
  // at any width and would otherwise make a file of other shapes look loaded
  // matches; and a file whose weights are for another width may still match a head bias: under 5% of
  // the model's values (a backbone of ImageNet weights is 15% of the RMN, 80% of ResNet18) is no match
  int64_t weights = 0, scalars = 0, weight_values = 0;
  for (const auto& [name, t] : to_load) {
    const bool weight = is_floating(t.dtype()) && t.numel() > 1;
    (weight ? weights : scalars) += 1;
    if (weight) weight_values += t.numel();
  }
  if (weights == 0 || weight_values * 20 < r.model_values) {
    auto first = [](const std::vector<std::string>& v) {
      std::ostringstream f;
      for (size_t i = 0; i < v.size() && i < 4; ++i) f << (i ? ", " : "") << v[i];
      if (v.size() > 4) f << ", ...";
      return f.str();
    };
    FER_FAIL("load_matching: '" << path << "': none of its " << file.names().size()
                                << " tensors matches a weight of the model by name and shape"
                                << (weights > 0 ? " (" + std::to_string(weights) + " match, " +
                                                      std::to_string(weight_values) + " of the model's " +
                                                      std::to_string(r.model_values) + " values: under 5%)"
                                    : scalars > 0 ? " (only " + std::to_string(scalars) + " scalar counters such as "
                                                                                         "num_batches_tracked do)"
                                                  : std::string())
                                << "; the file has " << first(file.names()) << ", the model " << first(model_names)
                                << "; hint: weights of another architecture or --width, or names with a prefix such "
                                   "as 'module.' that the model's names lack");
  }
  for (auto& [name, t] : to_load) {
    if (file.entry(name).dtype == t.dtype()) {
      file.copy_to(name, t);
    } else {
      t.copy_from(file.at(name).to_dtype(t.dtype()));
    }
  }
  return r;
}

std::map<std::string, std::string> read_checkpoint_metadata(const std::string& path) {
  return safetensors::read_metadata(path);
}

}  // namespace fer::nn
