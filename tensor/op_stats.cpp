// tensor/op_stats.cpp: see op_stats.h.
#include "tensor/op_stats.h"

namespace fer {

namespace {
thread_local MacCounter* t_counter = nullptr;
}  // namespace

MacCounter::MacCounter() : previous_(t_counter) { t_counter = this; }
MacCounter::~MacCounter() { t_counter = previous_; }

void count_macs(int64_t macs) {
  for (MacCounter* c = t_counter; c != nullptr; c = c->previous_) c->macs_ += macs;
}

void count_bytes(int64_t bytes) {
  for (MacCounter* c = t_counter; c != nullptr; c = c->previous_) c->bytes_ += bytes;
}

bool op_counting_active() { return t_counter != nullptr; }

}  // namespace fer
