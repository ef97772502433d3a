// tools/common/progress.cpp: see progress.h.
#include "tools/common/progress.h"

#include <unistd.h>

#include <cmath>

namespace fer::tools {

std::string format_duration(double s) {
  char buf[64];
  if (s < 60) std::snprintf(buf, sizeof buf, "%.1f s", s);
  else if (s < 3600) std::snprintf(buf, sizeof buf, "%dm %02ds", int(s) / 60, int(s) % 60);
  else std::snprintf(buf, sizeof buf, "%dh %02dm", int(s) / 3600, (int(s) % 3600) / 60);
  return buf;
}

Progress::Progress(bool enabled, std::FILE* out) : out_(out), interactive_(enabled && isatty(fileno(out)) != 0) {}

void Progress::start_epoch(int64_t epoch, int64_t epochs, int64_t steps, int64_t first_step, int64_t images_before) {
  epoch_ = epoch;
  epochs_ = epochs;
  steps_ = steps;
  first_step_ = first_step;
  images_before_ = images_before;
  start_ = last_draw_ = std::chrono::steady_clock::now();
}

double Progress::elapsed() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

double Progress::done_fraction(int64_t step) const {
  const int64_t todo = steps_ - first_step_;
  return todo > 0 ? double(step - first_step_) / double(todo) : 1.0;
}

double Progress::images_per_second(int64_t images_done) const {
  const double e = elapsed();
  return e > 0 ? double(images_done - images_before_) / e : 0.0;
}

void Progress::step(int64_t step, double loss, double accuracy, int64_t images_done) {
  if (!interactive_) return;
  const auto now = std::chrono::steady_clock::now();
  if (step < steps_ && now - last_draw_ < std::chrono::milliseconds(100)) return;  // redraw at most 10x/s
  last_draw_ = now;
  const double done = done_fraction(step);
  const double eta = done > 0 ? elapsed() * (1.0 - done) / done : 0.0;
  const double frac = steps_ > 0 ? double(step) / double(steps_) : 1.0;  // the bar: the whole epoch
  constexpr int kWidth = 24;
  const int filled = static_cast<int>(std::lround(frac * kWidth));
  std::string bar(static_cast<size_t>(filled), '#');
  bar.resize(kWidth, '.');
  char acc[32] = "";  // a NaN accuracy (a reconstruction model has none) is left out
  if (std::isfinite(accuracy)) std::snprintf(acc, sizeof acc, "  acc %.2f%%", 100.0 * accuracy);
  std::fprintf(out_, "\r\033[Kepoch %lld/%lld [%s] %lld/%lld  loss %.4f%s  %.0f img/s  ETA %s",
               static_cast<long long>(epoch_), static_cast<long long>(epochs_), bar.c_str(),
               static_cast<long long>(step), static_cast<long long>(steps_), loss, acc,
               images_per_second(images_done), format_duration(eta).c_str());
  std::fflush(out_);
}

void Progress::log_line(int64_t step, double loss, double accuracy, int64_t images_done, int64_t epochs_after) {
  const double done = done_fraction(step), seconds = elapsed();
  const double epoch_eta = done > 0 ? seconds * (1.0 - done) / done : 0.0;
  // a whole epoch at this pace: the seconds per step so far times the epoch's steps
  const double per_epoch = step > first_step_ ? seconds / double(step - first_step_) * double(steps_) : 0.0;
  const double run_eta = epoch_eta + per_epoch * double(epochs_after);
  char acc[32] = "";
  if (std::isfinite(accuracy)) std::snprintf(acc, sizeof acc, " acc %.2f%%", 100.0 * accuracy);
  std::fprintf(out_, "  epoch %lld/%lld step %lld/%lld  loss %.4f%s  %.0f img/s  ETA epoch %s, run %s\n",
               static_cast<long long>(epoch_), static_cast<long long>(epochs_), static_cast<long long>(step),
               static_cast<long long>(steps_), loss, acc, images_per_second(images_done),
               format_duration(epoch_eta).c_str(), format_duration(run_eta).c_str());
  std::fflush(out_);
}

void Progress::end_epoch() {
  if (!interactive_) return;
  std::fprintf(out_, "\r\033[K");
  std::fflush(out_);
}

}  // namespace fer::tools
