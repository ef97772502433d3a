// tools/common/run_state.cpp: see run_state.h.
#include "tools/common/run_state.h"

#include <array>
#include <iomanip>
#include <sstream>
#include <vector>

#include "nn/checkpoint.h"
#include "nn/safetensors.h"

namespace fer::tools {

namespace fs = std::filesystem;
using nlohmann::json;

std::string exact_text(double v) {
  std::ostringstream s;
  s << std::setprecision(17) << v;
  return s.str();
}

std::map<std::string, std::string> checkpoint_metadata(const TrainConfig& c, const data::ClassSet& classes,
                                                       const RunState& s) {
  std::map<std::string, std::string> m;
  m["fer.model"] = c.model;
  m["fer.config"] = to_json(c).dump();
  m["fer.classes"] = json(classes.names).dump();
  m["fer.class_set"] = classes.id;
  m["fer.epoch"] = std::to_string(s.epoch);
  m["fer.step"] = std::to_string(s.step);
  m["fer.partial"] = json{{"loss_sum", exact_text(s.partial.loss_sum)},
                          {"correct", s.partial.correct},
                          {"seen", s.partial.seen},
                          {"seconds", s.partial.seconds}}
                         .dump();
  m["fer.best_val_acc"] = exact_text(s.best_val_acc);
  m["fer.best_val_loss"] = exact_text(s.best_val_loss);
  m["fer.best_epoch"] = std::to_string(s.best_epoch);
  m["fer.scheduler"] = s.scheduler.dump();
  m["fer.early_stop"] = s.early_stop.dump();
  if (!s.data_plan.empty()) m["fer.data_plan"] = s.data_plan;
  return m;
}

void save_last(const fs::path& dir, const TrainConfig& c, const data::ClassSet& classes, const RunState& s,
               nn::Module& model, nn::Optimizer& opt, const Generator& gen) {
  std::vector<nn::safetensors::TensorRef> optim_state;
  for (auto& [name, t] : opt.state_tensors()) optim_state.push_back({name, t});
  const auto pos = gen.state();
  std::vector<int64_t> positions(pos.begin(), pos.end());
  positions.push_back(static_cast<int64_t>(gen.seed()));
  optim_state.push_back({"fer.rng", Tensor::from_vector(positions, {static_cast<int64_t>(positions.size())})});
  // Two files cannot be replaced in one atomic step, so the new optimizer state goes to
  // last.optim.next.safetensors first, then last.safetensors (the file that names the step), then
  // the next file is renamed over last.optim.safetensors. Killed anywhere in between, one of the two
  // optimizer files matches last.safetensors's step and load_last picks that one.
  const fs::path next = dir / "last.optim.next.safetensors";
  nn::safetensors::save(next.string(), optim_state,
                        {{"fer.epoch", std::to_string(s.epoch)}, {"fer.step", std::to_string(s.step)}});
  nn::save_state_dict((dir / "last.safetensors").string(), model, checkpoint_metadata(c, classes, s));
  fs::rename(next, dir / "last.optim.safetensors");
}

RunState load_last(const fs::path& dir, nn::Module& model, nn::Optimizer& opt, Generator& gen) {
  const fs::path last = dir / "last.safetensors", last_optim = dir / "last.optim.safetensors";
  const fs::path next = dir / "last.optim.next.safetensors";
  // A run killed during its very first save may hold last.safetensors and only the next file.
  FER_CHECK(fs::exists(last) && (fs::exists(last_optim) || fs::exists(next)),
            "--resume " << dir.string() << ": no last.safetensors + last.optim.safetensors there; hint: "
                        << "point --resume at the run folder a previous fertrain wrote");
  nn::load_state_dict(last.string(), model, true);
  const auto meta = nn::read_checkpoint_metadata(last.string());
  // The optimizer file of the same step: last.optim.safetensors, or, when save_last was killed
  // after writing last.safetensors, last.optim.next.safetensors (see save_last).
  const auto same_step = [&](const nn::safetensors::File& f) {
    return f.metadata().count("fer.epoch") && f.metadata().count("fer.step") && meta.count("fer.epoch") &&
           meta.count("fer.step") && f.metadata().at("fer.epoch") == meta.at("fer.epoch") &&
           f.metadata().at("fer.step") == meta.at("fer.step");
  };
  fs::path read = fs::exists(last_optim) ? last_optim : next;
  auto file = nn::safetensors::File::load(read.string());
  if (!same_step(file) && read == last_optim && fs::exists(next)) {
    auto f = nn::safetensors::File::load(next.string());
    if (same_step(f)) file = std::move(f), read = next;
  }
  FER_CHECK(same_step(file), "--resume " << dir.string() << ": last.safetensors and " << read.filename().string()
                                         << " are from different steps; cannot resume exactly");
  if (read == next) {
    // Finish the save that was cut off, so that the next save (which first overwrites the next file)
    // cannot leave last.safetensors without its optimizer state when it is killed too.
    fs::rename(next, last_optim);
    read = last_optim;
  }
  std::vector<std::pair<std::string, Tensor>> state;  // in the optimizer's own order
  for (const auto& [name, unused] : opt.state_tensors()) {
    FER_CHECK(file.contains(name), "--resume: " << read.string() << " lacks optimizer state '" << name
                                                << "'; hint: was the run made with another --optimizer?");
    state.emplace_back(name, file.at(name));
  }
  opt.load_state(state);
  const auto positions = file.at("fer.rng").to_vector<int64_t>();
  FER_CHECK(positions.size() == kRngStreams + 1, "--resume: fer.rng has " << positions.size() << " entries");
  std::array<uint64_t, kRngStreams> pos{};
  for (size_t i = 0; i < kRngStreams; ++i) pos[i] = static_cast<uint64_t>(positions[i]);
  gen.set_state(static_cast<uint64_t>(positions[kRngStreams]), pos);

  auto get = [&](const char* key) -> const std::string& {
    auto it = meta.find(key);
    FER_CHECK(it != meta.end(), "--resume: " << last.string() << " lacks metadata '" << key << "'");
    return it->second;
  };
  RunState s;
  s.epoch = std::stoll(get("fer.epoch"));
  s.step = std::stoll(get("fer.step"));
  const json partial = json::parse(get("fer.partial"));
  s.partial.loss_sum = std::stod(partial.at("loss_sum").get<std::string>());
  s.partial.correct = partial.at("correct").get<int64_t>();
  s.partial.seen = partial.at("seen").get<int64_t>();
  s.partial.seconds = partial.at("seconds").get<double>();
  s.best_val_acc = std::stod(get("fer.best_val_acc"));
  s.best_val_loss = std::stod(get("fer.best_val_loss"));
  s.best_epoch = std::stoll(get("fer.best_epoch"));
  s.scheduler = json::parse(get("fer.scheduler"));
  s.early_stop = json::parse(get("fer.early_stop"));
  if (const auto it = meta.find("fer.data_plan"); it != meta.end()) s.data_plan = it->second;
  return s;
}

}  // namespace fer::tools
